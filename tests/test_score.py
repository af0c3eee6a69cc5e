"""End to end: `tfzoo score` on rows of a CSV — an ExampleGen on the user's input, then TFX's
BulkInferrer on the latest pushed model (imported as the Trainer's own artifact), then
predictions.csv — and the refusals, which run nothing and need no run at all. A folder of image
files is scored in test_e2e_cnn, on that file's cnn run.
"""
from __future__ import annotations

import collections
import os
from typing import Dict, List

import pytest

from conftest import REPO, run_tfzoo
from score_helpers import histogram, lineage, predictions_csv, read_csv, refused, write_csv


def test_unscored_and_unknown_models_are_refused(project, tmp_path):
  home = str(tmp_path)
  for model in ('gan', 'cgan', 'autoencoder'):
    assert 'it is not scored' in refused(project, home, 2, model, 'x')
  assert 'unknown MODEL' in refused(project, home, 2, 'nosuch', 'x')


@pytest.fixture(scope='module')
def classifier_home(project, tmp_path_factory) -> str:
  home = str(tmp_path_factory.mktemp('classifier_home'))
  result = run_tfzoo(project, home, 'run', 'classifier')
  assert result.returncode == 0, result.stdout + result.stderr
  return home


@pytest.fixture(scope='module')
def animals() -> List[Dict[str, str]]:
  return read_csv(os.path.join(REPO, 'data', 'animals.csv'))


def test_bad_csv_is_refused_before_anything_runs(project, classifier_home, animals, tmp_path):
  with_label = write_csv(str(tmp_path / 'with_label.csv'), ['fur', 'wings', 'species'],
                          [[a['fur'], a['wings'], a['species']] for a in animals])
  line = refused(project, classifier_home, 4, 'classifier', with_label)
  assert line == (f'tfzoo: {with_label}: unexpected column species; classifier scores rows of '
                  'exactly fur, wings (without the label species); nothing was scored')
  no_wings = write_csv(str(tmp_path / 'no_wings.csv'), ['fur'], [[a['fur']] for a in animals])
  assert 'missing column wings' in refused(project, classifier_home, 4, 'classifier', no_wings)
  half = write_csv(str(tmp_path / 'half.csv'), ['fur', 'wings'], [['1', '0.5']])
  assert "column 'wings': '0.5' is not a whole number" in refused(
      project, classifier_home, 4, 'classifier', half)
  # A model never pushed (dnn never ran here): exit 1, still nothing written.
  good = write_csv(str(tmp_path / 'good.csv'), ['fur', 'wings'], [['1', '0']])
  assert 'no runs of dnn recorded' in refused(project, classifier_home, 1, 'dnn', good)


def test_classifier_scores_every_row_in_order_with_lineage(project, classifier_home, animals,
                                                           tmp_path):
  rows = write_csv(str(tmp_path / 'animals.csv'), ['fur', 'wings'],
                    [[a['fur'], a['wings']] for a in animals])
  result = run_tfzoo(project, classifier_home, 'score', 'classifier', rows)
  assert result.returncode == 0, result.stdout + result.stderr
  assert 'BulkInferrer ...' in result.stdout
  expected = collections.Counter(a['species'] for a in animals)
  assert histogram(result.stdout, 'rows') == dict(expected) | {'': len(animals)}
  path = predictions_csv(result.stdout)
  predictions = read_csv(path)
  assert list(predictions[0]) == ['fur', 'wings', 'class', 'probability']
  assert [(p['fur'], p['wings'], p['class']) for p in predictions] == [
      (a['fur'], a['wings'], a['species']) for a in animals]
  assert all(0.5 < float(p['probability']) <= 1.0 for p in predictions)

  read, trained, inference = lineage(classifier_home, 'classifier')
  assert read == trained  # the Importer handed BulkInferrer the Trainer's own artifact
  assert os.path.dirname(path) == inference.uri
  assert inference.custom_properties['predictions_csv'].string_value == path
  assert inference.custom_properties['predictions'].int_value == len(animals)
  # The model pipeline's own records are untouched: `runs` lists its one run only.
  runs = run_tfzoo(project, classifier_home, 'runs', 'classifier')
  assert len([l for l in runs.stdout.splitlines() if l.startswith('classifier  run ')]) == 1
