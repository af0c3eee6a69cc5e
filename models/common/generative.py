"""The MNIST GANs (models/gan: noise -> digit image; models/cgan: noise + the digit wanted ->
its image): networks, adversarial training inside Keras' fit(), export, pictures, and the
evaluation the QualityEvaluator gates on.

Networks. The seed's: one hidden layer of 256 ReLU units in generator and discriminator, the
label one-hot and concatenated to both inputs (cgan), Adam 2e-4. Measured here (plain Keras,
judged by a reference MLP classifier), that cgan never learned the condition: after 35 epochs
the worst digit was drawn as itself in 18% of samples (the seed's "제대로 안나온다"). Ours:
  generator      noise 128 (+ one-hot digit, cgan; + one-hot latent code, gan) -> 256 -> 512
                 -> 784 sigmoid, LeakyReLU 0.2
  discriminator  784 -> 512 -> 256, LeakyReLU 0.2, dropout 0.3 -> one logit.
                 gan: two things, each of which alone was not enough (measured, judged as
                 below):
                 - it judges images in pairs (PacGAN, Lin et al. 2018): a generator that
                   draws few kinds of digit is easy to catch in a pair. Without it 1s were
                   48% of the samples and 6s 1%; with it the rarest digit reached 5%, but
                   only 46% of the samples were read with confidence (blurred digits);
                 - a categorical latent code (InfoGAN, Chen et al. 2016): the generator
                   also gets one-hot(argmax of the first 10 noise values), and a second head
                   of the discriminator (Q) is trained, with the generator, to read that code
                   back from the image, so the ten codes must draw ten clearly different
                   things. Alone (plain Keras), after 9 epochs 58% of the samples were 1s;
                 - both, plain Keras, 30 epochs: rarest digit 5.8%, 82% read with
                   confidence; in the pipeline, 40 epochs: 6.6% and 88% (the judge: the mlp
                   as shipped).
                 The code is a function of the noise, so the served model takes noise only.
                 cgan: the projection term <embedding(digit), features> is added to the logit
                 (Miyato & Koyama 2018), which conditions far more strongly than concatenating
                 the label, and an auxiliary classifier head (AC-GAN, Odena et al. 2017) learns
                 the digits of the real images; the generator is also trained to make that
                 head read the digit it was asked for (without it, 40 epochs left the worst
                 digit, 9, drawn as itself in 88% of samples)
  training       Adam 2e-4, beta1 0.5 for both; one-sided label smoothing (real = 0.9); the
                 non-saturating generator loss
  served         an exponential moving average of the generator's weights (decay 0.999 after
                 a warm-up): the raw generator jumps with every discriminator step, its
                 average draws cleaner, steadier digits (measured: see pipelines/registry.py)

Served (TF Serving): serving_default takes `noise` (float32 [N, 128], standard normal) and for
the cgan `digit` (int64 [N], 0-9) and returns `images` (float32 [N, 28, 28], pixel values
0-255, MNIST's light digit on dark, the unit every MNIST model here takes). `from_seed` takes
`seed` (int64 [N]) instead of noise and draws the noise in-graph (stateless, so one seed is
always the same picture): what a JSON client without a random generator sends.

Gated (evaluate_fn, called by the QualityEvaluator with the pipeline's reference classifier,
an MNIST MLP trained in the same pipeline on the same data):
  reference_accuracy   the judge's own accuracy on the real eval images (a judge that cannot
                       read digits would make every other number meaningless)
  cgan: min_digit_agreement  for each digit d, the share of SAMPLES_PER_DIGIT samples asked to
                       be d that the judge reads as d; the gate is on the worst digit
  gan:  min_digit_share      the share of samples the judge reads as each digit; the gate is
                       on the rarest digit (all ten present; uniform would be 0.1)
        confident_share      samples the judge reads with probability >= CONFIDENT
"""
from __future__ import annotations

from typing import Any, Callable, Dict, List, Mapping, Optional

import keras
import numpy as np
import tensorflow as tf
import tensorflow_transform as tft
from tfx.components.trainer.fn_args_utils import FnArgs

from components.infra_validator.session_loader import ServingSession
from models.common import export, images, pictures, training
from models.common.features import transformed_name

NOISE = 128
NUM_DIGITS = images.NUM_CLASSES
LEARNING_RATE = 2e-4
BETA_1 = 0.5
REAL_LABEL = 0.9
EMA_DECAY = 0.999
SLOPE = 0.2
DROPOUT = 0.3
BATCH_SIZE = 100
SAMPLES_PER_DIGIT = 1000  # evaluation: 10,000 samples in all
EVAL_NOISE_SEED = 20_181_021  # the evaluation's noise is the same for every model it judges
CONFIDENT = 0.9
PACK = 2  # gan: images per discriminator decision
CODES = 10  # gan: values of its categorical latent code
AUXILIARY_WEIGHT = 1.0  # weight of the digit (cgan) or code (gan) classification losses
FROM_SEED_SIGNATURE = 'from_seed'


@keras.saving.register_keras_serializable(package='tfzoo')
class LatentCode(keras.layers.Layer):
  """The gan's categorical code, read off its noise: one-hot of the largest of the first
  `codes` noise values. Uniform over the codes for standard normal noise, and a function of
  the noise alone, so the served model still takes only noise (InfoGAN's c, Chen et al. 2016,
  without a second input)."""

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


def build_generator(conditional: bool, name: str = 'generator') -> keras.Model:
  noise = keras.Input((NOISE,), name='noise')
  digit = keras.Input((), dtype='int32', name='digit')
  if conditional:
    h = keras.layers.Concatenate()(
        [noise, keras.layers.CategoryEncoding(NUM_DIGITS, output_mode='one_hot')(digit)])
  else:
    h = keras.layers.Concatenate()([noise, LatentCode(CODES)(noise)])
  for units in (256, 512):
    h = keras.layers.LeakyReLU(SLOPE)(keras.layers.Dense(units)(h))
  pixels = keras.layers.Dense(images.SIDE * images.SIDE, activation='sigmoid')(h)
  image = keras.layers.Reshape((images.SIDE, images.SIDE, 1), name='image')(pixels)
  return keras.Model([noise, digit], image, name=name)


class PackedDiscriminator(keras.Model):
  """The gan's discriminator. Each image goes through the same layers to its features; the
  real-or-generated logit is judged from the features of PACK images at once (PacGAN: a
  generator that draws few kinds of digit gives itself away in a pair far more easily than in
  one image), and a second head reads each image's latent code back (InfoGAN's Q).
  images [N, 28, 28, 1], N a multiple of PACK -> (logits [N / PACK], code logits [N, CODES])."""

  def __init__(self, **kwargs):
    super().__init__(**kwargs)
    self.features = keras.Sequential([keras.layers.Flatten()] + [
        layer for units in (512, 256) for layer in (
            keras.layers.Dense(units), keras.layers.LeakyReLU(SLOPE),
            keras.layers.Dropout(DROPOUT))], name='features')
    self.judge = keras.layers.Dense(1, name='judge')
    self.code_head = keras.Sequential([keras.layers.Dense(128), keras.layers.LeakyReLU(SLOPE),
                                       keras.layers.Dense(CODES)], name='code_head')
    self(tf.zeros([PACK, images.SIDE, images.SIDE, 1]))  # builds every weight

  def call(self, image, training=False):
    h = self.features(image, training=training)
    # Flattened per image first: Dense layers over [N / PACK, PACK, features] run as a
    # broadcast batch matmul: measured, a whole training step 10-20x slower on CPU.
    packed = tf.reshape(h, [-1, PACK * h.shape[-1]])
    return tf.reshape(self.judge(packed), [-1]), self.code_head(h)


def build_discriminator(conditional: bool) -> keras.Model:
  """Real or generated? The gan's: PackedDiscriminator. The cgan's judges one image and its
  digit, and also classifies the image (auxiliary classifier: its class logits)."""
  if not conditional:
    return PackedDiscriminator(name='discriminator')
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


def _bce(target: float, logits: tf.Tensor) -> tf.Tensor:
  return tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(
      tf.fill(tf.shape(logits), target), logits))


def _ce(digits: tf.Tensor, class_logits: tf.Tensor) -> tf.Tensor:
  return tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(digits, class_logits))


class GAN(keras.Model):
  """Generator + discriminator trained against each other by fit(): one discriminator and
  one generator step per batch of (real images, their digits). `averaged` is the generator
  that is exported. An unconditional GAN ignores the digits (its generator has no use for
  them), so one class serves both models."""

  def __init__(self, conditional: bool, **kwargs):
    super().__init__(**kwargs)
    self.conditional = conditional
    self.generator = build_generator(conditional)
    self.averaged = build_generator(conditional, name='averaged_generator')
    self.averaged.set_weights(self.generator.get_weights())
    self.discriminator = build_discriminator(conditional)
    self.d_loss = keras.metrics.Mean(name='d_loss')
    self.g_loss = keras.metrics.Mean(name='g_loss')
    self.d_real = keras.metrics.Mean(name='d_real_probability')
    self.d_fake = keras.metrics.Mean(name='d_fake_probability')

  def compile(self):  # pylint: disable=arguments-differ
    super().compile()
    self.d_optimizer = keras.optimizers.Adam(LEARNING_RATE, beta_1=BETA_1)
    self.g_optimizer = keras.optimizers.Adam(LEARNING_RATE, beta_1=BETA_1)

  @property
  def metrics(self):
    return [self.d_loss, self.g_loss, self.d_real, self.d_fake]

  def call(self, inputs, training=False):
    return self.averaged(inputs, training=training)

  def _discriminate(self, image, digits, training=True):
    """-> (real/fake logits, class logits: the cgan's digit, the gan's code, [N, classes]);
    the gan's images go in packs of PACK (one real/fake logit per pack)."""
    if self.conditional:
      return self.discriminator([image, digits], training=training)
    return self.discriminator(image, training=training)

  def train_step(self, data):
    features, digits = data
    real = features[transformed_name(images.IMAGE)]
    digits = tf.cast(tf.reshape(digits, [-1]), tf.int32)
    batch = tf.shape(real)[0]

    noise = tf.random.normal((batch, NOISE))
    with tf.GradientTape() as tape:
      fake = self.generator([noise, digits], training=True)
      real_logits, real_classes = self._discriminate(real, digits)
      fake_logits, fake_codes = self._discriminate(fake, digits)
      d_loss = _bce(REAL_LABEL, real_logits) + _bce(0.0, fake_logits)
      if self.conditional:  # the auxiliary classifier learns digits from real images only
        d_loss += AUXILIARY_WEIGHT * _ce(digits, real_classes)
      else:  # Q learns to read the code back from generated images
        d_loss += AUXILIARY_WEIGHT * _ce(latent_code(noise), fake_codes)
    weights = self.discriminator.trainable_weights
    self.d_optimizer.apply_gradients(zip(tape.gradient(d_loss, weights), weights))

    noise = tf.random.normal((batch, NOISE))
    with tf.GradientTape() as tape:
      fake_logits, fake_classes = self._discriminate(
          self.generator([noise, digits], training=True), digits)
      g_loss = _bce(1.0, fake_logits)
      # ... and the generator must draw what that head reads as the digit asked (cgan), or
      # as the code it was given (gan: each code must look different from the others)
      g_loss += AUXILIARY_WEIGHT * _ce(digits if self.conditional else latent_code(noise),
                                       fake_classes)
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


def export_model(generator: keras.Model, conditional: bool, export_dir: str) -> None:
  """serving_default: noise (+ digit) -> images; from_seed: seed (+ digit) -> images."""
  module = tf.Module()
  module.generator = generator
  noise_spec = tf.TensorSpec([None, NOISE], tf.float32, name='noise')
  digit_spec = tf.TensorSpec([None], tf.int64, name='digit')
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
    return tf.map_fn(lambda s: tf.random.stateless_normal([NOISE], tf.stack([s, 0])), seed,
                     fn_output_signature=tf.float32)

  if conditional:
    serve = tf.function(draw, input_signature=[noise_spec, digit_spec])
    from_seed = tf.function(lambda seed, digit: draw(seeded_noise(seed), digit),
                            input_signature=[seed_spec, digit_spec])
  else:
    serve = tf.function(lambda noise: draw(noise, None), input_signature=[noise_spec])
    from_seed = tf.function(lambda seed: draw(seeded_noise(seed), None),
                            input_signature=[seed_spec])
  export.save(module, export_dir, {
      'serving_default': serve.get_concrete_function(),
      FROM_SEED_SIGNATURE: from_seed.get_concrete_function(),
  })


def generate(session: ServingSession, conditional: bool, digits: np.ndarray,
             noise: np.ndarray) -> np.ndarray:
  """Calls serving_default of the export loaded as TF Serving loads it: [N, 28, 28] in [0, 1]."""
  inputs = {'noise': np.asarray(noise, np.float32)}
  if conditional:
    inputs['digit'] = np.asarray(digits, np.int64)
  return session.run('serving_default', **inputs)['images'] / 255.0


def evaluation_noise(count: int, seed: int = EVAL_NOISE_SEED) -> np.ndarray:
  return np.random.default_rng(seed).standard_normal((count, NOISE)).astype(np.float32)


def write_samples_picture(fn_args: FnArgs, conditional: bool,
                          title: str) -> str:
  """The seed's picture, drawn by the exported model through TF Serving's own loader: ten
  samples per row; for the cgan row d asks for digit d."""
  digits = np.repeat(np.arange(NUM_DIGITS), 10)
  with ServingSession(fn_args.serving_model_dir) as session:
    samples = generate(session, conditional, digits, evaluation_noise(len(digits), seed=0))
  labels = [str(d) for d in range(NUM_DIGITS)] if conditional else None
  png = pictures.grid_png(samples, columns=10, row_labels=labels, title=title)
  return pictures.write(fn_args.model_run_dir, 'samples', png)


def run_fn(fn_args: FnArgs, build_model: Callable[..., GAN], seed: int,
           title: str) -> None:
  """Builds (build_model()), trains for fn_args.train_steps,
  exports the averaged generator and draws the seed's picture with it."""
  training.seed_everything(seed)
  tf_transform_output = tft.TFTransformOutput(fn_args.transform_output)
  gan = build_model()
  conditional = gan.conditional
  train = images.dataset(fn_args, fn_args.train_files, tf_transform_output, BATCH_SIZE, seed,
                         shuffle=True)
  training.fit(gan, fn_args, train, evaluation=None)
  export_model(gan.averaged, conditional, fn_args.serving_model_dir)
  write_samples_picture(fn_args, conditional, title)


def _reference_accuracy(reference: ServingSession, examples: List[bytes]) -> float:
  """The reference classifier's accuracy on the real eval images (its serving_default reads
  the tf.Examples themselves, labels included)."""
  right = 0
  for start in range(0, len(examples), 1000):
    batch = np.array(examples[start:start + 1000], dtype=object)
    predicted = reference.run('serving_default', examples=batch)['class_ids']
    labels = tf.io.parse_example(batch, {images.LABEL: tf.io.FixedLenFeature([], tf.int64)})
    right += int(np.sum(predicted == labels[images.LABEL].numpy()))
  return right / len(examples)


def judge(reference: ServingSession, samples: np.ndarray) -> np.ndarray:
  """The reference classifier's probabilities for generated images in [0, 1] (through its
  serving_raw, which takes pixel values 0-255 as a client would send them)."""
  return np.concatenate([
      reference.run('serving_raw', images=(samples[i:i + 1000] * 255.0).astype(np.float32))[
          'probabilities'] for i in range(0, len(samples), 1000)])


def evaluate(model: ServingSession, examples: List[bytes], reference: Optional[ServingSession],
             conditional: bool) -> Dict[str, Any]:
  """The metrics described in the module docstring, on SAMPLES_PER_DIGIT * 10 samples drawn
  from fixed noise (every model, candidate or baseline, is judged on the same noise); model
  and reference are exports loaded as TF Serving loads them."""
  if reference is None:
    raise ValueError('the GAN evaluation needs the pipeline\'s reference classifier')
  digits = np.repeat(np.arange(NUM_DIGITS), SAMPLES_PER_DIGIT)
  samples = generate(model, conditional, digits, evaluation_noise(len(digits)))
  probabilities = judge(reference, samples)
  read_as = probabilities.argmax(axis=1)
  confidence = probabilities.max(axis=1)
  metrics = {
      'reference_accuracy': _reference_accuracy(reference, examples),
      'mean_confidence': float(confidence.mean()),
      'confident_share': float(np.mean(confidence >= CONFIDENT)),
  }
  if conditional:
    agreement = [float(np.mean(read_as[digits == d] == d)) for d in range(NUM_DIGITS)]
    metrics['min_digit_agreement'] = min(agreement)
    metrics.update({f'digit_{d}_agreement': a for d, a in enumerate(agreement)})
  else:
    shares = np.bincount(read_as, minlength=NUM_DIGITS) / len(read_as)
    metrics['min_digit_share'] = float(shares.min())
    metrics.update({f'digit_{d}_share': float(s) for d, s in enumerate(shares)})
  return {'metrics': metrics, 'samples': {}}


def evaluate_fn_for(conditional: bool):
  def evaluate_fn(model: ServingSession, examples: List[bytes],
                  custom_config: Mapping[str, Any],
                  reference: Optional[ServingSession] = None) -> Dict[str, Any]:
    del custom_config
    return evaluate(model, examples, reference, conditional)
  return evaluate_fn
