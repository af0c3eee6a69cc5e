"""Transform and Trainer plumbing for the small CSV models (linear, classifier, dnn).

The registry's spec reaches these functions through custom_config (features, label, task), so
feature names live in one place; each model folder only builds its Keras network.
"""
from __future__ import annotations

from typing import Any, Callable, Dict, Mapping, Optional

import keras
import tensorflow as tf
import tensorflow_transform as tft
from tfx.components.trainer.fn_args_utils import FnArgs

from models.common import export, training
from models.common.features import transformed_name

# (inputs by name, the inputs concatenated, number of classes or None) -> compiled model
ModelBuilder = Callable[[Dict[str, keras.KerasTensor], keras.KerasTensor, Optional[int]],
                        keras.Model]


def preprocessing_fn(inputs: Mapping[str, tf.Tensor],
                     custom_config: Mapping[str, Any]) -> Dict[str, tf.Tensor]:
  """Features as float32; a class label becomes an id from a vocabulary Transform learns over
  the data (it is stored with the transform graph and embedded in the served model)."""
  outputs = {transformed_name(f): tf.cast(inputs[f], tf.float32)
             for f in custom_config['features']}
  label = custom_config['label']
  if custom_config['task'] == 'classification':
    outputs[transformed_name(label)] = tft.compute_and_apply_vocabulary(
        inputs[label], vocab_filename=label)
  else:
    outputs[transformed_name(label)] = tf.cast(inputs[label], tf.float32)
  return outputs


def train_and_export(fn_args: FnArgs, build_model: ModelBuilder,
                     batch_size: int, seed: int) -> keras.Model:
  """Builds, trains for fn_args.train_steps, and exports to fn_args.serving_model_dir."""
  config = fn_args.custom_config
  training.seed_everything(seed)
  tf_transform_output = tft.TFTransformOutput(fn_args.transform_output)
  label = config['label']
  n_classes = (tf_transform_output.vocabulary_size_by_name(label)
               if config['task'] == 'classification' else None)

  inputs = {transformed_name(f): keras.Input(shape=(1,), name=transformed_name(f))
            for f in config['features']}
  values = list(inputs.values())
  stacked = values[0] if len(values) == 1 else keras.layers.Concatenate()(values)
  model = build_model(inputs, stacked, n_classes)

  train = training.dataset(fn_args, fn_args.train_files, tf_transform_output, label,
                           batch_size, seed)
  evaluation = training.dataset(fn_args, fn_args.eval_files, tf_transform_output, label,
                                batch_size, seed, shuffle=False)
  training.fit(model, fn_args, train, evaluation)
  export.save_serving_model(model, tf_transform_output, config, fn_args.serving_model_dir)
  return model
