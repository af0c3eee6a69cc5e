"""End to end on the seed's tiny CSVs, each on a work directory of its own: the dnn and linear
pipelines started together, and a classifier trained too briefly to name every species (not
blessed by the per-class gate). The classifier's runs on one work directory are
test_e2e_csv's."""
from __future__ import annotations

import os
import re

import numpy as np
import tensorflow as tf

from components.infra_validator.session_loader import ServingSession
from conftest import run_tfzoo, start_tfzoo, tfzoo_lines, versions
from serving_helpers import check_animals_served, every_signature, serialized_examples


def test_two_pipelines_at_once_dnn_and_linear(project, tmp_path):
  """Two different pipelines started together on one work directory both complete: each has
  its own ML Metadata store and serving folder."""
  home = str(tmp_path)
  processes = {model: start_tfzoo(project, home, 'run', model) for model in ('dnn', 'linear')}
  outputs = {model: p.communicate(timeout=900) for model, p in processes.items()}
  for model, process in processes.items():
    assert process.returncode == 0, outputs[model]

  serving = os.path.join(home, 'serving', 'dnn')
  [version] = versions(serving)
  check_animals_served(os.path.join(serving, version))

  stdout = outputs['linear'][0]
  assert re.search(r'metric mean_squared_error = \S+ +\(gate: <= 0.001\) passed', stdout)
  serving = os.path.join(home, 'serving', 'linear')
  [version] = versions(serving)
  version_dir = os.path.join(serving, version)
  with ServingSession(version_dir) as session:
    answers = every_signature(session, tf.saved_model.load(version_dir), {
        'serving_default': {'examples': serialized_examples([{'x': [5.0]}, {'x': [2.5]}])},
        'serving_raw': {'x': np.array([5.0, 2.5], np.float32)},
        'transform_features': {'examples': serialized_examples([{'x': [5.0], 'y': [5.0]}])},
    }, atol=1e-5)
  np.testing.assert_allclose(answers['serving_raw']['y'], [5.0, 2.5], atol=0.05)
  np.testing.assert_allclose(answers['serving_default']['y'], [5.0, 2.5], atol=0.05)
  assert answers['transform_features']['y_xf'].reshape(-1).tolist() == [5.0]


def test_a_model_that_fails_one_class_is_not_blessed(project, tmp_path):
  """15 steps learn the average, not every species: overall 0.667 passes a lowered gate of
  0.5, but the per-class gate (every species right) refuses it, naming the classes."""
  home = str(tmp_path)
  result = run_tfzoo(project, home, 'run', 'classifier', '--train-steps', '15',
                     '--gate', 'sparse_categorical_accuracy=0.5')
  assert result.returncode == 3, result.stdout + result.stderr
  assert re.search(r'metric sparse_categorical_accuracy = 0\.666667 .*passed', result.stdout)
  [error] = [line for line in result.stderr.splitlines() if line.startswith('tfzoo:')]
  assert error == ('tfzoo: classifier was not blessed (sparse_categorical_accuracy per class = 0 '
                   'fails >= 1 for every species; below it: species=bird (0.5), species=mammal '
                   '(0)); nothing was pushed'), error
  assert not os.path.exists(os.path.join(home, 'serving', 'classifier'))
  why = tfzoo_lines(project, home, 'why-not-blessed', 'classifier')
  assert '  sparse_categorical_accuracy = 0.666667, threshold >= 0.5: passed' in why, why
  assert any(line.startswith('  sparse_categorical_accuracy per class = 0, threshold >= 1 for '
                             'every species; below it: species=bird (0.5), species=mammal (0): '
                             'FAILED') for line in why), why
