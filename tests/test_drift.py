"""The drift gate: new data is compared with the statistics of the data the served model was
trained on (found through ML Metadata); drifted data stops the run before training, exit 4,
unless --accept-drift, which ML Metadata records.

One classifier work directory, in order: the first run (nothing served yet), an unchanged re-run
(the served model was trained on these statistics; with its lineage broken by hand, the summary
says so), the good CSV again as a new file (compared, passes), a collapsed label, a feature that became constant (both
refused, nothing trained, serving/ byte-identical), then a drifted file accepted on purpose.
MNIST: the validator's executor on real MNIST labels, a training slice short of three digits.
"""
from __future__ import annotations

import gzip
import html
import os
import re
import shutil

import numpy as np
import pandas as pd
import pytest
import tensorflow_data_validation as tfdv
from google.protobuf import text_format
from tensorflow_metadata.proto.v0 import schema_pb2
from tfx.types import standard_artifacts

from components.drift_validator import DataDriftError, keys, load_config
from components.drift_validator.executor import Executor
from conftest import node_states, run_tfzoo, serving_snapshot, versions
from pipelines import registry
from pipelines.mlmd import metadata, summary

GOOD = 'fur,wings,species\n0,0,other\n1,0,mammal\n1,1,bird\n0,0,other\n0,0,other\n0,1,bird\n'


@pytest.fixture(scope='module')
def home(tmp_path_factory) -> str:
  return str(tmp_path_factory.mktemp('home'))


def _csv(tmp_path, name: str, text: str) -> str:
  path = os.path.join(str(tmp_path), name)
  with open(path, 'w') as f:
    f.write(text)
  return path


def _store(home: str):
  return metadata.sqlite_config(os.path.join(home, 'metadata', 'classifier.sqlite'))


def _refused(project, home, data: str) -> str:
  """Runs on `data`, asserts the refusal (exit 4, nothing trained, serving/ unchanged) and
  returns its one line."""
  serving = os.path.join(home, 'serving', 'classifier')
  before = serving_snapshot(serving)
  result = run_tfzoo(project, home, 'run', 'classifier', '--data', data)
  assert result.returncode == 4, result.stdout + result.stderr
  [line] = [l for l in result.stderr.splitlines() if l.strip()]
  states = node_states(os.path.join(home, 'metadata', 'classifier.sqlite'))
  assert states['DriftValidator'] == 'failed', states
  assert 'Transform' not in states and 'Trainer' not in states, states
  assert serving_snapshot(serving) == before
  return line


def test_first_run_passes_with_nothing_served(project, home):
  result = run_tfzoo(project, home, 'run', 'classifier')
  assert result.returncode == 0, result.stdout + result.stderr
  assert '  drift: not compared, no served model yet\n' in result.stdout
  assert len(versions(os.path.join(home, 'serving', 'classifier'))) == 1


def test_an_unchanged_rerun_says_why_nothing_was_compared(project, home, tmp_path):
  """The same data again: the served model was trained on these very statistics. With the
  served model's lineage broken by hand (the Trainer's inputs deleted from a copy of the
  store), the summary says that its training statistics are not found, not that they match."""
  import sqlite3  # pylint: disable=g-import-not-at-top
  result = run_tfzoo(project, home, 'run', 'classifier')
  assert result.returncode == 0, result.stdout + result.stderr
  assert ('  drift: not compared, the served model was trained on these same statistics\n'
          in result.stdout)
  broken = str(tmp_path / 'broken.sqlite')
  shutil.copy(os.path.join(home, 'metadata', 'classifier.sqlite'), broken)
  trainer = summary.latest_run(metadata.sqlite_config(broken)).component('Trainer')
  with sqlite3.connect(broken) as db:
    executions = [row[0] for row in db.execute(
        'SELECT DISTINCT execution_id FROM Event WHERE artifact_id = ? AND type = 4',
        (trainer.outputs['model'][0].id,))]  # 4: OUTPUT, the Trainer that made the model
    assert executions
    db.execute(f'DELETE FROM Event WHERE type = 3 AND execution_id IN '
               f'({",".join("?" * len(executions))})', executions)  # 3: INPUT
  [version] = versions(os.path.join(home, 'serving', 'classifier'))
  run = summary.latest_run(metadata.sqlite_config(broken))
  assert run.drift.format() == (
      f'drift: not compared, the statistics served version {version} was trained on are not '
      'in its lineage in ML Metadata, so there was nothing to compare with')


def test_the_good_csv_again_is_compared_and_passes(project, home, tmp_path):
  result = run_tfzoo(project, home, 'run', 'classifier', '--data',
                     _csv(tmp_path, 'again.csv', GOOD))
  assert result.returncode == 0, result.stdout + result.stderr
  assert node_states(os.path.join(home, 'metadata', 'classifier.sqlite'))[
      'DriftValidator'] == 'executed'
  assert ("  drift: within the thresholds of the served model's training data: "
          "feature 'fur': Jensen-Shannon divergence 0 <= 0.1; feature 'species': L-infinity "
          "distance 0 <= 0.2; feature 'wings': Jensen-Shannon divergence 0 <= 0.1\n"
          in result.stdout), result.stdout


def test_a_collapsed_label_is_refused(project, home, tmp_path):
  data = _csv(tmp_path, 'mammals.csv', 'fur,wings,species\n' + '1,0,mammal\n' * 6)
  line = _refused(project, home, data)
  assert line.startswith(f"tfzoo: {data}: data drifted from the served model's training "
                         "data: feature 'fur': Jensen-Shannon divergence 1 > 0.1; feature "
                         "'species': L-infinity distance 0.833 > 0.2; "), line
  assert line.endswith('--accept-drift) trains on it anyway; stopped before training, '
                       'nothing was pushed'), line


def test_a_feature_that_became_constant_is_refused(project, home, tmp_path):
  data = _csv(tmp_path, 'no_wings.csv', GOOD.replace('1,1,bird', '1,0,bird')
              .replace('0,1,bird', '0,0,bird'))
  line = _refused(project, home, data)
  # Only wings drifted; the species and fur shares are those of the served model's data.
  assert re.search(r"data drifted from the served model's training data: feature 'wings': "
                   r"Jensen-Shannon divergence [\d.]+ > 0\.1; feature 'fur': Jensen-Shannon "
                   r"divergence 0 <= 0\.1; feature 'species': L-infinity distance 0 <= 0\.2; ",
                   line), line
  # The failed execution's one line is in ML Metadata too (runs, report).
  run = summary.latest_run(_store(home), 'classifier')
  assert "feature 'wings'" in run.component('DriftValidator').error


def test_accept_drift_trains_on_purpose_and_is_recorded(project, home, tmp_path):
  serving = os.path.join(home, 'serving', 'classifier')
  served = versions(serving)
  birds = GOOD.replace('0,0,other\n0,0,other\n', '1,1,bird\n0,1,bird\n')  # 1 other, 4 birds
  data = _csv(tmp_path, 'birds.csv', birds)
  assert _refused(project, home, data)
  result = run_tfzoo(project, home, 'run', 'classifier', '--data', data, '--accept-drift')
  assert result.returncode == 0, result.stdout + result.stderr
  assert re.search(r"  drift: ACCEPTED on purpose \(--accept-drift\): .*feature 'species': "
                   r"L-infinity distance 0\.333 > 0\.2", result.stdout), result.stdout
  assert len(versions(serving)) == len(served) + 1
  store = summary.open_store(_store(home))
  [validator] = [e for e in store.get_executions_by_context(
      summary.run_contexts(store, 'classifier')[-1].id) if e.type.endswith('DriftValidator')]
  assert validator.custom_properties[keys.ACCEPT_DRIFT].int_value == 1
  run = summary.latest_run(_store(home), 'classifier')
  assert run.drift.verdict == keys.ACCEPTED
  # The served model is now the one trained on the birds: the animals file is drift from it.
  line = _refused(project, home, _csv(tmp_path, 'animals.csv', GOOD))
  assert 'L-infinity distance 0.333 > 0.2' in line
  # The report's data section says so, in the validator's words.
  result = run_tfzoo(project, home, 'report', 'classifier')
  assert result.returncode == 0, result.stdout + result.stderr
  with open(os.path.join(home, 'reports', 'classifier', 'index.html'), encoding='utf-8') as f:
    page = f.read()
  refusal = line.split(': ', 2)[2].split('; stopped before training')[0]
  assert f'<p class="error">DataDriftError: {html.escape(refusal)}</p>' in page, page


def _mnist_labels(manual_dir: str, name: str) -> np.ndarray:
  with gzip.open(os.path.join(manual_dir, name)) as f:
    return np.frombuffer(f.read()[8:], np.uint8).astype(np.int64)


def _statistics(root: str, name: str, splits: dict, schema) -> standard_artifacts.ExampleStatistics:
  """An ExampleStatistics artifact as StatisticsGen writes it, computed by TFDV with the
  curated schema (the label categorical) from {split: labels}."""
  artifact = standard_artifacts.ExampleStatistics()
  artifact.uri = os.path.join(root, name)
  artifact.split_names = '[' + ','.join(f'"{s}"' for s in splits) + ']'
  for split, labels in splits.items():
    stats = tfdv.generate_statistics_from_dataframe(
        pd.DataFrame({'label': labels}), stats_options=tfdv.StatsOptions(schema=schema))
    os.makedirs(os.path.join(artifact.uri, f'Split-{split}'))
    with open(os.path.join(artifact.uri, f'Split-{split}', 'FeatureStats.pb'), 'wb') as f:
      f.write(stats.SerializeToString())
  return artifact


def _validate(root: str, new, baseline, accept: bool = False) -> standard_artifacts.ExampleAnomalies:
  anomalies = standard_artifacts.ExampleAnomalies()
  anomalies.uri = os.path.join(root, 'anomalies')
  shutil.rmtree(anomalies.uri, ignore_errors=True)
  spec = registry.get_spec('cnn')
  result = Executor().Do(
      {'statistics': [new], 'baseline_statistics': [baseline]}, {'anomalies': [anomalies]},
      {'distribution_validator_config': load_config(spec.source.drift_path),
       'include_split_pairs': 'null', keys.ACCEPT_DRIFT: int(accept)})
  [recorded] = result.output_artifacts['anomalies'].artifacts
  return recorded


def test_mnist_short_of_three_digits_is_refused(mnist_manual_dir, tmp_path):
  with open(registry.get_spec('cnn').source.schema_path) as f:
    schema = text_format.Parse(f.read(), schema_pb2.Schema())
  train = _mnist_labels(mnist_manual_dir, 'train-labels-idx1-ubyte.gz')
  test = _mnist_labels(mnist_manual_dir, 't10k-labels-idx1-ubyte.gz')
  # Digits 0-2 keep a tenth of their examples: each falls from ~10% to ~1.3% of the slice.
  rng = np.random.default_rng(0)
  keep = (train >= 3) | (rng.random(train.size) < 0.1)
  root = str(tmp_path)
  served = _statistics(root, 'served', {'train': train, 'eval': test}, schema)
  # The served model's own data again (the test images for both splits too): within 0.05.
  recorded = _validate(root, _statistics(root, 'same', {'train': train, 'eval': test}, schema),
                       served)
  assert recorded.custom_properties[keys.VERDICT].string_value == keys.PASSED
  assert re.fullmatch(r"feature 'label': L-infinity distance 0 <= 0\.05",
                      recorded.custom_properties[keys.DETAILS].string_value)
  skewed = _statistics(root, 'skewed', {'train': train[keep], 'eval': test}, schema)
  with pytest.raises(DataDriftError) as refused:
    _validate(root, skewed, served)
  share = lambda labels, d: (labels == d).mean()
  expected = max(abs(share(train[keep], d) - share(train, d)) for d in range(10))
  assert expected > 0.08
  assert str(refused.value).startswith(
      "data drifted from the served model's training data: feature 'label': L-infinity "
      f"distance {expected:.3g} > 0.05 [train split]; "), str(refused.value)
  recorded = _validate(root, skewed, served, accept=True)
  assert recorded.custom_properties[keys.VERDICT].string_value == keys.ACCEPTED
