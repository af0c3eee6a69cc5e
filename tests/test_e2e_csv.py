"""End to end: real TFX pipelines (CsvExampleGen -> ... -> Pusher) on the seed's tiny CSVs.

The classifier is run four times on one work directory, in order:
  1. first run: every component executes, the model is blessed and pushed;
  2. nothing changed: every component is cached (read from ML Metadata), nothing new pushed;
  3. an impossible gate: not blessed, exit 3, serving/ byte-for-byte unchanged;
  4. the model's code changed: Transform/Trainer and what follows re-run, a new version pushed.
"""
from __future__ import annotations

import os
import re

import numpy as np
import pytest
import tensorflow as tf

from conftest import node_states, run_tfzoo, serving_snapshot, versions

ANIMALS = [(0, 0, b'other'), (1, 0, b'mammal'), (1, 1, b'bird'),
           (0, 0, b'other'), (0, 0, b'other'), (0, 1, b'bird')]
UPSTREAM = ['CsvExampleGen', 'ImportSchemaGen', 'StatisticsGen', 'ExampleValidator']
COMPONENTS = UPSTREAM + ['Transform', 'Trainer', 'Evaluator', 'Pusher']


def animal_example(fur: int, wings: int) -> bytes:
  """A serialized tf.Example as a TF Serving client sends it (REST `b64` / gRPC string)."""
  return tf.train.Example(features=tf.train.Features(feature={
      'fur': tf.train.Feature(int64_list=tf.train.Int64List(value=[fur])),
      'wings': tf.train.Feature(int64_list=tf.train.Int64List(value=[wings])),
  })).SerializeToString()


def check_animals_served(version_dir: str) -> None:
  """Both signatures, called as TF Serving calls them, name every seed row's species."""
  model = tf.saved_model.load(version_dir)
  expected = [species for _, _, species in ANIMALS]
  by_example = model.signatures['serving_default'](
      examples=tf.constant([animal_example(f, w) for f, w, _ in ANIMALS]))
  assert list(by_example['classes'].numpy()) == expected
  probabilities = by_example['probabilities'].numpy()
  np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
  assert (probabilities.max(axis=1) > 0.5).all()
  raw = model.signatures['serving_raw'](
      fur=tf.constant([float(f) for f, _, _ in ANIMALS]),
      wings=tf.constant([float(w) for _, w, _ in ANIMALS]))
  assert list(raw['classes'].numpy()) == expected
  np.testing.assert_allclose(raw['probabilities'].numpy(), probabilities, rtol=1e-5)


@pytest.fixture(scope='module')
def home(tmp_path_factory) -> str:
  return str(tmp_path_factory.mktemp('home'))


def _paths(home: str, model: str):
  return (os.path.join(home, 'metadata', f'{model}.sqlite'),
          os.path.join(home, 'serving', model))


def test_first_run_pushes_a_blessed_model(project, home):
  result = run_tfzoo(project, home, 'run', 'classifier')
  assert result.returncode == 0, result.stdout + result.stderr
  metadata, serving = _paths(home, 'classifier')
  states = node_states(metadata)
  assert all(states[c] == 'executed' for c in COMPONENTS), states
  assert re.search(r'metric sparse_categorical_accuracy = 1 .*passed', result.stdout)
  assert 'blessed: yes' in result.stdout
  [version] = versions(serving)
  assert f'pushed: {os.path.join(serving, version)}' in result.stdout
  for name in ('saved_model.pb', 'variables/variables.index', 'fingerprint.pb'):
    assert os.path.isfile(os.path.join(serving, version, name)), name
  check_animals_served(os.path.join(serving, version))


def test_rerun_with_nothing_changed_is_fully_cached(project, home):
  metadata, serving = _paths(home, 'classifier')
  before = serving_snapshot(serving)
  result = run_tfzoo(project, home, 'run', 'classifier')
  assert result.returncode == 0, result.stdout + result.stderr
  states = node_states(metadata)
  assert {c: states[c] for c in COMPONENTS} == {c: 'cached' for c in COMPONENTS}
  assert serving_snapshot(serving) == before


def test_impossible_gate_is_not_blessed_and_pushes_nothing(project, home):
  metadata, serving = _paths(home, 'classifier')
  before = serving_snapshot(serving)
  result = run_tfzoo(project, home, 'run', 'classifier',
                     '--gate', 'sparse_categorical_accuracy=1.01')
  assert result.returncode == 3, result.stdout + result.stderr
  assert 'blessed: no' in result.stdout
  assert 'pushed: nothing' in result.stdout
  [error] = [line for line in result.stderr.splitlines() if line.startswith('tfzoo:')]
  assert error == ('tfzoo: classifier was not blessed (sparse_categorical_accuracy = 1 fails '
                   '>= 1.01); nothing was pushed')
  states = node_states(metadata)
  assert states['Trainer'] == 'cached' and states['Evaluator'] == 'executed'
  assert serving_snapshot(serving) == before


def test_model_code_change_retrains_and_pushes_a_new_version(project, home):
  metadata, serving = _paths(home, 'classifier')
  module = os.path.join(project, 'models', 'classifier', 'classifier_module.py')
  with open(module) as f:
    code = f.read()
  assert 'LEARNING_RATE = 0.1\n' in code
  with open(module, 'w') as f:
    f.write(code.replace('LEARNING_RATE = 0.1\n', 'LEARNING_RATE = 0.2\n'))
  try:
    result = run_tfzoo(project, home, 'run', 'classifier')
  finally:
    with open(module, 'w') as f:
      f.write(code)
  assert result.returncode == 0, result.stdout + result.stderr
  states = node_states(metadata)
  assert all(states[c] == 'cached' for c in UPSTREAM), states
  assert all(states[c] == 'executed' for c in ('Transform', 'Trainer', 'Evaluator', 'Pusher'))
  # The Evaluator compared the new model with the blessed one (change threshold present).
  assert 'change vs blessed baseline' in result.stdout
  assert len(versions(serving)) == 2
  check_animals_served(os.path.join(serving, versions(serving)[-1]))


def test_dnn_pipeline_classifies_all_six(project, tmp_path):
  home = str(tmp_path)
  result = run_tfzoo(project, home, 'run', 'dnn')
  assert result.returncode == 0, result.stdout + result.stderr
  _, serving = _paths(home, 'dnn')
  [version] = versions(serving)
  check_animals_served(os.path.join(serving, version))


def test_linear_pipeline_predicts_the_seed_points(project, tmp_path):
  home = str(tmp_path)
  result = run_tfzoo(project, home, 'run', 'linear')
  assert result.returncode == 0, result.stdout + result.stderr
  assert re.search(r'metric mean_squared_error = \S+ +\(gate: <= 0.001\) passed', result.stdout)
  _, serving = _paths(home, 'linear')
  [version] = versions(serving)
  model = tf.saved_model.load(os.path.join(serving, version))
  raw = model.signatures['serving_raw'](x=tf.constant([5.0, 2.5]))['y'].numpy()
  np.testing.assert_allclose(raw, [5.0, 2.5], atol=0.05)
  example = tf.train.Example(features=tf.train.Features(feature={
      'x': tf.train.Feature(float_list=tf.train.FloatList(value=[5.0]))})).SerializeToString()
  served = model.signatures['serving_default'](examples=tf.constant([example]))['y'].numpy()
  np.testing.assert_allclose(served, [5.0], atol=0.05)
