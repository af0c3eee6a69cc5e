"""End to end on real MNIST, in fast mode, for the generative models: TfdsExampleGen -> ... ->
QualityEvaluator -> Pusher for the autoencoder, and the cgan judged by its reference classifier.
The cnn's run (TFMA's Evaluator) is test_e2e_cnn's."""
from __future__ import annotations

import os
import re

import numpy as np
import pytest
import tensorflow as tf

from components.infra_validator.session_loader import ServingSession
from conftest import node_states, run_tfzoo, versions
from mnist_helpers import COMPONENTS, mnist_digits
from serving_helpers import every_signature, serialized_examples


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

  from pipelines.mlmd import metadata as mlmd_metadata, summary  # pylint: disable=g-import-not-at-top
  store = summary.open_store(mlmd_metadata.sqlite_config(metadata))
  run = summary.summarize(store, summary.run_contexts(store)[-1])
  [evaluation] = run.component('Evaluator').outputs['evaluation']
  assert evaluation.custom_properties['metric:mse'].double_value == pytest.approx(
      float(match.group(1)), rel=1e-4)
  assert evaluation.custom_properties['metric:images'].double_value == 1000  # test[:1000]
  assert run.pictures == [os.path.join(run.tensorboard_dir, 'pictures', 'reconstructions.png')]

  [version] = versions(os.path.join(home, 'serving', 'autoencoder_fast'))
  version_dir = os.path.join(home, 'serving', 'autoencoder_fast', version)
  images, _, rows = mnist_digits(tfds_data_dir, 'test[-100:]')
  pixels = images.astype(np.float32)
  with ServingSession(version_dir) as session:
    answers = every_signature(session, tf.saved_model.load(version_dir), {
        'serving_default': {'examples': serialized_examples(rows, ['image'])},
        'serving_raw': {'images': pixels},
        'transform_features': {'examples': serialized_examples(rows)},
    }, atol=1e-3)
  answer = answers['serving_raw']
  reconstruction = answer['reconstruction']
  assert reconstruction.shape == (100, 28, 28)
  assert 0 <= reconstruction.min() and reconstruction.max() <= 255
  errors = (((reconstruction - pixels) / 255.0) ** 2).mean(axis=(1, 2))
  np.testing.assert_allclose(answer['error'], errors, rtol=1e-4)
  np.testing.assert_allclose(answers['serving_default']['error'], errors, rtol=1e-4)
  assert errors.mean() < 0.03  # images the pipeline never evaluated on

  digit = str(tmp_path / 'digit.png')
  tf.io.write_file(digit, tf.io.encode_png(images[0][..., None]))
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
  from pipelines import registry  # pylint: disable=g-import-not-at-top
  from pipelines.mlmd import metadata as mlmd_metadata, summary  # pylint: disable=g-import-not-at-top
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

  store = summary.open_store(mlmd_metadata.sqlite_config(metadata))
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

  version_dir = os.path.join(serving, version)
  noise = np.random.default_rng(0).standard_normal((3, 128)).astype(np.float32)
  digits = np.array([7, 7, 2], np.int64)
  with ServingSession(version_dir) as session:
    answers = every_signature(session, tf.saved_model.load(version_dir), {
        'serving_default': {'noise': noise, 'digit': digits},
        'from_seed': {'seed': np.array([3, 3, 4], np.int64), 'digit': digits},
    }, atol=1e-3)
    with pytest.raises(Exception, match='digit must be 0-9'):
      session.run('serving_default', noise=noise[:1], digit=np.array([10], np.int64))
  seven = answers['from_seed']['images'][:2]
  for images in (answers['serving_default']['images'], answers['from_seed']['images']):
    assert images.shape == (3, 28, 28) and 0 <= images.min() and images.max() <= 255
  np.testing.assert_array_equal(seven[0], seven[1])
  out = str(tmp_path / 'seven.png')
  answer = run_tfzoo(project, home, 'predict', 'cgan_fast', 'digit=7,seed=3', '--local',
                     '--signature', 'seed', '--output', out)
  assert answer.returncode == 0, answer.stdout + answer.stderr
  assert 'cgan_fast [from_seed @ ' in answer.stdout, answer.stdout
  written = tf.io.decode_png(tf.io.read_file(out)).numpy()[..., 0]
  np.testing.assert_array_equal(written, np.clip(np.rint(seven[0]), 0, 255).astype(np.uint8))
  assert registry.fast_spec(registry.get_spec('cgan')).gates[0].bound == 0.9
