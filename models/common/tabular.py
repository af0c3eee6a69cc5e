"""Transform and Trainer plumbing for the small CSV models (linear, classifier, dnn), and the
Tuner's for the tunable ones (dnn, autocomplete).

The registry's spec reaches these functions through custom_config (features, label, task,
batch size), so feature names live in one place; each model folder only builds its network.
"""
from __future__ import annotations

from typing import Any, Dict, Mapping, Optional, Sequence, Tuple

import keras
import tensorflow as tf
import tensorflow_transform as tft
from tfx.components.trainer.fn_args_utils import FnArgs

from models.common import export, training, tuning
from models.common.contract import BuildModel
from models.common.features import transformed_name


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


def model_inputs(features: Sequence[str]
                 ) -> Tuple[Dict[str, keras.KerasTensor], keras.KerasTensor]:
  """One keras.Input [N, 1] per feature, named as Transform names it, and those inputs
  concatenated in the order given (a single feature: its input itself)."""
  inputs = {transformed_name(f): keras.Input(shape=(1,), name=transformed_name(f))
            for f in features}
  values = list(inputs.values())
  stacked = values[0] if len(values) == 1 else keras.layers.Concatenate()(values)
  return inputs, stacked


def class_count(tf_transform_output: tft.TFTransformOutput,
                config: Mapping[str, Any]) -> Optional[int]:
  """How many classes the label vocabulary Transform learned has; None for a regression."""
  if config['task'] != 'classification':
    return None
  return tf_transform_output.vocabulary_size_by_name(config['label'])


def train_and_export(fn_args: FnArgs, build_model: BuildModel, seed: int) -> keras.Model:
  """Builds, trains for fn_args.train_steps, and exports to fn_args.serving_model_dir."""
  config = tuning.trainer_config(fn_args)
  training.seed_everything(seed)
  tf_transform_output = tft.TFTransformOutput(fn_args.transform_output)
  model = build_model(tf_transform_output, config, fn_args.train_steps)
  label, batch_size = config['label'], config['batch_size']
  train = training.dataset(fn_args, fn_args.train_files, tf_transform_output, label,
                           batch_size, seed)
  evaluation = training.dataset(fn_args, fn_args.eval_files, tf_transform_output, label,
                                batch_size, seed, shuffle=False)
  training.fit(model, fn_args, train, evaluation)
  export.save_serving_model(model, tf_transform_output, config, fn_args.serving_model_dir)
  return model


def tuner_fn_result(fn_args: FnArgs, space: tuning.Space, build_model: BuildModel, seed: int):
  """tuner_fn of a small CSV model (dnn, autocomplete): each trial trains on the whole
  training split and is scored on it, as the seed evaluates (by loss: on the seed's rows every
  candidate may reach the gate's accuracy, and the loss still ranks them)."""
  config = fn_args.custom_config
  tf_transform_output = tft.TFTransformOutput(fn_args.transform_graph_path)

  def rows(shuffle: bool) -> tf.data.Dataset:
    return training.dataset(fn_args, fn_args.train_files, tf_transform_output, config['label'],
                            config['batch_size'], seed, shuffle=shuffle)

  return tuning.tuner_fn_result(
      fn_args, space, lambda trial_config, steps: build_model(tf_transform_output, trial_config,
                                                              steps),
      rows(True), rows(False), objective='val_loss', seed=seed)
