"""MNIST autoencoder (the seed's): 784 -> 256 -> 784, sigmoid both ways, mean squared error
between the image and its reconstruction, RMSProp 0.01, batch 100, 20 epochs.

Served: `reconstruction` (28x28 pixel values 0-255, the unit `serving_raw` takes) and `error`
(each image's mean squared error, pixels scaled to [0, 1]). Gated by the QualityEvaluator on
the mean `error` over the whole test split (evaluate_fn below; why the gate is where it is:
docs/models.md). The seed's picture (test digits over their reconstructions) is written per
run, beside the training logs and in TensorBoard.
"""
from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional

import keras
import numpy as np
import tensorflow as tf
import tensorflow_transform as tft
from tfx.components.trainer.fn_args_utils import FnArgs

from components.infra_validator.session_loader import ServingSession
from models.common import export, images, pictures, training
from models.common.features import RAW_SIGNATURE, TRANSFORM_SIGNATURE, transformed_name

HIDDEN = 256
LEARNING_RATE = 0.01
SEED = 42
EVAL_BATCH = 500


# Called by run_fn and the tests (the contract: models/common/contract.py).
def build_model(tf_transform_output: tft.TFTransformOutput, config: Mapping[str, Any],
                train_steps: Optional[int] = None) -> keras.Model:
  del tf_transform_output, config  # MNIST's images need nothing learned from the data
  del train_steps  # the seed's constant RMSProp rate reaches the gate
  pixels = images.SIDE * images.SIDE
  image = images.image_input()
  x = keras.layers.Flatten(name='flatten')(image)
  code = keras.layers.Dense(HIDDEN, activation='sigmoid', name='encoder')(x)
  decoded = keras.layers.Dense(pixels, activation='sigmoid', name='decoder')(code)
  reconstruction = keras.layers.Reshape((images.SIDE, images.SIDE, 1), name='image')(decoded)
  model = keras.Model(image, reconstruction, name='autoencoder')
  model.compile(optimizer=keras.optimizers.RMSprop(LEARNING_RATE), loss='mse')
  return model


# Called by Transform.
preprocessing_fn = images.preprocessing_fn


def export_model(model: keras.Model, tf_transform_output: tft.TFTransformOutput,
                 export_dir: str) -> None:
  """serving_default (tf.Example with the PNG `image`) and serving_raw (`images`, pixels
  0-255) -> reconstruction, error."""
  module = tf.Module()
  module.model = model
  module.tft_layer = tf_transform_output.transform_features_layer()
  raw_spec = tf_transform_output.raw_feature_spec()
  [raw_images], to_raw = images.raw_image_inputs()

  def reconstruct(raw: Dict[str, tf.Tensor]) -> Dict[str, tf.Tensor]:
    scaled = module.tft_layer(raw)[transformed_name(images.IMAGE)]
    reconstruction = module.model(scaled, training=False)
    return {
        'reconstruction': tf.reshape(reconstruction * 255.0, [-1, images.SIDE, images.SIDE]),
        'error': tf.reduce_mean(tf.square(reconstruction - scaled), axis=[1, 2, 3]),
    }

  def serve_examples(examples):
    return reconstruct(tf.io.parse_example(examples, {images.IMAGE: raw_spec[images.IMAGE]}))

  def serve_raw(pixels):
    return reconstruct(to_raw(pixels))

  export.save(module, export_dir, {
      'serving_default': export.serving_function(serve_examples,
                                                 export.EXAMPLES).get_concrete_function(),
      RAW_SIGNATURE: export.serving_function(serve_raw, raw_images).get_concrete_function(),
      TRANSFORM_SIGNATURE: export.transform_signature(module, raw_spec),
  })


def write_reconstruction_picture(fn_args: FnArgs, count: int = 10) -> str:
  """The seed's picture: the first `count` test digits over the exported model's
  reconstructions of them (serving_default called through TF Serving's own loader)."""
  examples = pictures.first_examples(fn_args.eval_files, count)
  with ServingSession(fn_args.serving_model_dir) as session:
    answer = session.run('serving_default', examples=examples)
  parsed = tf.io.parse_example(examples, {images.IMAGE: tf.io.FixedLenFeature([], tf.string)})
  originals = images.decode_images(parsed[images.IMAGE]).numpy()[..., 0] / 255.0
  reconstructions = answer['reconstruction'] / 255.0
  captions = [''] * count + [f'{e:.3f}' for e in answer['error']]
  png = pictures.grid_png(np.concatenate([originals, reconstructions]), captions=captions,
                          columns=count, row_labels=['test', 'rebuilt'],
                          title='autoencoder: test digits, and their reconstructions with '
                                'the squared error of each')
  return pictures.write(fn_args.model_run_dir, 'reconstructions', png)


# Called by Trainer.
def run_fn(fn_args: FnArgs) -> None:
  training.seed_everything(SEED)
  tf_transform_output = tft.TFTransformOutput(fn_args.transform_output)
  model = build_model(tf_transform_output, fn_args.custom_config, fn_args.train_steps)
  batch_size = fn_args.custom_config['batch_size']

  def pairs(files, shuffle):  # the image is its own target
    return images.dataset(fn_args, files, tf_transform_output, batch_size, SEED, shuffle).map(
        lambda features, _: (features, features[transformed_name(images.IMAGE)]))

  training.fit(model, fn_args, pairs(fn_args.train_files, True),
               pairs(fn_args.eval_files, False))
  export_model(model, tf_transform_output, fn_args.serving_model_dir)
  write_reconstruction_picture(fn_args)


# Called by the QualityEvaluator (components/quality_evaluator).
def evaluate_fn(model: ServingSession, examples: List[bytes], custom_config: Mapping[str, Any],
                reference: Optional[ServingSession] = None) -> Dict[str, Any]:
  """mse: the mean of the served `error` over every eval image (the gate), `model` being the
  export loaded as TF Serving loads it. For scale, also mean_image_mse: the error of answering
  every image with the split's average digit."""
  del custom_config, reference  # no judge: the error is measured against the images
  errors, originals = [], []
  for start in range(0, len(examples), EVAL_BATCH):
    batch = np.array(examples[start:start + EVAL_BATCH], dtype=object)
    errors.append(model.run('serving_default', examples=batch)['error'])
    parsed = tf.io.parse_example(batch, {images.IMAGE: tf.io.FixedLenFeature([], tf.string)})
    originals.append(images.decode_images(parsed[images.IMAGE]).numpy() / 255.0)
  pixels = np.concatenate(originals)
  mse = float(np.concatenate(errors).mean())
  mean_image_mse = float(np.mean((pixels - pixels.mean(axis=0)) ** 2))
  return {'metrics': {'mse': mse, 'mean_image_mse': mean_image_mse,
                      'images': float(len(pixels))}, 'samples': {}}
