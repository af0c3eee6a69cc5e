"""End to end: `tfzoo score` — an ExampleGen on the user's input, then TFX's BulkInferrer on the
latest pushed model (imported as the Trainer's own artifact), then predictions.csv.

One training run per model: the classifier (rows of a CSV) and the cnn in fast mode (a folder of
image files); the refusals run nothing and need no run at all.
"""
from __future__ import annotations

import collections
import csv
import glob
import os
import re
from typing import Dict, List, Set, Tuple

from ml_metadata.proto import metadata_store_pb2
import pytest
import tensorflow as tf

from conftest import REPO, run_tfzoo


def _files(home: str) -> Set[str]:
  return set(glob.glob(os.path.join(home, '**'), recursive=True))


def _write_csv(path: str, header: List[str], rows: List[List[str]]) -> str:
  with open(path, 'w', newline='') as f:
    csv.writer(f).writerows([header] + rows)
  return path


def _read_csv(path: str) -> List[Dict[str, str]]:
  with open(path, newline='') as f:
    return list(csv.DictReader(f))


def _refused(project: str, home: str, code: int, *args: str) -> str:
  """Runs `tfzoo score ARGS`, which must fail with `code`, one line, and no file written."""
  before = _files(home)
  result = run_tfzoo(project, home, 'score', *args)
  assert result.returncode == code, result.stdout + result.stderr
  [line] = result.stderr.strip().splitlines()
  assert line.startswith('tfzoo: '), line
  assert _files(home) == before
  return line


def _histogram(stdout: str, noun: str) -> Dict[str, int]:
  [line] = [l for l in stdout.splitlines() if l.startswith('scored ')]
  match = re.fullmatch(rf'scored (\d+) {noun}: (.*)', line)
  assert match, line
  pairs = dict(p.split(': ') for p in match.group(2).split(', '))
  return {k: int(v) for k, v in pairs.items()} | {'': int(match.group(1))}


def _predictions_csv(stdout: str) -> str:
  [path] = [l.split('predictions: ', 1)[1] for l in stdout.splitlines()
            if l.startswith('predictions: ')]
  assert os.path.isfile(path), path
  return path


def _lineage(home: str, pipeline: str) -> Tuple[int, int, metadata_store_pb2.Artifact]:
  """(the model id BulkInferrer read in the latest score run, the model id the blessed run's
  Trainer wrote, the InferenceResult artifact), straight from ML Metadata."""
  from pipelines.mlmd import metadata, summary  # pylint: disable=g-import-not-at-top
  store = summary.open_store(metadata.sqlite_config(os.path.join(home, 'metadata', f'{pipeline}.sqlite')))
  node_type = store.get_context_type('node')
  [blessed] = [run for run in (summary.summarize(store, c, pipeline)
                               for c in summary.run_contexts(store, pipeline)) if run.blessed]
  [trained] = blessed.component('Trainer').outputs['model']
  score_run = summary.run_contexts(store, f'{pipeline}_score')[-1]
  [inferrer] = [e for e in store.get_executions_by_context(score_run.id)
                if summary.node_name(store, e.id, node_type.id) == 'BulkInferrer']
  assert inferrer.last_known_state == metadata_store_pb2.Execution.COMPLETE
  events = store.get_events_by_execution_ids([inferrer.id])
  [read] = [e.artifact_id for e in events if e.type == metadata_store_pb2.Event.INPUT
            and e.path.steps[0].key == 'model']
  [written] = [e.artifact_id for e in events if e.type == metadata_store_pb2.Event.OUTPUT]
  [result] = store.get_artifacts_by_id([written])
  return read, trained.id, result


def test_unscored_and_unknown_models_are_refused(project, tmp_path):
  home = str(tmp_path)
  for model in ('gan', 'cgan', 'autoencoder'):
    assert 'it is not scored' in _refused(project, home, 2, model, 'x')
  assert 'unknown MODEL' in _refused(project, home, 2, 'nosuch', 'x')


@pytest.fixture(scope='module')
def classifier_home(project, tmp_path_factory) -> str:
  home = str(tmp_path_factory.mktemp('classifier_home'))
  result = run_tfzoo(project, home, 'run', 'classifier')
  assert result.returncode == 0, result.stdout + result.stderr
  return home


@pytest.fixture(scope='module')
def animals() -> List[Dict[str, str]]:
  return _read_csv(os.path.join(REPO, 'data', 'animals.csv'))


def test_bad_csv_is_refused_before_anything_runs(project, classifier_home, animals, tmp_path):
  with_label = _write_csv(str(tmp_path / 'with_label.csv'), ['fur', 'wings', 'species'],
                          [[a['fur'], a['wings'], a['species']] for a in animals])
  line = _refused(project, classifier_home, 4, 'classifier', with_label)
  assert line == (f'tfzoo: {with_label}: unexpected column species; classifier scores rows of '
                  'exactly fur, wings (without the label species); nothing was scored')
  no_wings = _write_csv(str(tmp_path / 'no_wings.csv'), ['fur'], [[a['fur']] for a in animals])
  assert 'missing column wings' in _refused(project, classifier_home, 4, 'classifier', no_wings)
  half = _write_csv(str(tmp_path / 'half.csv'), ['fur', 'wings'], [['1', '0.5']])
  assert "column 'wings': '0.5' is not a whole number" in _refused(
      project, classifier_home, 4, 'classifier', half)
  # A model never pushed (dnn never ran here): exit 1, still nothing written.
  good = _write_csv(str(tmp_path / 'good.csv'), ['fur', 'wings'], [['1', '0']])
  assert 'no runs of dnn recorded' in _refused(project, classifier_home, 1, 'dnn', good)


def test_classifier_scores_every_row_in_order_with_lineage(project, classifier_home, animals,
                                                           tmp_path):
  rows = _write_csv(str(tmp_path / 'animals.csv'), ['fur', 'wings'],
                    [[a['fur'], a['wings']] for a in animals])
  result = run_tfzoo(project, classifier_home, 'score', 'classifier', rows)
  assert result.returncode == 0, result.stdout + result.stderr
  assert 'BulkInferrer ...' in result.stdout
  expected = collections.Counter(a['species'] for a in animals)
  assert _histogram(result.stdout, 'rows') == dict(expected) | {'': len(animals)}
  path = _predictions_csv(result.stdout)
  predictions = _read_csv(path)
  assert list(predictions[0]) == ['fur', 'wings', 'class', 'probability']
  assert [(p['fur'], p['wings'], p['class']) for p in predictions] == [
      (a['fur'], a['wings'], a['species']) for a in animals]
  assert all(0.5 < float(p['probability']) <= 1.0 for p in predictions)

  read, trained, inference = _lineage(classifier_home, 'classifier')
  assert read == trained  # the Importer handed BulkInferrer the Trainer's own artifact
  assert os.path.dirname(path) == inference.uri
  assert inference.custom_properties['predictions_csv'].string_value == path
  assert inference.custom_properties['predictions'].int_value == len(animals)
  # The model pipeline's own records are untouched: `runs` lists its one run only.
  runs = run_tfzoo(project, classifier_home, 'runs', 'classifier')
  assert len([l for l in runs.stdout.splitlines() if l.startswith('classifier  run ')]) == 1


@pytest.fixture(scope='module')
def cnn_home(project, tmp_path_factory, tfds_data_dir, mnist_manual_dir) -> str:
  home = str(tmp_path_factory.mktemp('cnn_home'))
  result = run_tfzoo(project, home, 'run', 'cnn', '--fast', TFZOO_TFDS_MANUAL_DIR=mnist_manual_dir,
                     TFDS_DATA_DIR=tfds_data_dir)
  assert result.returncode == 0, result.stdout + result.stderr
  return home


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
  histogram = _histogram(result.stdout, 'images')
  assert histogram.pop('') == 8 and sum(histogram.values()) == 8
  predictions = _read_csv(_predictions_csv(result.stdout))
  assert [p['filename'] for p in predictions] == sorted(labels)
  right = sum(p['class'] == labels[p['filename']] for p in predictions)
  assert right >= 6, (predictions, labels)  # fast mode is gated at accuracy 0.8
  assert collections.Counter(p['class'] for p in predictions) == histogram
  read, trained, _ = _lineage(cnn_home, 'cnn_fast')
  assert read == trained


def test_bad_image_folders_are_refused(project, cnn_home, digits, tmp_path):
  folder, _ = digits
  mixed = tmp_path / 'mixed'
  mixed.mkdir()
  for name in sorted(os.listdir(folder))[:2]:
    (mixed / name).write_bytes(open(os.path.join(folder, name), 'rb').read())
  (mixed / 'notes.png').write_text('not a picture')
  line = _refused(project, cnn_home, 4, 'cnn_fast', str(mixed))
  assert line.startswith(f'tfzoo: {mixed / "notes.png"}: not an image file'), line
  empty = tmp_path / 'empty'
  empty.mkdir()
  assert 'no image files' in _refused(project, cnn_home, 4, 'cnn_fast', str(empty))
