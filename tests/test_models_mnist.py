"""The MNIST classifiers and the autoencoder: build, a training step, export, every signature
through TF Serving's loader, their pictures and evaluate_fn; the Trainers' input pipeline."""
from __future__ import annotations

import types

import keras
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_transform as tft

from components.infra_validator.session_loader import ServingSession
from model_helpers import (MNIST_MODELS, build, examples_split, module_of, read_mnist_rows,
                           transform_output, transform_rows)
from models.common import export, images
from models.common.features import RAW_SIGNATURE, TRANSFORM_SIGNATURE, transformed_name
from pipelines import factory, registry
from serving_helpers import (assert_same_answers, every_signature, saved_keras_objects,
                             serialized_examples)


@pytest.mark.parametrize('name', MNIST_MODELS)
def test_mnist_model_build_train_step_and_export(name, tmp_path, mnist_data):
  """Every MNIST model, the recurrent one included, trains a step and exports a SavedModel
  whose every signature answers through TF Serving's loader as through tf.saved_model.load,
  the serving ones like the in-memory model, transform_features like Transform."""
  spec = registry.get_spec(name)
  tf_transform_output = tft.TFTransformOutput(transform_output(name))
  _, rows = read_mnist_rows(spec)
  raw = {'image': tf.constant([r['image'] for r in rows]),
         'label': tf.constant([r['label'] for r in rows], tf.int64)}
  transformed = tf_transform_output.transform_raw_features(raw)
  x = transformed[transformed_name('image')]
  y = transformed[transformed_name('label')]
  assert x.shape == (len(rows), 28, 28, 1) and float(tf.reduce_max(x)) <= 1.0

  keras.utils.set_random_seed(0)
  model = build(spec, tf_transform_output)
  before = [w.copy() for w in model.get_weights()]
  assert np.isfinite(model.train_on_batch(x, y, return_dict=True)['loss'])
  assert any(not np.allclose(a, b) for a, b in zip(before, model.get_weights()))

  export_dir = str(tmp_path / 'export')
  config = dict(factory.module_config(spec), class_names=[str(d) for d in range(10)])
  export.save_serving_model(model, tf_transform_output, config, export_dir,
                            raw_inputs=images.raw_image_inputs())
  loaded = tf.saved_model.load(export_dir)
  assert saved_keras_objects(export_dir) == []  # no Keras object saved as one (export.save)
  expected = model(x, training=False).numpy()
  examples = serialized_examples(rows)
  pixels = (x[..., 0] * 255.0).numpy()
  with ServingSession(export_dir) as session:
    answers = every_signature(session, loaded, {
        'serving_default': {'examples': serialized_examples(rows, ['image'])},
        RAW_SIGNATURE: {'images': pixels},
        TRANSFORM_SIGNATURE: {'examples': examples},
    }, atol=1e-5)
  by_example, by_pixels = answers['serving_default'], answers[RAW_SIGNATURE]
  np.testing.assert_allclose(by_example['probabilities'], expected, atol=1e-5)
  np.testing.assert_allclose(by_pixels['probabilities'], expected, atol=1e-5)
  digits = [str(d) for d in expected.argmax(axis=1)]
  assert [c.decode() for c in by_pixels['classes']] == digits
  assert [c.decode() for c in by_example['classes']] == digits
  assert_same_answers(answers[TRANSFORM_SIGNATURE], transform_rows(tf_transform_output, rows),
                      atol=1e-6)

  # The seed's picture, drawn from the exported model's answers on eval examples.
  eval_dir = tmp_path / 'Split-eval'
  eval_dir.mkdir()
  with tf.io.TFRecordWriter(str(eval_dir / 'data.gz'), options='GZIP') as writer:
    for serialized in examples:
      writer.write(serialized)
  fn_args = types.SimpleNamespace(eval_files=[str(eval_dir / '*')], serving_model_dir=export_dir,
                                  model_run_dir=str(tmp_path / 'run'))
  path = images.write_prediction_picture(fn_args, title=name)
  picture = tf.io.decode_png(tf.io.read_file(path))
  assert path == str(tmp_path / 'run' / 'pictures' / 'predictions.png')
  assert picture.shape[1] > 5 * picture.shape[0] / 2 and picture.shape[0] >= 80  # one row of 10
  summaries = [v for f in tf.io.gfile.glob(str(tmp_path / 'run' / 'pictures' / 'events.*'))
               for e in tf.compat.v1.train.summary_iterator(f) for v in e.summary.value]
  assert [v.tag for v in summaries] == ['predictions']
  assert tf.io.decode_png(tf.make_ndarray(summaries[0].tensor)[2]).shape == picture.shape


def test_the_gans_judge_keeps_the_seeds_weights_and_rate():
  """The three MLPs start from He-normal weights; the GANs' judge, the mlp module built
  with the judge's config (the spec's reference_config), from the seed's N(0, 0.01), and at
  the seed's Adam 1e-3 (decaying, no warm-up) where mlp rises to a 3e-3 peak
  (pipelines/registry.py: a change to the mlp pipeline must not move the GANs' gates)."""
  mlp = registry.get_spec('mlp')
  tf_transform_output = None  # MNIST's images need nothing learned from the data
  judge_config = dict(factory.module_config(mlp),
                      **dict(registry.get_spec('gan').reference_config))
  keras.utils.set_random_seed(0)
  judge = module_of(mlp).build_model(tf_transform_output, judge_config)
  spreads = {name: float(np.std(model.get_layer('layer1').kernel.numpy()))
             for name, model in [('judge', judge)] + [
                 (n, build(registry.get_spec(n), tf_transform_output))
                 for n in ('mlp', 'mlp_dropout', 'mlp_bn')]}
  assert spreads.pop('judge') == pytest.approx(0.01, rel=0.05)
  for spread in spreads.values():  # He-normal: sqrt(2 / fan-in), 784 pixels in
    assert spread == pytest.approx((2 / 784) ** 0.5, rel=0.05)
  steps = 1000
  judge = module_of(mlp).build_model(tf_transform_output, judge_config, steps)
  own = module_of(mlp).build_model(tf_transform_output, factory.module_config(mlp), steps)
  def rates(model):  # at the first step, the end of the warm-up, the last step
    schedule = model.optimizer._learning_rate  # pylint: disable=protected-access
    return [float(schedule(step)) for step in (0, steps // 5, steps - 1)]
  assert rates(judge)[0] == pytest.approx(1e-3) and rates(judge)[1] < 1e-3
  assert rates(own)[:2] == pytest.approx([3e-4, 3e-3])


def test_autoencoder_trains_exports_and_evaluates(tmp_path, mnist_data):
  """The autoencoder learns (its error falls), exports with every signature agreeing, through
  TF Serving's loader, with Keras and Transform on real MNIST, the evaluate_fn the
  QualityEvaluator gates on reports the error, and the seed's picture of digits over their
  reconstructions is written."""
  spec = registry.get_spec('autoencoder')
  module = module_of(spec)
  tf_transform_output = tft.TFTransformOutput(transform_output('autoencoder'))
  _, rows = read_mnist_rows(spec)
  raw = {'image': tf.constant([r['image'] for r in rows]),
         'label': tf.constant([r['label'] for r in rows], tf.int64)}
  x = tf_transform_output.transform_raw_features(raw)[transformed_name('image')]
  keras.utils.set_random_seed(0)
  model = build(spec, tf_transform_output)
  history = model.fit(x, x, batch_size=len(rows), epochs=30, verbose=0).history['loss']
  assert history[-1] < 0.5 * history[0], history

  export_dir = str(tmp_path / 'export')
  module.export_model(model, tf_transform_output, export_dir)
  loaded = tf.saved_model.load(export_dir)
  assert saved_keras_objects(export_dir) == []  # no Keras object saved as one (export.save)
  assert set(loaded.signatures) == {'serving_default', RAW_SIGNATURE, TRANSFORM_SIGNATURE}
  examples = serialized_examples(rows)
  with ServingSession(export_dir) as session:
    answers = every_signature(session, loaded, {
        'serving_default': {'examples': serialized_examples(rows, ['image'])},
        RAW_SIGNATURE: {'images': np.round(x.numpy()[..., 0] * 255.0)},
        TRANSFORM_SIGNATURE: {'examples': examples},
    }, atol=1e-3)
    result = module.evaluate_fn(session, list(examples), {})
  assert_same_answers(answers[TRANSFORM_SIGNATURE], transform_rows(tf_transform_output, rows),
                      atol=1e-6)
  by_example, by_pixels = answers['serving_default'], answers[RAW_SIGNATURE]
  expected = model(x, training=False).numpy()[..., 0]
  errors = ((expected - x.numpy()[..., 0]) ** 2).mean(axis=(1, 2))
  for answer in (by_example, by_pixels):
    assert answer['reconstruction'].shape == (len(rows), 28, 28)
    np.testing.assert_allclose(answer['reconstruction'], expected * 255.0, atol=1e-3)
    np.testing.assert_allclose(answer['error'], errors, rtol=1e-4)
  np.testing.assert_allclose(by_pixels['reconstruction'], by_example['reconstruction'],
                             atol=1e-3)

  assert result['metrics']['mse'] == pytest.approx(float(by_example['error'].mean()), rel=1e-5)
  assert result['metrics']['images'] == len(rows)
  assert 0.03 < result['metrics']['mean_image_mse'] < 0.12

  eval_dir = tmp_path / 'Split-eval'
  eval_dir.mkdir()
  with tf.io.TFRecordWriter(str(eval_dir / 'data.gz'), options='GZIP') as writer:
    for example in examples:
      writer.write(example)
  fn_args = types.SimpleNamespace(eval_files=[str(eval_dir / '*')], serving_model_dir=export_dir,
                                  model_run_dir=str(tmp_path / 'run'))
  path = module.write_reconstruction_picture(fn_args)
  assert path == str(tmp_path / 'run' / 'pictures' / 'reconstructions.png')
  assert tf.io.decode_png(tf.io.read_file(path)).shape[0] >= 150  # two rows


def test_image_input_pipeline_gives_every_example_each_epoch_reshuffled(tmp_path, mnist_data):
  """The MNIST Trainers' input (images.dataset): Transform's decoding of real examples read
  from a gzipped TFRecord file as TfdsExampleGen writes it; every epoch holds every example
  exactly once; shuffled, each epoch in a new order, the same for the same seed; unshuffled,
  the file's order every time."""
  _, rows = read_mnist_rows(registry.get_spec('mlp'), count=25)
  fn_args, files = examples_split(tmp_path, rows)
  tf_transform_output = tft.TFTransformOutput(transform_output('mlp'))
  labels = [r['label'][0] for r in rows]
  pixels = [tf.io.decode_png(r['image'][0]).numpy() / 255.0 for r in rows]

  def epochs(shuffle, seed=7, count=3):
    batches = iter(images.dataset(fn_args, files, tf_transform_output, 5, seed, shuffle))
    order = []
    for _ in range(count):
      epoch = [next(batches) for _ in range(5)]  # 25 examples in batches of 5
      images_seen = np.concatenate([b[0][transformed_name('image')].numpy() for b in epoch])
      labels_seen = np.concatenate([b[1].numpy() for b in epoch])
      # which example each image is (MNIST images are distinct)
      index = [next(i for i, p in enumerate(pixels) if np.allclose(p, image, atol=1e-6))
               for image in images_seen]
      assert sorted(index) == list(range(25))
      assert [labels[i] for i in index] == list(labels_seen)
      order.append(index)
    return order

  shuffled = epochs(shuffle=True)
  assert shuffled[0] != shuffled[1] != shuffled[2]
  assert epochs(shuffle=True) == shuffled
  assert epochs(shuffle=True, seed=8) != shuffled
  assert epochs(shuffle=False) == [list(range(25))] * 3
  # Without tf.data's autotuning, whose sleeping thread delayed deleting an iterator by up to a
  # minute at the end of training (training.without_autotuning).
  assert images.dataset(fn_args, files, tf_transform_output, 5, 7, True).options() \
      .autotune.enabled is False
