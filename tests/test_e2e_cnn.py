"""End to end on real MNIST, in fast mode: the cnn from TfdsExampleGen through TFMA's Evaluator
and TF Serving's loader to a pushed model, its picture, `predict` on a digit saved as a PNG
file and the report's page; then `tfzoo score` on a folder of image files with that same run's
model (ImageExampleGen -> BulkInferrer), and the folders it refuses."""
from __future__ import annotations

import collections
import glob
import os
import re
from typing import Dict, Tuple

import numpy as np
import pytest
import tensorflow as tf

from components.infra_validator.session_loader import ServingSession
from models.common import training
from pipelines.mlmd import metadata, summary
from conftest import node_states, run_tfzoo, versions
from mnist_helpers import COMPONENTS, mnist_digits
from score_helpers import histogram, lineage, predictions_csv, read_csv, refused
from serving_helpers import every_signature, serialized_examples


@pytest.fixture(scope='module')
def cnn_run(project, tmp_path_factory, tfds_data_dir, mnist_manual_dir):
  """(the work directory, the finished process) of one `tfzoo run cnn --fast`."""
  home = str(tmp_path_factory.mktemp('cnn_home'))
  result = run_tfzoo(project, home, 'run', 'cnn', '--fast', '--tfds-manual-dir',
                     mnist_manual_dir, TFDS_DATA_DIR=tfds_data_dir)
  assert result.returncode == 0, result.stdout + result.stderr
  return home, result


@pytest.fixture(scope='module')
def cnn_home(cnn_run) -> str:
  return cnn_run[0]


def test_cnn_fast_pipeline_from_tfds_to_serving(project, cnn_run, tfds_data_dir, tmp_path):
  home, result = cnn_run
  states = node_states(os.path.join(home, 'metadata', 'cnn_fast.sqlite'))
  assert all(states[c] == 'executed' for c in COMPONENTS), states
  assert 'gate: >= 0.8' in result.stdout and 'blessed: yes' in result.stdout
  # A fast model never reaches the real model's serving directory.
  assert not os.path.exists(os.path.join(home, 'serving', 'cnn'))
  [version] = versions(os.path.join(home, 'serving', 'cnn_fast'))
  version_dir = os.path.join(home, 'serving', 'cnn_fast', version)
  pixels, labels, rows = mnist_digits(tfds_data_dir, 'test[-200:]')
  # Every signature through TF Serving's loader, answering as tf.saved_model.load does.
  with ServingSession(version_dir) as session:
    answers = every_signature(session, tf.saved_model.load(version_dir), {
        'serving_default': {'examples': serialized_examples(rows, ['image'])},
        'serving_raw': {'images': pixels.astype(np.float32)},
        'transform_features': {'examples': serialized_examples(rows)},
    }, atol=1e-5)
  served, raw = answers['serving_default'], answers['serving_raw']
  np.testing.assert_allclose(served['probabilities'], raw['probabilities'], atol=1e-6)
  assert raw['probabilities'].shape == (200, 10)
  predicted = raw['class_ids']
  assert [c.decode() for c in raw['classes']] == [str(d) for d in predicted]
  assert (predicted == labels).mean() >= 0.8
  transformed = answers['transform_features']
  np.testing.assert_allclose(transformed['image_xf'][..., 0], pixels / 255.0, atol=1e-6)
  assert transformed['label_xf'].reshape(-1).tolist() == labels.tolist()

  # The seed's picture: 10 eval digits with the exported model's predictions.
  picture = os.path.join(home, 'pipelines', 'cnn_fast', 'Trainer', 'model_run')
  [png] = [line.split('picture: ', 1)[1] for line in result.stdout.splitlines()
           if 'picture: ' in line]
  assert png.startswith(picture) and png.endswith('pictures/predictions.png')
  assert tf.io.decode_png(tf.io.read_file(png)).shape[1] > 500
  # The ModelRun records the precision this machine's CPU chose (models/common/training.py).
  run = summary.latest_run(metadata.sqlite_config(os.path.join(home, 'metadata',
                                                               'cnn_fast.sqlite')))
  [model_run] = run.component('Trainer').outputs['model_run']
  assert (model_run.custom_properties['precision'].string_value
          == training.training_precision())

  # The client, as `make predict MODEL=cnn_fast INPUT=digit.png ARGS=--local` runs it, on a
  # test digit saved as an ordinary PNG file: same answer as the signature called directly.
  digit = str(tmp_path / 'digit.png')
  tf.io.write_file(digit, tf.io.encode_png(pixels[0][..., None]))
  expected = served['probabilities'][0]
  for signature in ('examples', 'raw'):
    answer = run_tfzoo(project, home, 'predict', 'cnn_fast', digit, '--local',
                       '--signature', signature)
    assert answer.returncode == 0, answer.stdout + answer.stderr
    best = int(expected.argmax())
    assert f': {best} (probability {expected[best]:.3f}' in answer.stdout, answer.stdout

  # The report's page, in a browser: the Evaluator's per-digit accuracy and confusion matrix
  # (as TFMA's own reader reads them), the label distribution, the Trainer's picture.
  check_report_page(project, home, 'cnn_fast')


def check_report_page(project: str, home: str, pipeline: str) -> None:
  import tensorflow_model_analysis as tfma  # pylint: disable=g-import-not-at-top
  import browser  # pylint: disable=g-import-not-at-top
  result = run_tfzoo(project, home, 'report', pipeline)
  assert result.returncode == 0, result.stdout + result.stderr
  page = os.path.join(home, 'reports', pipeline, 'index.html')
  [loaded] = browser.load_pages([page]).values()
  browser.assert_clean(loaded)
  assert len(loaded.images) == 1  # the Trainer's picture, inlined
  [evaluation] = glob.glob(os.path.join(home, 'pipelines', pipeline, 'Evaluator', 'evaluation',
                                        '*'))
  by_slice = {s: m['']['']for s, m in tfma.load_eval_result(evaluation).slicing_metrics}
  per_digit = {str(dict(s)['label']): m['sparse_categorical_accuracy']['doubleValue']
               for s, m in by_slice.items() if s}
  assert sorted(per_digit, key=int) == [str(d) for d in range(10)]
  shown = {label: float(text) for label, text in loaded.data['data-class']}
  assert shown == pytest.approx(per_digit, abs=5e-7)  # printed with 6 significant digits
  # The two gates: the overall accuracy and the worst digit's (the per-class gate).
  shown_gates = {key: float(v) for key, v in loaded.data['data-gate']}
  assert shown_gates == pytest.approx({
      'sparse_categorical_accuracy': by_slice[()]['sparse_categorical_accuracy']['doubleValue'],
      'sparse_categorical_accuracy per class': min(per_digit.values())}, abs=5e-7)
  assert {v: int(t) for v, t in loaded.data['data-rows']} == {'train': 2000, 'eval': 1000}
  html = open(page, encoding='utf-8').read()
  cells = [float(c) for c in re.findall(r'predicted [^:<]+: ([\d.]+)</title>', html)]
  assert len(cells) == 100 and sum(cells) == 1000  # every eval image in the matrix once


@pytest.fixture(scope='module')
def digits(tfds_data_dir, tmp_path_factory) -> Tuple[str, Dict[str, str]]:
  """Eight MNIST test digits as PNG files: (the folder, {file name: true label})."""
  from components.tfds_example_gen.executor import read_split  # pylint: disable=g-import-not-at-top
  folder = str(tmp_path_factory.mktemp('digits'))
  labels = {}
  for i, record in enumerate(read_split('mnist:3.0.1', tfds_data_dir, 'test[:8]')):
    feature = tf.train.Example.FromString(record).features.feature
    name = f'digit_{i}.png'
    with open(os.path.join(folder, name), 'wb') as f:
      f.write(feature['image'].bytes_list.value[0])
    labels[name] = str(feature['label'].int64_list.value[0])
  assert len(labels) == 8
  return folder, labels


def test_cnn_fast_scores_a_folder_of_images(project, cnn_home, digits):
  folder, labels = digits
  result = run_tfzoo(project, cnn_home, 'score', 'cnn_fast', folder)
  assert result.returncode == 0, result.stdout + result.stderr
  assert 'ImageExampleGen ...' in result.stdout and 'BulkInferrer ...' in result.stdout
  counts = histogram(result.stdout, 'images')
  assert counts.pop('') == 8 and sum(counts.values()) == 8
  predictions = read_csv(predictions_csv(result.stdout))
  assert [p['filename'] for p in predictions] == sorted(labels)
  right = sum(p['class'] == labels[p['filename']] for p in predictions)
  assert right >= 6, (predictions, labels)  # fast mode is gated at accuracy 0.8
  assert collections.Counter(p['class'] for p in predictions) == counts
  read, trained, _ = lineage(cnn_home, 'cnn_fast')
  assert read == trained


def test_bad_image_folders_are_refused(project, cnn_home, digits, tmp_path):
  folder, _ = digits
  mixed = tmp_path / 'mixed'
  mixed.mkdir()
  for name in sorted(os.listdir(folder))[:2]:
    (mixed / name).write_bytes(open(os.path.join(folder, name), 'rb').read())
  (mixed / 'notes.png').write_text('not a picture')
  line = refused(project, cnn_home, 4, 'cnn_fast', str(mixed))
  assert line.startswith(f'tfzoo: {mixed / "notes.png"}: not an image file'), line
  empty = tmp_path / 'empty'
  empty.mkdir()
  assert 'no image files' in refused(project, cnn_home, 4, 'cnn_fast', str(empty))
