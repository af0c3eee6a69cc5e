"""The GANs' training (models/gan, models/cgan): a generator and a discriminator trained against
each other inside Keras' fit(), and the run_fn body that trains, exports and draws.

The networks are each model's own, called the same way:
  generator      [noise [N, NOISE_SIZE], digits [N]] -> images [N, 28, 28, 1] in [0, 1]
  discriminator  [images, digits] -> (real-or-generated logits, its second head's logits)
The gan's networks ignore the digits. What the second head reads, and so the two extra losses,
is each model's too: the hooks GAN takes.

Adam 2e-4, beta1 0.5 for both networks; one-sided label smoothing (real = 0.9); the
non-saturating generator loss. The served generator is an exponential moving average of the
generator's weights: the raw generator jumps with every discriminator step, its average draws
steadier digits (docs/gans.md).
"""
from __future__ import annotations

from typing import Callable

import keras
import tensorflow as tf
import tensorflow_transform as tft
from tfx.components.trainer.fn_args_utils import FnArgs

from models.common import drawing, images, training
from models.common.contract import BuildModel
from models.common.features import NOISE_SIZE, transformed_name

LEARNING_RATE = 2e-4
BETA_1 = 0.5
REAL_LABEL = 0.9
EMA_DECAY = 0.999
AUXILIARY_WEIGHT = 1.0  # weight of the second head's losses (the cgan's digit, the gan's code)

# (noise, digits, second-head logits on the real images, on the generated ones) -> the
# discriminator's extra loss.
DiscriminatorLoss = Callable[[tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor], tf.Tensor]
# (noise, digits, second-head logits on the generated images) -> the generator's extra loss.
GeneratorLoss = Callable[[tf.Tensor, tf.Tensor, tf.Tensor], tf.Tensor]


def real_or_generated(target: float, logits: tf.Tensor) -> tf.Tensor:
  """Binary cross-entropy of every logit against one target (real 1 or 0.9, generated 0)."""
  return tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(
      tf.fill(tf.shape(logits), target), logits))


def cross_entropy(ids: tf.Tensor, logits: tf.Tensor) -> tf.Tensor:
  """Softmax cross-entropy of class logits [N, classes] against int ids [N]: the second
  head's losses."""
  return tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(ids, logits))


class GAN(keras.Model):
  """Generator + discriminator trained against each other by fit(): one discriminator and
  one generator step per batch of (real images, their digits). `averaged` is the generator
  that is exported; calling the GAN calls it."""

  def __init__(self, build_generator: Callable[[str], keras.Model],
               build_discriminator: Callable[[], keras.Model],
               discriminator_loss: DiscriminatorLoss, generator_loss: GeneratorLoss,
               **kwargs):
    super().__init__(**kwargs)
    # Built in this order (generator, its average, discriminator): the seeded initial weights
    # depend on it.
    self.generator = build_generator('generator')
    self.averaged = build_generator('averaged_generator')
    self.averaged.set_weights(self.generator.get_weights())
    self.discriminator = build_discriminator()
    self.discriminator_loss = discriminator_loss
    self.generator_loss = generator_loss
    self.d_loss = keras.metrics.Mean(name='d_loss')
    self.g_loss = keras.metrics.Mean(name='g_loss')
    self.d_real = keras.metrics.Mean(name='d_real_probability')
    self.d_fake = keras.metrics.Mean(name='d_fake_probability')

  def compile(self):  # pylint: disable=arguments-differ
    super().compile()
    self.d_optimizer = keras.optimizers.Adam(LEARNING_RATE, beta_1=BETA_1)
    self.g_optimizer = keras.optimizers.Adam(LEARNING_RATE, beta_1=BETA_1)

  def build_optimizers(self):
    """Both optimizers' variables, for a checkpoint to restore (models/common/resume.py)."""
    for optimizer, network in ((self.d_optimizer, self.discriminator),
                               (self.g_optimizer, self.generator)):
      if not optimizer.built:
        optimizer.build(network.trainable_weights)

  @property
  def metrics(self):
    return [self.d_loss, self.g_loss, self.d_real, self.d_fake]

  def call(self, inputs, training=False):
    return self.averaged(inputs, training=training)

  def train_step(self, data):
    features, digits = data
    real = features[transformed_name(images.IMAGE)]
    digits = tf.cast(tf.reshape(digits, [-1]), tf.int32)
    batch = tf.shape(real)[0]

    noise = tf.random.normal((batch, NOISE_SIZE))
    with tf.GradientTape() as tape:
      fake = self.generator([noise, digits], training=True)
      real_logits, real_classes = self.discriminator([real, digits], training=True)
      fake_logits, fake_classes = self.discriminator([fake, digits], training=True)
      d_loss = real_or_generated(REAL_LABEL, real_logits) + real_or_generated(0.0, fake_logits)
      d_loss += AUXILIARY_WEIGHT * self.discriminator_loss(noise, digits, real_classes,
                                                           fake_classes)
    weights = self.discriminator.trainable_weights
    self.d_optimizer.apply_gradients(zip(tape.gradient(d_loss, weights), weights))

    noise = tf.random.normal((batch, NOISE_SIZE))
    with tf.GradientTape() as tape:
      fake_logits, fake_classes = self.discriminator(
          [self.generator([noise, digits], training=True), digits], training=True)
      g_loss = real_or_generated(1.0, fake_logits)
      g_loss += AUXILIARY_WEIGHT * self.generator_loss(noise, digits, fake_classes)
    weights = self.generator.trainable_weights
    self.g_optimizer.apply_gradients(zip(tape.gradient(g_loss, weights), weights))

    # Warm-up: early on the average spans the steps so far (decay (1+t)/(10+t)), not 1,000
    # steps of an untrained start; from about step 9,000 on it is EMA_DECAY.
    step = tf.cast(self.g_optimizer.iterations, tf.float32)
    decay = tf.minimum(EMA_DECAY, (1.0 + step) / (10.0 + step))
    for average, current in zip(self.averaged.weights, self.generator.weights):
      average.assign(decay * average + (1.0 - decay) * current)
    self.d_loss.update_state(d_loss)
    self.g_loss.update_state(g_loss)
    self.d_real.update_state(tf.reduce_mean(tf.sigmoid(real_logits)))
    self.d_fake.update_state(tf.reduce_mean(tf.sigmoid(fake_logits)))
    return {m.name: m.result() for m in self.metrics}


def train_and_export(fn_args: FnArgs, build_model: BuildModel, seed: int, takes_digit: bool,
                     title: str) -> GAN:
  """Builds, trains for fn_args.train_steps in batches of the spec's batch size, exports the
  averaged generator (drawing.export_generator) and draws the seed's picture with it."""
  training.seed_everything(seed)
  tf_transform_output = tft.TFTransformOutput(fn_args.transform_output)
  gan = build_model(tf_transform_output, fn_args.custom_config, fn_args.train_steps)
  train = images.dataset(fn_args, fn_args.train_files, tf_transform_output,
                         fn_args.custom_config['batch_size'], seed, shuffle=True)
  training.fit(gan, fn_args, train, evaluation=None)
  drawing.export_generator(gan.averaged, fn_args.serving_model_dir, takes_digit)
  drawing.write_samples_picture(fn_args, title)
  return gan
