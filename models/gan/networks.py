"""The gan's networks: a generator of noise and the latent code read off it, and a
discriminator that judges images in pairs and reads each one's code back.

  generator      noise 128 + one-hot latent code 10 -> 256 -> 512 -> 784 sigmoid, LeakyReLU 0.2
  discriminator  784 -> 512 -> 256, LeakyReLU 0.2, dropout 0.3, per image; one real-or-generated
                 logit per PACK images; a second head reads each image's code (InfoGAN's Q)

Pairs (PacGAN, Lin et al. 2018) because a generator that draws few kinds of digit is easy to
catch in a pair; the code (InfoGAN, Chen et al. 2016) because the ten codes must then draw ten
clearly different things. Each alone was not enough to draw every digit clearly; docs/gans.md
has the four designs and their figures. Both networks take [input, digits] as adversarial.GAN
calls them, and ignore the digits.
"""
from __future__ import annotations

import keras
import tensorflow as tf

from models.common import adversarial, images
from models.common.features import NOISE_SIZE

CODES = 10  # values of the categorical latent code
PACK = 2  # images per real-or-generated decision
SLOPE = 0.2
DROPOUT = 0.3


@keras.saving.register_keras_serializable(package='tfzoo')
class LatentCode(keras.layers.Layer):
  """The categorical code, read off the noise: one-hot of the largest of the first `codes`
  noise values. Uniform over the codes for standard normal noise, and a function of the noise
  alone, so the served model still takes only noise (InfoGAN's c without a second input)."""

  def __init__(self, codes: int, **kwargs):
    super().__init__(**kwargs)
    self.codes = codes

  def call(self, noise):
    return keras.ops.one_hot(keras.ops.argmax(noise[:, :self.codes], axis=1), self.codes)

  def get_config(self):
    return dict(super().get_config(), codes=self.codes)


def latent_code(noise: tf.Tensor) -> tf.Tensor:
  """The code LatentCode one-hot encodes, as ids: int32 [N]."""
  return tf.argmax(noise[:, :CODES], axis=1, output_type=tf.int32)


def build_generator(name: str) -> keras.Model:
  """[noise [N, NOISE_SIZE], digits [N] (unused)] -> images [N, 28, 28, 1] in [0, 1]."""
  noise = keras.Input((NOISE_SIZE,), name='noise')
  digit = keras.Input((), dtype='int32', name='digit')
  h = keras.layers.Concatenate()([noise, LatentCode(CODES)(noise)])
  for units in (256, 512):
    h = keras.layers.LeakyReLU(SLOPE)(keras.layers.Dense(units)(h))
  pixels = keras.layers.Dense(images.SIDE * images.SIDE, activation='sigmoid')(h)
  image = keras.layers.Reshape((images.SIDE, images.SIDE, 1), name='image')(pixels)
  return keras.Model([noise, digit], image, name=name)


class PackedDiscriminator(keras.Model):
  """Each image goes through the same layers to its features; the real-or-generated logit is
  judged from the features of PACK images at once, and a second head reads each image's code.
  [images [N, 28, 28, 1], digits (unused)], N a multiple of PACK
  -> (logits [N / PACK], code logits [N, CODES])."""

  def __init__(self, **kwargs):
    super().__init__(**kwargs)
    self.features = keras.Sequential([keras.layers.Flatten()] + [
        layer for units in (512, 256) for layer in (
            keras.layers.Dense(units), keras.layers.LeakyReLU(SLOPE),
            keras.layers.Dropout(DROPOUT))], name='features')
    self.judge = keras.layers.Dense(1, name='judge')
    self.code_head = keras.Sequential([keras.layers.Dense(128), keras.layers.LeakyReLU(SLOPE),
                                       keras.layers.Dense(CODES)], name='code_head')
    self([tf.zeros([PACK, images.SIDE, images.SIDE, 1]), tf.zeros([PACK], tf.int32)])

  def call(self, inputs, training=False):
    image, _ = inputs
    h = self.features(image, training=training)
    # Flattened per image first: Dense layers over [N / PACK, PACK, features] would run as a
    # broadcast batch matmul, many times slower on CPU (docs/gans.md).
    packed = tf.reshape(h, [-1, PACK * h.shape[-1]])
    return tf.reshape(self.judge(packed), [-1]), self.code_head(h)


def build_discriminator() -> PackedDiscriminator:
  return PackedDiscriminator(name='discriminator')


def discriminator_code_loss(noise: tf.Tensor, digits: tf.Tensor, real_codes: tf.Tensor,
                            fake_codes: tf.Tensor) -> tf.Tensor:
  """Q learns to read the code back from the generated images (real ones have none)."""
  del digits, real_codes
  return adversarial.cross_entropy(latent_code(noise), fake_codes)


def generator_code_loss(noise: tf.Tensor, digits: tf.Tensor,
                        fake_codes: tf.Tensor) -> tf.Tensor:
  """... and the generator must draw what Q reads as the code it was given."""
  del digits
  return adversarial.cross_entropy(latent_code(noise), fake_codes)
