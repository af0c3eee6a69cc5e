"""--tune's parts without a pipeline run: the registry against the modules, the search itself on
real MNIST examples (the cnn's tuner_fn, its slices of the training split), the factory's DAG
with and without the Tuner, and the command line's refusal of a model with nothing to tune.
(tests/test_e2e_tuner.py runs the whole tuned pipeline.)"""
from __future__ import annotations

import ast
import json
import types

import keras_tuner
import numpy as np
import pytest
import tensorflow_transform as tft

from conftest import run_tfzoo
from model_helpers import examples_split, read_mnist_rows, transform_output
from models.cnn import cnn_module
from models.common import images, tuning
from pipelines import factory, registry
from pipelines.paths import Paths


def _defines_tuner_fn(spec: registry.ModelSpec) -> bool:
  with open(spec.module_file, encoding='utf-8') as f:
    tree = ast.parse(f.read())
  return any(isinstance(node, ast.FunctionDef) and node.name == 'tuner_fn' for node in tree.body)


def test_tunable_models_are_the_modules_with_a_tuner_fn():
  """A spec has a Tuner budget exactly when its module defines tuner_fn, whose search space
  lists the seed's values first (what an untuned run builds with; for cnn's rate, its
  one-cycle's peak)."""
  tunable = set(registry.tunable())
  assert tunable == {name for name, spec in registry.REGISTRY.items() if _defines_tuner_fn(spec)}
  assert {'dnn', 'mlp', 'cnn', 'autocomplete'} <= tunable
  assert cnn_module.SPACE['units'][0] == 256 and cnn_module.SPACE['dropout'][0] == 0.3
  assert cnn_module.SPACE['learning_rate'][0] == 3e-3
  assert tuning.value({}, cnn_module.SPACE, 'units') == 256
  assert tuning.value({tuning.HYPERPARAMETERS: {'units': 512}}, cnn_module.SPACE, 'units') == 512
  fast = registry.fast_spec(registry.get_spec('cnn')).tune
  assert fast is not None and fast.train_examples + fast.validation_examples <= 2_000
  assert registry.fast_spec(registry.get_spec('rnn')).tune is None


def test_search_starts_with_the_seeds_values_and_never_repeats(tmp_path):
  space = {'learning_rate': (1e-3, 2e-3, 5e-4), 'units': (256, 512)}
  oracle = tuning.SeedFirstRandomSearch(
      objective=keras_tuner.Objective('score', 'max'), max_trials=6, seed=1,
      hyperparameters=tuning.hyperparameters(space), allow_new_entries=False)
  oracle._set_project_dir(str(tmp_path), 'search')  # pylint: disable=protected-access (the Tuner's)
  tried = []
  for i in range(6):
    trial = oracle.create_trial(f'tuner{i}')
    if trial.status != keras_tuner.engine.trial.TrialStatus.RUNNING:
      break
    tried.append(dict(trial.hyperparameters.values))
    oracle.update_trial(trial.trial_id, {'score': float(i)})
    oracle.end_trial(trial)
  assert tried[0] == {'learning_rate': 1e-3, 'units': 256}
  assert len(tried) == 6 and len({tuple(sorted(t.items())) for t in tried}) == 6


def test_cnn_search_on_a_slice_of_the_training_split(tmp_path, mnist_data):
  """The cnn's tuner_fn on 25 real training examples: trials train on the first 15 and are
  scored on the 10 after them (the slices hold exactly those examples, in the file's order);
  every trial builds the space's values; the best is the best-scoring trial."""
  _, rows = read_mnist_rows(registry.get_spec('cnn'), count=25)
  fn_args, files = examples_split(tmp_path, rows)
  graph = transform_output('cnn')
  budget = {'trials': 3, 'train_steps': 4, 'train_examples': 15, 'validation_examples': 10}
  config = dict(factory.module_config(registry.get_spec('cnn')), batch_size=5,
                **{tuning.TUNE: budget})
  fn_args = types.SimpleNamespace(
      data_accessor=fn_args.data_accessor, train_files=files, eval_files=['/nonexistent/*'],
      transform_graph_path=graph, custom_config=config, train_steps=4, eval_steps=2,
      working_dir=str(tmp_path / 'tuner'))

  tf_transform_output = tft.TFTransformOutput(graph)
  labels = [r['label'][0] for r in rows]
  validation = images.dataset(fn_args, files, tf_transform_output, 5, 0, False, skip=15,
                              take=10)
  seen = [b[1].numpy() for b in validation.take(2)]
  assert list(np.concatenate(seen)) == labels[15:25]
  first = images.dataset(fn_args, files, tf_transform_output, 5, 0, True, take=15)
  assert sorted(np.concatenate([b[1].numpy() for b in first.take(3)])) == sorted(labels[:15])

  result = cnn_module.tuner_fn(fn_args)
  assert result.fit_kwargs['epochs'] * result.fit_kwargs['steps_per_epoch'] == 4
  assert result.fit_kwargs['validation_steps'] == 2
  result.tuner.search(**result.fit_kwargs)
  oracle = result.tuner.oracle
  trials = [oracle.trials[t] for t in oracle.start_order]
  assert len(trials) == 3
  assert trials[0].hyperparameters.values == {k: v[0] for k, v in cnn_module.SPACE.items()}
  assert all(t.score is not None and 0 <= t.score <= 1 for t in trials)
  [best] = oracle.get_best_trials(1)
  assert best.score == max(t.score for t in trials)
  assert set(result.tuner.seconds) == {t.trial_id for t in trials}
  model = result.tuner.hypermodel.build(best.hyperparameters)
  assert model.get_layer('dense').units == best.hyperparameters.values['units']
  assert model.get_layer('dropout').rate == best.hyperparameters.values['dropout']


def _ids(pipeline):
  return [c.id for c in pipeline.components]


def test_the_tuner_feeds_the_trainer_only_with_tune(tmp_path):
  spec = registry.get_spec('dnn')
  untuned = factory.create_pipeline(spec, Paths(str(tmp_path)))
  tuned = factory.create_pipeline(spec, Paths(str(tmp_path)), tune=True)
  ids = _ids(untuned)
  assert 'Tuner' not in ids
  assert _ids(tuned) == ids[:ids.index('Trainer')] + ['Tuner'] + ids[ids.index('Trainer'):]
  trainer = {c.id: c for c in tuned.components}['Trainer']
  tuner = {c.id: c for c in tuned.components}['Tuner']
  assert trainer.inputs['hyperparameters'].producer_component_id == 'Tuner'
  assert 'hyperparameters' not in {c.id: c for c in untuned.components}['Trainer'].inputs
  assert json.loads(tuner.exec_properties['train_args'])['num_steps'] == spec.tune.train_steps
  assert json.loads(tuner.exec_properties['custom_config'])[tuning.TUNE] == dict(
      trials=spec.tune.trials, train_steps=spec.tune.train_steps, train_examples=None,
      validation_examples=None)
  with pytest.raises(ValueError, match='linear cannot be tuned'):
    factory.create_pipeline(registry.get_spec('linear'), Paths(str(tmp_path)), tune=True)


def test_tune_refuses_a_model_without_a_search_space(project, tmp_path):
  result = run_tfzoo(project, str(tmp_path / 'home'), 'run', 'linear', '--tune', timeout=120)
  assert result.returncode == 2, result.stdout + result.stderr
  assert result.stderr.strip().splitlines()[-1] == (
      'tfzoo: --tune: linear has no search space (its module defines no tuner_fn); tunable '
      'models: dnn, mlp, cnn, autocomplete')
  assert not (tmp_path / 'home').exists()
