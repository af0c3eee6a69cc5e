"""The GANs: adversarial steps, the averaged generator's export and its two signatures
through TF Serving's loader, the evaluation against a judge, the gan's latent code."""
from __future__ import annotations

import types

import keras
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_transform as tft

from components.infra_validator.session_loader import ServingLoadError, ServingSession
from model_helpers import build, module_of, read_mnist_rows, transform_output
from models.common import drawing, images, judging
from models.common.features import NOISE_SIZE, transformed_name
from pipelines import registry
from serving_helpers import every_signature, saved_keras_objects, serialized_examples


class _LinearJudge:
  """A stand-in reference classifier with a ServingSession's interface and the signatures the
  GAN evaluation calls: softmax of a fixed random linear map of the pixels (so the test can
  compute its answers itself)."""

  def __init__(self, seed: int = 0):
    self.weights = (np.random.default_rng(seed).normal(size=(784, 10)) / 300.0).astype(np.float32)

  def probabilities(self, pixels: np.ndarray) -> np.ndarray:  # pixels 0-255, [N, 28, 28]
    logits = np.reshape(pixels, [-1, 784]) @ self.weights
    exp = np.exp(logits - logits.max(axis=1, keepdims=True))
    return exp / exp.sum(axis=1, keepdims=True)

  def run(self, signature: str, **inputs: np.ndarray):
    # As strict as TF Serving's Session::Run: the declared inputs, of the declared dtypes.
    declared = {'serving_raw': ('images', np.float32), 'serving_default': ('examples', object)}
    name, dtype = declared.get(signature, (None, None))
    if name is None or set(inputs) != {name} or inputs[name].dtype != dtype:
      raise ServingLoadError('judge', f'takes {name} of {dtype}, got '
                                      f'{ {k: v.dtype for k, v in inputs.items()} }', signature)
    if signature == 'serving_raw':
      return {'probabilities': self.probabilities(inputs[name])}
    parsed = tf.io.parse_example(inputs[name], {'image': tf.io.FixedLenFeature([], tf.string)})
    pixels = images.decode_images(parsed['image']).numpy()[..., 0].astype(np.float32)
    return {'class_ids': self.probabilities(pixels).argmax(axis=1)}


@pytest.mark.parametrize('name', ['gan', 'cgan'])
def test_gan_trains_exports_and_is_judged(name, tmp_path, mnist_data):
  """Adversarial training steps move both networks; the export's two signatures, through TF
  Serving's loader as through tf.saved_model.load, draw what the in-memory averaged generator
  draws (one seed, one picture; a digit outside 0-9 is refused); evaluate_fn's metrics are
  what the judge says about the samples; the seed's sample grid is written."""
  spec = registry.get_spec(name)
  conditional = name == 'cgan'
  module = module_of(spec)
  tf_transform_output = tft.TFTransformOutput(transform_output(name))
  _, rows = read_mnist_rows(spec)
  raw = {'image': tf.constant([r['image'] for r in rows]),
         'label': tf.constant([r['label'] for r in rows], tf.int64)}
  transformed = tf_transform_output.transform_raw_features(raw)
  data = tf.data.Dataset.from_tensors(
      ({transformed_name('image'): transformed[transformed_name('image')]},
       transformed[transformed_name('label')])).repeat()

  keras.utils.set_random_seed(0)
  gan = build(spec, tf_transform_output)
  # Conditional: what the generator draws depends on the digit asked for.
  probe = judging.evaluation_noise(4)
  zeros, ones = (np.full(len(probe), d, np.int32) for d in (0, 1))
  draws_the_digit = not np.allclose(gan.generator([probe, zeros]), gan.generator([probe, ones]))
  assert draws_the_digit == conditional
  before = {'generator': gan.generator.get_weights(), 'averaged': gan.averaged.get_weights(),
            'discriminator': gan.discriminator.get_weights()}
  history = gan.fit(data, epochs=1, steps_per_epoch=5, verbose=0).history
  assert all(np.isfinite(history[k][-1]) for k in ('d_loss', 'g_loss')), history
  for part, weights in before.items():
    now = getattr(gan, part).get_weights()
    assert any(not np.allclose(a, b) for a, b in zip(weights, now)), part
  # The averaged generator moves by (1 - 0.999) of each step: it trails the generator.
  drift = [np.abs(a - g).max() for a, g in zip(gan.averaged.get_weights(),
                                                 gan.generator.get_weights())]
  assert max(drift) > 0

  export_dir = str(tmp_path / 'export')
  drawing.export_generator(gan.averaged, export_dir, takes_digit=conditional)
  loaded = tf.saved_model.load(export_dir)
  assert saved_keras_objects(export_dir) == []  # no Keras object saved as one (export.save)
  assert set(loaded.signatures) == {'serving_default', 'from_seed'}
  noise = judging.evaluation_noise(6)
  digits = np.array([0, 1, 2, 7, 8, 9])
  seeds, seeded_digits = np.array([5, 5, 6], np.int64), np.array([7, 7, 3], np.int64)
  conditions = {'digit': digits} if conditional else {}
  seeded_conditions = {'digit': seeded_digits} if conditional else {}
  session = ServingSession(export_dir)
  answers = every_signature(session, loaded, {
      'serving_default': dict(noise=noise, **conditions),
      'from_seed': dict(seed=seeds, **seeded_conditions),
  }, atol=1e-3)
  for answer in answers.values():
    assert answer['images'].ndim == 3 and answer['images'].shape[1:] == (28, 28)
    assert answer['images'].min() >= 0.0 and answer['images'].max() <= 255.0
  assert drawing.takes_digit(session) == conditional
  drawn = drawing.generate(session, digits, noise)
  assert drawn.shape == (6, 28, 28)
  np.testing.assert_allclose(drawn, gan.averaged([noise, digits])[..., 0].numpy(), atol=1e-5)
  np.testing.assert_allclose(answers['serving_default']['images'], drawn * 255.0, atol=1e-3)
  by_seed = answers['from_seed']['images']
  seed_noise = np.stack([tf.random.stateless_normal([NOISE_SIZE], [s, 0]).numpy()
                         for s in seeds])  # what from_seed draws in-graph
  np.testing.assert_allclose(
      by_seed, gan.averaged([seed_noise, seeded_digits])[..., 0].numpy() * 255.0, atol=1e-3)
  np.testing.assert_array_equal(by_seed[0], by_seed[1])
  assert np.abs(by_seed[0] - by_seed[2]).max() > 1.0
  if conditional:
    with pytest.raises(tf.errors.InvalidArgumentError, match='digit must be 0-9'):
      loaded.signatures['serving_default'](noise=tf.constant(noise[:1]),
                                           digit=tf.constant([10], tf.int64))
    with pytest.raises(ServingLoadError, match='digit must be 0-9'):
      session.run('serving_default', noise=noise[:1], digit=np.array([10], np.int64))
    with pytest.raises(ServingLoadError, match='digit must be 0-9'):
      session.run('from_seed', seed=seeds[:1], digit=np.array([-1], np.int64))

  judge = _LinearJudge()
  examples = list(serialized_examples(rows))
  metrics = module.evaluate_fn(session, examples, {}, reference=judge)['metrics']
  every = np.repeat(np.arange(10), judging.SAMPLES_PER_DIGIT)
  samples = drawing.generate(session, every, judging.evaluation_noise(len(every)))
  probabilities = judge.probabilities((samples * 255.0).astype(np.float32))
  read_as = probabilities.argmax(axis=1)
  pixels = (transformed[transformed_name('image')].numpy()[..., 0] * 255.0).astype(np.float32)
  truth = np.array([r['label'][0] for r in rows])
  assert metrics['reference_accuracy'] == pytest.approx(
      np.mean(judge.probabilities(pixels).argmax(axis=1) == truth))
  assert metrics['mean_confidence'] == pytest.approx(probabilities.max(axis=1).mean(), rel=1e-5)
  if conditional:
    agreement = [np.mean(read_as[every == d] == d) for d in range(10)]
    assert metrics['min_digit_agreement'] == pytest.approx(min(agreement))
    assert metrics['digit_3_agreement'] == pytest.approx(agreement[3])
  else:
    shares = np.bincount(read_as, minlength=10) / len(read_as)
    assert metrics['min_digit_share'] == pytest.approx(shares.min())
    assert sum(metrics[f'digit_{d}_share'] for d in range(10)) == pytest.approx(1.0)
  with pytest.raises(ValueError, match='reference classifier'):
    module.evaluate_fn(session, examples, {})
  session.close()

  fn_args = types.SimpleNamespace(serving_model_dir=export_dir,
                                  model_run_dir=str(tmp_path / 'run'))
  path = drawing.write_samples_picture(fn_args, title=name)
  assert path == str(tmp_path / 'run' / 'pictures' / 'samples.png')
  picture = tf.io.decode_png(tf.io.read_file(path))
  assert picture.shape[0] >= 500  # ten rows


def test_gan_latent_code_is_read_off_the_noise():
  """The gan's categorical code: one-hot of the largest of the first ten noise values, so
  standard normal noise gives each code ~10% of the samples; the generator takes it beside
  the noise, and the discriminator's second head reads one code per image of a pack."""
  from models.gan import networks  # pylint: disable=g-import-not-at-top
  noise = judging.evaluation_noise(10_000)
  codes = networks.latent_code(tf.constant(noise)).numpy()
  np.testing.assert_array_equal(codes, noise[:, :10].argmax(axis=1))
  np.testing.assert_array_equal(networks.LatentCode(10)(tf.constant(noise[:5])).numpy(),
                                np.eye(10)[codes[:5]])
  shares = np.bincount(codes, minlength=10) / len(codes)
  assert shares.min() > 0.09 and shares.max() < 0.11, shares

  generator = networks.build_generator('generator')
  first_dense = next(l for l in generator.layers if isinstance(l, keras.layers.Dense))
  assert first_dense.kernel.shape == (NOISE_SIZE + 10, 256)  # noise and its code

  discriminator = networks.build_discriminator()
  count = 3 * networks.PACK
  logits, code_logits = discriminator([tf.zeros([count, 28, 28, 1]), tf.zeros([count], tf.int32)])
  assert logits.shape == (3,) and code_logits.shape == (count, 10)
