"""End to end: `--tune` on dnn, the smallest tunable model (6 trials on the animals CSV), on
one work directory, in order:
  1. untuned: no Tuner, the seed's network;
  2. `--tune`: TFX's Tuner runs before the Trainer, every trial is recorded in ML Metadata, and
     the Trainer trains (and pushes) the best values: the served model's layers are that wide;
     `runs`, `lineage` and the report show the search;
  3. `--tune` again: the Tuner and the Trainer are cached;
  4. untuned again: the untuned Trainer of run 1 is cached, as if no search had happened.
"""
from __future__ import annotations

import json
import os
import re

import pytest
import tensorflow as tf

import browser
from components.recorded_tuner import keys
from conftest import node_states, run_tfzoo, versions
from models.dnn import dnn_module
from pipelines import registry
from pipelines.mlmd import metadata, pushes, summary
from test_e2e_csv import check_animals_served

SEED_VALUES = {name: candidates[0] for name, candidates in dnn_module.SPACE.items()}
BUDGET = registry.get_spec('dnn').tune  # the registry's: trials, steps


@pytest.fixture(scope='module')
def home(tmp_path_factory) -> str:
  return str(tmp_path_factory.mktemp('home'))


def _store(home: str):
  return summary.open_store(metadata.sqlite_config(os.path.join(home, 'metadata', 'dnn.sqlite')))


def _latest(home: str) -> summary.RunSummary:
  store = _store(home)
  return summary.summarize(store, summary.run_contexts(store, 'dnn')[-1], 'dnn')


def _layer_shapes(version_dir: str):
  """The 2-D kernels' shapes in the SavedModel's variables, as TF Serving restores them."""
  reader = tf.train.load_checkpoint(os.path.join(version_dir, 'variables', 'variables'))
  return sorted(tuple(s) for s in reader.get_variable_to_shape_map().values() if len(s) == 2)


def test_untuned_run_builds_the_seeds_network(project, home):
  result = run_tfzoo(project, home, 'run', 'dnn')
  assert result.returncode == 0, result.stdout + result.stderr
  assert 'Tuner' not in node_states(os.path.join(home, 'metadata', 'dnn.sqlite'))
  assert 'tuned:' not in result.stdout
  [version] = versions(os.path.join(home, 'serving', 'dnn'))
  assert _layer_shapes(os.path.join(home, 'serving', 'dnn', version)) == [(2, 10), (10, 20),
                                                                           (20, 3)]


def test_tuned_run_trains_and_pushes_the_tuners_best(project, home):
  result = run_tfzoo(project, home, 'run', 'dnn', '--tune')
  assert result.returncode == 0, result.stdout + result.stderr
  states = node_states(os.path.join(home, 'metadata', 'dnn.sqlite'))
  assert states['Tuner'] == 'executed' and states['Trainer'] == 'executed'
  assert states['Transform'] == 'cached'
  run = _latest(home)
  tuner = run.component('Tuner')
  [chosen], [results] = tuner.outputs['best_hyperparameters'], tuner.outputs['tuner_results']

  # Every trial, in the order run: the seed's values first, no two alike, each scored.
  trials = json.loads(results.custom_properties[keys.TRIALS].string_value)
  assert len(trials) == results.custom_properties[keys.TRIAL_COUNT].int_value == BUDGET.trials
  assert trials[0]['values'] == SEED_VALUES
  assert len({json.dumps(t['values'], sort_keys=True) for t in trials}) == BUDGET.trials
  assert all(t['status'] == 'COMPLETED' and t['seconds'] > 0 for t in trials)
  scores = [t['score'] for t in trials]
  best = trials[scores.index(min(scores))]  # val_loss: the lowest, the earliest of a tie
  values = json.loads(chosen.custom_properties[keys.VALUES].string_value)
  assert values == best['values'] != SEED_VALUES
  assert chosen.custom_properties[keys.OBJECTIVE].string_value == 'val_loss'
  assert float(chosen.custom_properties[keys.BEST_SCORE].string_value) == best['score']
  assert float(chosen.custom_properties[keys.SEED_SCORE].string_value) == scores[0]
  with open(os.path.join(chosen.uri, 'best_hyperparameters.txt'), encoding='utf-8') as f:
    assert json.load(f)['values'] == values  # the file TFX hands the Trainer

  # The Trainer took that artifact, was given those values, and built with them.
  store = _store(home)
  trainer = run.component('Trainer')
  assert pushes.inputs(store, trainer.execution_id)['hyperparameters'].id == chosen.id
  [model] = trainer.outputs['model']
  assert json.loads(model.custom_properties[keys.MODEL_HYPERPARAMETERS].string_value) == values
  serving = os.path.join(home, 'serving', 'dnn')
  assert len(versions(serving)) == 2
  newest = os.path.join(serving, versions(serving)[-1])
  units = values['units']
  assert _layer_shapes(newest) == sorted([(2, units), (units, 2 * units), (2 * units, 3)])
  check_animals_served(newest)

  summary_line = (f'tuned: learning_rate={values["learning_rate"]:g}, units={units} (best of '
                  f'{BUDGET.trials} trials by val_loss: ')
  assert summary_line in result.stdout
  assert (f'tuning: each trial trained {BUDGET.train_steps} steps on the whole training split'
          in result.stdout)

  runs = run_tfzoo(project, home, 'runs', 'dnn')
  assert runs.returncode == 0 and runs.stdout.count(summary_line) == 1, runs.stdout
  lineage = run_tfzoo(project, home, 'lineage', 'dnn')
  assert lineage.returncode == 0, lineage.stderr
  assert re.search(r'^  Tuner \(executed\)$', lineage.stdout, re.M), lineage.stdout
  rate = f'{values["learning_rate"]:g}'
  assert re.search(rf'best_hyperparameters: HyperParameters #{chosen.id} .*  learning_rate='
                   rf'{rate}, units={units} \(best by val_loss', lineage.stdout), lineage.stdout
  assert re.search(rf'tuner_results: TunerResults #\d+ .*  {BUDGET.trials} trials',
                   lineage.stdout)
  assert f"trained with the Tuner's learning_rate={values['learning_rate']:g}" in lineage.stdout

  report = run_tfzoo(project, home, 'report', 'dnn')
  assert report.returncode == 0, report.stderr
  [page] = browser.load_pages([os.path.join(home, 'reports', 'dnn', 'index.html')]).values()
  browser.assert_clean(page)
  [(tuned, text)] = page.data['data-tuned']
  assert json.loads(tuned) == values and text.startswith(summary_line)
  assert [trial for trial, _ in page.data['data-trial']] == [t['trial'] for t in trials]


def test_tuned_rerun_is_cached(project, home):
  result = run_tfzoo(project, home, 'run', 'dnn', '--tune')
  assert result.returncode == 0, result.stdout + result.stderr
  states = node_states(os.path.join(home, 'metadata', 'dnn.sqlite'))
  assert states['Tuner'] == states['Trainer'] == 'cached'
  assert 'tuned: ' in result.stdout  # the cached search is still what the Trainer used


def test_untuned_run_after_a_search_reuses_the_untuned_training(project, home):
  result = run_tfzoo(project, home, 'run', 'dnn')
  assert result.returncode == 0, result.stdout + result.stderr
  states = node_states(os.path.join(home, 'metadata', 'dnn.sqlite'))
  assert 'Tuner' not in states and states['Trainer'] == 'cached'
  assert 'tuned:' not in result.stdout
  store = _store(home)
  first, latest = (summary.summarize(store, c, 'dnn')
                   for c in summary.run_contexts(store, 'dnn')[::3])
  assert latest.component('Trainer').outputs['model'][0].id == \
      first.component('Trainer').outputs['model'][0].id
