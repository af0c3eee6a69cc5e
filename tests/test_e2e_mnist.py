"""End to end on real MNIST, in fast mode: TfdsExampleGen -> ... -> Pusher for the cnn (TFMA
Evaluator) and for the autoencoder (QualityEvaluator)."""
from __future__ import annotations

import os
import re

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

from conftest import node_states, run_tfzoo, versions

COMPONENTS = ['TfdsExampleGen', 'ImportSchemaGen', 'StatisticsGen', 'ExampleValidator',
              'Transform', 'Trainer', 'Evaluator', 'Pusher']


def test_cnn_fast_pipeline_from_tfds_to_serving(project, tmp_path, tfds_data_dir,
                                                mnist_manual_dir):
  home = str(tmp_path)
  result = run_tfzoo(project, home, 'run', 'cnn', '--fast', '--tfds-manual-dir',
                     mnist_manual_dir, TFDS_DATA_DIR=tfds_data_dir)
  assert result.returncode == 0, result.stdout + result.stderr
  states = node_states(os.path.join(home, 'metadata', 'cnn_fast.sqlite'))
  assert all(states[c] == 'executed' for c in COMPONENTS), states
  assert 'gate: >= 0.8' in result.stdout and 'blessed: yes' in result.stdout
  # A fast model never reaches the real model's serving directory.
  assert not os.path.exists(os.path.join(home, 'serving', 'cnn'))
  [version] = versions(os.path.join(home, 'serving', 'cnn_fast'))
  model = tf.saved_model.load(os.path.join(home, 'serving', 'cnn_fast', version))

  batch = next(iter(tfds.as_numpy(tfds.load('mnist:3.0.1', split='test[-200:]',
                                            data_dir=tfds_data_dir, batch_size=200))))
  pixels, labels = batch['image'][..., 0], batch['label']
  raw = model.signatures['serving_raw'](images=tf.constant(pixels, tf.float32))
  examples = [tf.train.Example(features=tf.train.Features(feature={
      'image': tf.train.Feature(bytes_list=tf.train.BytesList(
          value=[tf.io.encode_png(p[..., None]).numpy()]))})).SerializeToString()
      for p in pixels]
  served = model.signatures['serving_default'](examples=tf.constant(examples))
  np.testing.assert_allclose(served['probabilities'].numpy(), raw['probabilities'].numpy(),
                             atol=1e-6)
  assert raw['probabilities'].shape == (200, 10)
  predicted = raw['class_ids'].numpy()
  assert [c.decode() for c in raw['classes'].numpy()] == [str(d) for d in predicted]
  assert (predicted == labels).mean() >= 0.8

  # The seed's picture: 10 eval digits with the exported model's predictions.
  picture = os.path.join(home, 'pipelines', 'cnn_fast', 'Trainer', 'model_run')
  [png] = [line.split('picture: ', 1)[1] for line in result.stdout.splitlines()
           if 'picture: ' in line]
  assert png.startswith(picture) and png.endswith('pictures/predictions.png')
  assert tf.io.decode_png(tf.io.read_file(png)).shape[1] > 500

  # The client, as `make predict MODEL=cnn_fast INPUT=digit.png ARGS=--local` runs it, on a
  # test digit saved as an ordinary PNG file: same answer as the signature called directly.
  digit = str(tmp_path / 'digit.png')
  tf.io.write_file(digit, tf.io.encode_png(pixels[0][..., None]))
  expected = served['probabilities'].numpy()[0]
  for signature in ('examples', 'raw'):
    answer = run_tfzoo(project, home, 'predict', 'cnn_fast', digit, '--local',
                       '--signature', signature)
    assert answer.returncode == 0, answer.stdout + answer.stderr
    best = int(expected.argmax())
    assert f': {best} (probability {expected[best]:.3f}' in answer.stdout, answer.stdout


def test_autoencoder_fast_pipeline_is_gated_by_the_quality_evaluator(
    project, tmp_path, tfds_data_dir, mnist_manual_dir):
  """A generative pipeline end to end: TfdsExampleGen -> ... -> QualityEvaluator (mean squared
  reconstruction error on the eval split) -> Pusher, the picture, and the client."""
  home = str(tmp_path)
  result = run_tfzoo(project, home, 'run', 'autoencoder', '--fast', '--tfds-manual-dir',
                     mnist_manual_dir, TFDS_DATA_DIR=tfds_data_dir)
  assert result.returncode == 0, result.stdout + result.stderr
  metadata = os.path.join(home, 'metadata', 'autoencoder_fast.sqlite')
  states = node_states(metadata)
  assert all(states[c] == 'executed' for c in COMPONENTS), states
  match = re.search(r'metric mse = (\S+) +\(gate: <= 0.03\) passed', result.stdout)
  assert match and 0.005 < float(match.group(1)) < 0.03, result.stdout

  from pipelines import summary  # pylint: disable=g-import-not-at-top
  store = summary.open_store(metadata)
  run = summary.summarize(store, summary.run_contexts(store)[-1])
  [evaluation] = run.component('Evaluator').outputs['evaluation']
  assert evaluation.custom_properties['metric:mse'].double_value == pytest.approx(
      float(match.group(1)), rel=1e-4)
  assert evaluation.custom_properties['metric:images'].double_value == 1000  # test[:1000]
  assert run.pictures == [os.path.join(run.tensorboard_dir, 'pictures', 'reconstructions.png')]

  [version] = versions(os.path.join(home, 'serving', 'autoencoder_fast'))
  model = tf.saved_model.load(os.path.join(home, 'serving', 'autoencoder_fast', version))
  batch = next(iter(tfds.as_numpy(tfds.load('mnist:3.0.1', split='test[-100:]',
                                            data_dir=tfds_data_dir, batch_size=100))))
  pixels = batch['image'][..., 0].astype(np.float32)
  answer = model.signatures['serving_raw'](images=tf.constant(pixels))
  reconstruction = answer['reconstruction'].numpy()
  assert reconstruction.shape == (100, 28, 28)
  errors = (((reconstruction - pixels) / 255.0) ** 2).mean(axis=(1, 2))
  np.testing.assert_allclose(answer['error'].numpy(), errors, rtol=1e-4)
  assert errors.mean() < 0.03  # images the pipeline never evaluated on

  digit = str(tmp_path / 'digit.png')
  tf.io.write_file(digit, tf.io.encode_png(batch['image'][0]))
  out = str(tmp_path / 'rebuilt.png')
  answer = run_tfzoo(project, home, 'predict', 'autoencoder_fast', digit, '--local',
                     '--output', out)
  assert answer.returncode == 0, answer.stdout + answer.stderr
  assert f': reconstructed with mean squared error {errors[0]:.4f}' in answer.stdout, answer.stdout
  assert tf.io.decode_png(tf.io.read_file(out)).shape == (28, 28, 1)


def test_cgan_fast_pipeline_is_judged_by_its_reference_classifier(
    project, tmp_path, tfds_data_dir, mnist_manual_dir):
  """The cgan pipeline end to end with its judge: a ReferenceTrainer (the mlp) trained in the
  same run, handed to the QualityEvaluator. Fast mode keeps the real gate (every digit drawn
  as itself in >= 90% of samples), which 1,000 steps cannot reach: not blessed, nothing
  pushed, and why-not-blessed names the worst digit's agreement. The same run with the gate
  set to 0 reuses every trained model from cache, re-evaluates, blesses and pushes; the
  pushed model then draws a digit through both signatures and the client."""
  from pipelines import registry, summary  # pylint: disable=g-import-not-at-top
  home = str(tmp_path)
  metadata = os.path.join(home, 'metadata', 'cgan_fast.sqlite')
  serving = os.path.join(home, 'serving', 'cgan_fast')
  common = ('--tfds-manual-dir', mnist_manual_dir)
  result = run_tfzoo(project, home, 'run', 'cgan', '--fast', *common,
                     TFDS_DATA_DIR=tfds_data_dir)
  assert result.returncode == 3, result.stdout + result.stderr
  states = node_states(metadata)
  assert all(states[c] == 'executed' for c in COMPONENTS + ['ReferenceTrainer']), states
  match = re.search(r'metric min_digit_agreement = (\S+) +\(gate: >= 0.9\) FAILED', result.stdout)
  assert match and float(match.group(1)) < 0.9, result.stdout
  match = re.search(r'metric reference_accuracy = (\S+) +\(gate: >= 0.9\) passed', result.stdout)
  assert match and 0.9 <= float(match.group(1)) < 1.0, result.stdout
  assert not versions(serving)

  store = summary.open_store(metadata)
  run = summary.summarize(store, summary.run_contexts(store)[-1])
  [reference] = run.component('ReferenceTrainer').outputs['model']
  [evaluation] = run.component('Evaluator').outputs['evaluation']
  props = evaluation.custom_properties
  assert props['reference_model'].string_value == reference.uri
  assert props['metric:reference_accuracy'].double_value == pytest.approx(
      float(match.group(1)), rel=1e-4)
  agreement = [props[f'metric:digit_{d}_agreement'].double_value for d in range(10)]
  assert props['metric:min_digit_agreement'].double_value == pytest.approx(min(agreement))
  assert props['gate:min_digit_agreement'].string_value.startswith('>= 0.9: FAILED')
  # The model's own training logs, not the judge's, and the seed's picture: one row per digit.
  assert run.tensorboard_dir.startswith(os.path.join(home, 'pipelines', 'cgan_fast', 'Trainer'))
  assert run.pictures == [os.path.join(run.tensorboard_dir, 'pictures', 'samples.png')]
  assert tf.io.decode_png(tf.io.read_file(run.pictures[0])).shape[0] >= 500
  why = run_tfzoo(project, home, 'why-not-blessed', 'cgan_fast')
  assert re.search(r'min_digit_agreement = \S+, threshold >= 0.9: FAILED', why.stdout), why

  result = run_tfzoo(project, home, 'run', 'cgan', '--fast', '--gate', 'min_digit_agreement=0',
                     *common, TFDS_DATA_DIR=tfds_data_dir)
  assert result.returncode == 0, result.stdout + result.stderr
  states = node_states(metadata)
  assert states['Trainer'] == states['ReferenceTrainer'] == 'cached', states
  assert states['Evaluator'] == 'executed', states
  [version] = versions(serving)
  lineage = run_tfzoo(project, home, 'lineage', 'cgan_fast')
  assert re.search(r'ReferenceTrainer \(cached\)\n    model: Model #\d+ ' + re.escape(reference.uri),
                   lineage.stdout), lineage.stdout

  model = tf.saved_model.load(os.path.join(serving, version))
  seven = model.signatures['from_seed'](seed=tf.constant([3, 3], tf.int64),
                                        digit=tf.constant([7, 7], tf.int64))['images'].numpy()
  assert seven.shape == (2, 28, 28) and 0 <= seven.min() and seven.max() <= 255
  np.testing.assert_array_equal(seven[0], seven[1])
  out = str(tmp_path / 'seven.png')
  answer = run_tfzoo(project, home, 'predict', 'cgan_fast', 'digit=7,seed=3', '--local',
                     '--signature', 'seed', '--output', out)
  assert answer.returncode == 0, answer.stdout + answer.stderr
  assert 'cgan_fast [from_seed @ ' in answer.stdout, answer.stdout
  written = tf.io.decode_png(tf.io.read_file(out)).numpy()[..., 0]
  np.testing.assert_array_equal(written, np.clip(np.rint(seven[0]), 0, 255).astype(np.uint8))
  assert registry.fast_spec(registry.get_spec('cgan')).gates[0].bound == 0.9
