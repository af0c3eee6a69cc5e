"""The GANs' served generator: its export with two signatures, drawing through TF Serving's
loader, and the seed's picture of samples.

Served (TF Serving): serving_default takes `noise` (float32 [N, NOISE_SIZE], standard normal)
and, for a generator that takes one (the cgan), `digit` (int64 [N], 0-9); it returns `images`
(float32 [N, 28, 28], pixel values 0-255, MNIST's light digit on dark, the unit every MNIST
model here takes). FROM_SEED_SIGNATURE takes `seed` (int64 [N]) instead of noise and draws the
noise in the graph (stateless, so one seed is always the same picture): what a JSON client
without a random generator sends.
"""
from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf
from tfx.components.trainer.fn_args_utils import FnArgs

from components.infra_validator.session_loader import ServingSession
from models.common import export, images, pictures
from models.common.features import FROM_SEED_SIGNATURE, NOISE_SIZE

NUM_DIGITS = images.NUM_CLASSES
DIGIT = 'digit'  # the conditional generator's second input, as served
PICTURE_NOISE_SEED = 0


def export_generator(generator: keras.Model, export_dir: str, takes_digit: bool) -> None:
  """serving_default: noise (+ digit) -> images; from_seed: seed (+ digit) -> images.
  `generator` takes [noise, digits] either way; without takes_digit it is given zeros."""
  module = tf.Module()
  module.generator = generator
  noise_spec = tf.TensorSpec([None, NOISE_SIZE], tf.float32, name='noise')
  digit_spec = tf.TensorSpec([None], tf.int64, name=DIGIT)
  seed_spec = tf.TensorSpec([None], tf.int64, name='seed')

  def draw(noise, digit):
    if digit is None:
      digit = tf.zeros(tf.shape(noise)[:1], tf.int64)
    else:
      tf.debugging.assert_less(digit, tf.constant(NUM_DIGITS, tf.int64),
                               message='digit must be 0-9')
      tf.debugging.assert_non_negative(digit, message='digit must be 0-9')
    generated = module.generator([noise, tf.cast(digit, tf.int32)], training=False)
    return {'images': tf.reshape(generated * 255.0, [-1, images.SIDE, images.SIDE])}

  def seeded_noise(seed):
    return tf.map_fn(lambda s: tf.random.stateless_normal([NOISE_SIZE], tf.stack([s, 0])), seed,
                     fn_output_signature=tf.float32)

  if takes_digit:
    serve = export.serving_function(draw, noise_spec, digit_spec)
    from_seed = export.serving_function(lambda seed, digit: draw(seeded_noise(seed), digit),
                                        seed_spec, digit_spec)
  else:
    serve = export.serving_function(lambda noise: draw(noise, None), noise_spec)
    from_seed = export.serving_function(lambda seed: draw(seeded_noise(seed), None), seed_spec)
  export.save(module, export_dir, {
      'serving_default': serve.get_concrete_function(),
      FROM_SEED_SIGNATURE: from_seed.get_concrete_function(),
  })


def takes_digit(session: ServingSession) -> bool:
  """Whether the served generator draws the digit asked for (its serving_default has one)."""
  return DIGIT in session.input_specs('serving_default')


def generate(session: ServingSession, digits: np.ndarray, noise: np.ndarray) -> np.ndarray:
  """Calls serving_default of the export loaded as TF Serving loads it: [N, 28, 28] in [0, 1].
  digits: what each sample is asked to be, sent only to a generator that takes a digit."""
  inputs = {'noise': np.asarray(noise, np.float32)}
  if takes_digit(session):
    inputs[DIGIT] = np.asarray(digits, np.int64)
  return session.run('serving_default', **inputs)['images'] / 255.0


def fixed_noise(count: int, seed: int) -> np.ndarray:
  """Standard normal noise [count, NOISE_SIZE], the same for the same seed."""
  return np.random.default_rng(seed).standard_normal((count, NOISE_SIZE)).astype(np.float32)


def write_samples_picture(fn_args: FnArgs, title: str) -> str:
  """The seed's picture, drawn by the exported model through TF Serving's own loader: ten
  samples per row; for a generator that takes a digit, row d asks for digit d."""
  digits = np.repeat(np.arange(NUM_DIGITS), 10)
  with ServingSession(fn_args.serving_model_dir) as session:
    samples = generate(session, digits, fixed_noise(len(digits), PICTURE_NOISE_SEED))
    labels = [str(d) for d in range(NUM_DIGITS)] if takes_digit(session) else None
  png = pictures.grid_png(samples, columns=10, row_labels=labels, title=title)
  return pictures.write(fn_args.model_run_dir, 'samples', png)
