"""End to end: real TFX pipelines (CsvExampleGen -> ... -> Pusher) on the seed's tiny CSVs.

The classifier is run four times on one work directory, in order:
  1. first run: every component executes, the model is blessed and pushed;
  2. nothing changed: every component is cached (read from ML Metadata), nothing new pushed;
  3. an impossible gate: not blessed, exit 3, serving/ byte-for-byte unchanged;
  4. the model's code changed: Transform/Trainer and what follows re-run, a new version pushed.
"""
from __future__ import annotations

import contextlib
import glob
import os
import re
import subprocess
import sys

import pytest

from conftest import (node_states, run_tfzoo, serving_snapshot, tfzoo_env, tfzoo_lines,
                      versions)
from serving_helpers import check_animals_served

UPSTREAM = ['CsvExampleGen', 'ImportSchemaGen', 'StatisticsGen', 'ExampleValidator',
            'DriftValidator']
COMPONENTS = UPSTREAM + ['Transform', 'Trainer', 'Evaluator', 'InfraValidator', 'Pusher']


@contextlib.contextmanager
def edited(path: str, edit):
  """The file's text replaced by edit(text) for the duration (it must change it)."""
  with open(path) as f:
    code = f.read()
  changed = edit(code)
  assert changed != code, path
  with open(path, 'w') as f:
    f.write(changed)
  try:
    yield changed
  finally:
    with open(path, 'w') as f:
      f.write(code)


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
  for name in ('saved_model.pb', 'variables/variables.index', 'fingerprint.pb',
               'assets.extra/tf_serving_warmup_requests'):  # what TF Serving runs before serving
    assert os.path.isfile(os.path.join(serving, version, name)), name
  assert re.search(r'served by TF Serving: yes, 17 requests to serving_default, serving_raw, '
                   r'transform_features answered', result.stdout), result.stdout
  check_animals_served(os.path.join(serving, version))
  # The module file was imported in place: no wheel built under the pipeline root.
  assert not os.path.exists(os.path.join(home, 'pipelines', 'classifier', '_wheels'))


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
  with edited(module, lambda code: code.replace('LEARNING_RATE = 0.1\n', 'LEARNING_RATE = 0.2\n')):
    result = run_tfzoo(project, home, 'run', 'classifier')
  assert result.returncode == 0, result.stdout + result.stderr
  states = node_states(metadata)
  assert all(states[c] == 'cached' for c in UPSTREAM), states
  assert all(states[c] == 'executed'
             for c in ('Transform', 'Trainer', 'Evaluator', 'InfraValidator', 'Pusher'))
  # The Evaluator compared the new model with the blessed one (change threshold present).
  assert 'change vs blessed baseline' in result.stdout
  assert len(versions(serving)) == 2
  check_animals_served(os.path.join(serving, versions(serving)[-1]))


def test_runs_lists_the_four_runs_from_ml_metadata(project, home):
  lines = tfzoo_lines(project, home, 'runs', 'classifier')
  heads = [line for line in lines if line.startswith('classifier  run ')]
  _, serving = _paths(home, 'classifier')
  first, last = (os.path.join(serving, v) for v in versions(serving))
  assert len(heads) == 4, lines
  assert heads[0].endswith(f'pushed {first}')
  assert heads[1].endswith(f'pushed {first} (cached)')
  assert heads[2].endswith('not blessed')
  assert heads[3].endswith(f'pushed {last}')
  details = [line for line in lines if line.startswith('    ')
             and not line.startswith('    produced by: ')]
  produced = [line for line in lines if line.startswith('    produced by: ')]
  assert len(produced) == 4, lines  # each run's manifest (this copy is not a git checkout)
  assert all('not a git checkout' in line and 'TFX 1.16.0' in line and 'TF 2.16.2' in line
             and 'seed 42' in line for line in produced), produced
  assert 'Trainer executed' in details[0] and 'Trainer cached' in details[1]
  assert 'Evaluator executed' in details[2] and 'Pusher executed' in details[2]


def test_why_not_blessed_names_the_metric_threshold_and_value(project, home):
  lines = tfzoo_lines(project, home, 'why-not-blessed', 'classifier')
  assert lines[0].startswith('classifier run ') and lines[0].endswith(': not blessed')
  # (No change threshold here: the only blessed model was the candidate itself.)
  assert lines[1] == '  sparse_categorical_accuracy = 1, threshold >= 1.01: FAILED'


def test_lineage_of_the_latest_and_of_the_first_push(project, home):
  _, serving = _paths(home, 'classifier')
  first, last = (os.path.join(serving, v) for v in versions(serving))
  lines = tfzoo_lines(project, home, 'lineage', 'classifier')
  text = '\n'.join(lines)
  assert lines[0] == last
  data_dir = os.path.join(project, 'data')
  # Upstream came from cache: the lineage points at the artifacts of the first run.
  assert re.search(r'CsvExampleGen \(cached\)\n    examples: Examples #\d+ \S+ \(made by run '
                   rf'\S+\)  from {re.escape(data_dir)}', text), text
  assert re.search(r'ExampleValidator \(cached\)\n    anomalies: ExampleAnomalies .* no anomalies',
                   text), text
  assert re.search(r'Trainer \(executed\)\n    model: Model #\d+ ', text), text
  assert re.search(r'Evaluator \(executed\)\n(    .*\n)*    blessing: ModelBlessing .*  blessed',
                   text), text
  assert re.search(r'evaluation: ModelEvaluation #\d+ \S+  sparse_categorical_accuracy = 1, '
                   r'sparse_categorical_accuracy per class = 1$', text, re.M), text
  assert re.search(rf'Pusher \(executed\)\n    pushed_model: PushedModel .*  -> {re.escape(last)}',
                   text), text
  for uri in re.findall(r'#\d+ (\S+)', text):
    assert os.path.exists(uri), uri
  first_lines = tfzoo_lines(project, home, 'lineage', first)
  assert first_lines[0] == first and 'made by run' not in '\n'.join(first_lines)


def test_predict_locally_through_both_signatures(project, home):
  for signature in ('examples', 'raw'):
    lines = tfzoo_lines(project, home, 'predict', 'classifier', 'fur=1,wings=0', '--local',
                         '--signature', signature)
    assert re.fullmatch(r'classifier \[serving_\w+ @ \S+\]: mammal \(probability 0\.\d{3}\)',
                        lines[-1]), lines


def test_tensorboard_points_at_the_training_logs(project, home):
  [line] = tfzoo_lines(project, home, 'tensorboard', 'classifier', '--dry-run')
  logdir = line.split('--logdir ', 1)[1].split(' --port')[0]
  assert glob.glob(os.path.join(logdir, 'train', 'events.out.tfevents.*'))
  [line] = tfzoo_lines(project, home, 'tensorboard', 'classifier', '--all', '--dry-run')
  assert line.count(':' + os.path.join(home, 'pipelines', 'classifier', 'Trainer')) == 2


def test_serve_without_a_server_says_what_to_install(project, home, tmp_path):
  result = run_tfzoo(project, home, 'serve', PATH=str(tmp_path))  # neither binary nor docker
  assert result.returncode == 1
  assert result.stderr.strip().splitlines()[-1].startswith(
      'tfzoo: neither tensorflow_model_server nor docker is on PATH: install TensorFlow Serving')
  fake = tmp_path / 'tensorflow_model_server'
  fake.write_text('#!/bin/sh\necho "served $*"\n')
  fake.chmod(0o755)
  result = run_tfzoo(project, home, 'serve', '--rest-port', '9001', PATH=str(tmp_path))
  assert result.returncode == 0, result.stderr
  assert result.stdout.splitlines()[-1].startswith('served --port=8500 --rest_api_port=9001 '
                                                   '--model_config_file=')
  with open(os.path.join(home, 'serving', 'models.config')) as f:
    assert 'name: "classifier"' in f.read()


def test_an_unservable_export_is_not_pushed_and_the_reason_is_one_line(project, home):
  """The export as it was before models/common/export.save (Keras 3 hands tf.saved_model.save
  copies of its variables): the Evaluator blesses it (tf.saved_model.load answers), TF
  Serving's loader does not, so the InfraValidator refuses it and nothing is pushed."""
  metadata, serving = _paths(home, 'classifier')
  before = serving_snapshot(serving)
  export_py = os.path.join(project, 'models', 'common', 'export.py')

  def without_the_fix(code: str) -> str:  # save() = tf.saved_model.save alone, as before
    return re.sub(r'(def save\(.*?"""\n).*?(  tf\.saved_model\.save\()', r'\1\2', code,
                  count=1, flags=re.S)

  with edited(export_py, without_the_fix) as broken:
    assert 'serving_variables' not in broken.split('def save(')[1].split('def ')[0]
    result = run_tfzoo(project, home, 'run', 'classifier')
  assert result.returncode == 3, result.stdout + result.stderr
  states = node_states(metadata)
  assert states['Trainer'] == states['InfraValidator'] == 'executed', states
  assert 'blessed: yes' in result.stdout and 'pushed: nothing' in result.stdout
  [error] = [line for line in result.stderr.splitlines() if line.startswith('tfzoo:')]
  assert re.fullmatch(r"tfzoo: classifier was blessed, but TF Serving cannot serve it: "
                      r"serving_default: FAILED_PRECONDITION: Could not find variable "
                      r"softmax/(kernel|bias)\. [^\n]*; nothing was pushed", error), error
  assert serving_snapshot(serving) == before
  # The record says so too: `runs` and `why-not-blessed` read the InfraBlessing.
  runs = tfzoo_lines(project, home, 'runs', 'classifier')
  assert [l for l in runs if l.startswith('classifier  run ')][-1].endswith(
      'not servable by TF Serving')
  why = tfzoo_lines(project, home, 'why-not-blessed', 'classifier')
  assert why[0].endswith(': not servable by TF Serving'), why
  [served] = [line for line in why if 'served by TF Serving' in line]
  assert re.fullmatch(r"  served by TF Serving: NO, serving_default: FAILED_PRECONDITION: Could "
                      r"not find variable softmax/(kernel|bias)\. .* \(TF Serving's loader "
                      r"through TF's C API\)", served), why
  assert '  sparse_categorical_accuracy = 1, threshold >= 1, change vs blessed baseline ' in why[1]


def test_report_of_every_run_in_a_browser(project, home, tmp_path):
  """A run stopped by bad data is added; then `tfzoo report` from a fresh process, its pages
  opened in chromium, and the figures on them compared with what TFX's own readers say."""
  import tensorflow_data_validation as tfdv  # pylint: disable=g-import-not-at-top
  import tensorflow_model_analysis as tfma  # pylint: disable=g-import-not-at-top
  from ml_metadata.metadata_store import metadata_store  # pylint: disable=g-import-not-at-top
  from ml_metadata.proto import metadata_store_pb2  # pylint: disable=g-import-not-at-top
  import browser  # pylint: disable=g-import-not-at-top

  bad = tmp_path / 'fish.csv'
  bad.write_text('fur,wings,species\n0,0,other\n1,0,fish\n1,1,bird\n')
  result = run_tfzoo(project, home, 'run', 'classifier', '--data', str(bad))
  assert result.returncode == 4, result.stdout + result.stderr

  result = run_tfzoo(project, home, 'report')
  assert result.returncode == 0, result.stdout + result.stderr
  took = float(re.search(r'report written in ([\d.]+) s', result.stdout).group(1))
  assert took <= 5.0, result.stdout
  reports = os.path.join(home, 'reports')
  assert result.stdout.strip().endswith(f'file://{reports}/index.html')
  pages = [os.path.join(reports, 'index.html'), os.path.join(reports, 'classifier', 'index.html'),
           os.path.join(reports, 'cnn', 'index.html')]
  loaded = browser.load_pages(pages)
  for page in loaded.values():
    browser.assert_clean(page)
  index, classifier, never_run = (loaded[p] for p in pages)

  # What ML Metadata and TFX's own readers say.
  metadata, serving = _paths(home, 'classifier')
  config = metadata_store_pb2.ConnectionConfig()
  config.sqlite.filename_uri = metadata
  config.sqlite.connection_mode = metadata_store_pb2.SqliteMetadataSourceConfig.READONLY
  store = metadata_store.MetadataStore(config)
  pushed = [a for a in store.get_artifacts_by_type('PushedModel')
            if a.custom_properties['pushed'].int_value]
  latest_push = max(pushed, key=lambda a: a.id)
  served = os.path.basename(latest_push.custom_properties['pushed_destination'].string_value)
  assert served == versions(serving)[-1]
  evaluations = sorted(store.get_artifacts_by_type('ModelEvaluation'), key=lambda a: a.id)
  accuracy = next(m['sparse_categorical_accuracy']['doubleValue'] for s, by_output in
                  tfma.load_eval_result(evaluations[-1].uri).slicing_metrics if not s
                  for m in [by_output['']['']])
  [statistics] = [a for a in store.get_artifacts_by_type('ExampleStatistics')
                  if os.path.isdir(a.uri)][-1:]
  # On the default runner StatisticsGen computed them in process (local_statistics_gen).
  assert statistics.custom_properties['computed'].string_value == 'in process'
  rows = {split: tfdv.load_stats_binary(os.path.join(statistics.uri, f'Split-{split}',
                                                     'FeatureStats.pb')).datasets[0].num_examples
          for split in ('train', 'eval')}
  run_ids = sorted(c.name for c in store.get_contexts_by_type('pipeline_run'))

  [(version, _)] = [v for v in index.data['data-served-version']]
  assert version == served  # the index shows the classifier's served version...
  assert [float(v) for v, _ in index.data['data-gate-value']] == [accuracy]  # ...and its gate
  assert sorted(v for v, _ in classifier.data['data-run-id']) == run_ids  # every run
  assert len(run_ids) == 6  # first, cached, impossible gate, code change, unservable, bad data
  assert [(v, text) for v, text in classifier.data['data-failed-node']] == [
      ('ExampleValidator', next(text for _, text in classifier.data['data-failed-node']))]
  failure = classifier.data['data-failed-node'][0][1]
  assert failure.startswith('ExampleValidator failed: ') and 'fish' in failure, failure
  # The latest run stopped at the validator: its statistics are the bad file's, 2 + 1 rows.
  assert {v: int(text) for v, text in classifier.data['data-rows']} == rows
  assert sum(rows.values()) == 3 * 2
  assert never_run.data['data-never-run'] and not never_run.data['data-run-id']


def test_inspection_commands_answer_without_tensorflow(project, home):
  """runs, lineage, why-not-blessed, versions and report read ML Metadata and the artifacts'
  protos: none of them imports TensorFlow or TFMA, and each answers within a second."""
  code = ('import sys, time\n'
          'from pipelines.cli import main\n'
          'for argv in (["runs", "classifier"], ["lineage", "classifier"], '
          '["why-not-blessed", "classifier"], ["versions", "classifier"], ["report"]):\n'
          '  started = time.perf_counter()\n'
          '  assert main(argv) == 0, argv\n'
          '  print("TOOK", argv[0], time.perf_counter() - started, file=sys.stderr)\n'
          'print("HEAVY", sorted(m for m in ("tensorflow", "tensorflow_model_analysis", "tfx") '
          'if m in sys.modules), file=sys.stderr)\n')
  result = subprocess.run([sys.executable, '-c', code], cwd=project, capture_output=True,
                          text=True, env=tfzoo_env(project, home), timeout=120)
  assert result.returncode == 0, result.stdout + result.stderr
  assert 'HEAVY []' in result.stderr, result.stderr
  took = {m.group(1): float(m.group(2))
          for m in re.finditer(r'TOOK (\S+) ([\d.]+)', result.stderr)}
  assert set(took) == {'runs', 'lineage', 'why-not-blessed', 'versions', 'report'}
  assert max(took.values()) < 1.0, took
