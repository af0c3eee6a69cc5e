"""The cgan's networks: a generator of noise and the digit wanted, and a projection
discriminator with an auxiliary digit classifier.

  generator      noise 128 + one-hot digit 10 -> 256 -> 512 -> 784 sigmoid, LeakyReLU 0.2
  discriminator  784 -> 512 -> 256, LeakyReLU 0.2, dropout 0.3 -> one logit, plus the
                 projection <embedding(digit), features> (Miyato & Koyama 2018), which
                 conditions far more strongly than the seed's concatenated label; a second
                 head classifies the image's digit (AC-GAN, Odena et al. 2017)

The second head learns the real images' digits, and the generator is trained to make it read
the digit it was asked for: without it the worst digit stayed under the gate (docs/gans.md).
"""
from __future__ import annotations

import keras
import tensorflow as tf

from models.common import adversarial, images
from models.common.features import NOISE_SIZE

NUM_DIGITS = images.NUM_CLASSES
SLOPE = 0.2
DROPOUT = 0.3


def build_generator(name: str) -> keras.Model:
  """[noise [N, NOISE_SIZE], digits [N]] -> images [N, 28, 28, 1] in [0, 1] of those digits."""
  noise = keras.Input((NOISE_SIZE,), name='noise')
  digit = keras.Input((), dtype='int32', name='digit')
  h = keras.layers.Concatenate()(
      [noise, keras.layers.CategoryEncoding(NUM_DIGITS, output_mode='one_hot')(digit)])
  for units in (256, 512):
    h = keras.layers.LeakyReLU(SLOPE)(keras.layers.Dense(units)(h))
  pixels = keras.layers.Dense(images.SIDE * images.SIDE, activation='sigmoid')(h)
  image = keras.layers.Reshape((images.SIDE, images.SIDE, 1), name='image')(pixels)
  return keras.Model([noise, digit], image, name=name)


def build_discriminator() -> keras.Model:
  """[images [N, 28, 28, 1], digits [N]] -> (real-or-generated logits [N], digit logits
  [N, 10]): is this a real image of this digit, and which digit does it show?"""
  image = keras.Input((images.SIDE, images.SIDE, 1), name='image')
  h = keras.layers.Flatten()(image)
  for units in (512, 256):
    h = keras.layers.Dropout(DROPOUT)(keras.layers.LeakyReLU(SLOPE)(keras.layers.Dense(units)(h)))
  logit = keras.layers.Dense(1)(h)
  digit = keras.Input((), dtype='int32', name='digit')
  # projection: the digit's embedding . the image's features
  embedded = keras.layers.Embedding(NUM_DIGITS, 256)(digit)
  logit = keras.layers.Add()([logit, keras.layers.Dot(axes=1)([embedded, h])])
  class_logits = keras.layers.Dense(NUM_DIGITS, name='digit_logits')(h)
  return keras.Model([image, digit], [keras.layers.Reshape(())(logit), class_logits],
                     name='discriminator')


def discriminator_digit_loss(noise: tf.Tensor, digits: tf.Tensor, real_classes: tf.Tensor,
                             fake_classes: tf.Tensor) -> tf.Tensor:
  """The auxiliary classifier learns digits from the real images only."""
  del noise, fake_classes
  return adversarial.cross_entropy(digits, real_classes)


def generator_digit_loss(noise: tf.Tensor, digits: tf.Tensor,
                         fake_classes: tf.Tensor) -> tf.Tensor:
  """... and the generator must draw what it reads as the digit asked for."""
  del noise
  return adversarial.cross_entropy(digits, fake_classes)
