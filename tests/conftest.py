"""Shared fixtures: a private copy of the project for pipeline runs, and MLMD/serving helpers.

Pipelines run as `python -m pipelines.cli` subprocesses (exactly what `make run-pipeline`
runs), each on a copy of the project in a temp directory, so a test can edit model code
without touching the repository, and TFX's per-process module imports cannot leak between
runs.
"""
from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
from typing import Dict, List

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# ML Metadata on MySQL (pipelines/mlmd/metadata.py): tests set the ones they need.
MYSQL_ENV = [f'TFZOO_MLMD_MYSQL_{key}' for key in ('HOST', 'PORT', 'DATABASE', 'USER', 'PASSWORD')]
PROJECT_PARTS = ('pipelines', 'components', 'models', 'data')


def copy_project(dest: str) -> str:
  os.makedirs(dest, exist_ok=True)
  for part in PROJECT_PARTS:
    shutil.copytree(os.path.join(REPO, part), os.path.join(dest, part),
                    ignore=shutil.ignore_patterns('__pycache__'))
  return dest


def tfzoo_env(project: str, home: str, **env_vars: str) -> Dict[str, str]:
  """The environment `tfzoo` runs in for a test: the project copy, the work directory, and
  nothing of the caller's BEAM_ARGS or TFZOO_MLMD_MYSQL_* unless the test passes them."""
  env = {k: v for k, v in os.environ.items() if k not in MYSQL_ENV and k != 'BEAM_ARGS'}
  return dict(env, PYTHONPATH=project, TFZOO_HOME=home, **env_vars)


def run_tfzoo(project: str, home: str, *args: str, timeout: int = 900, **env_vars: str
              ) -> subprocess.CompletedProcess:
  """`python -m pipelines.cli ARGS` (what `make` runs), to completion."""
  return subprocess.run([sys.executable, '-m', 'pipelines.cli', *args], cwd=project,
                        env=tfzoo_env(project, home, **env_vars), capture_output=True, text=True,
                        timeout=timeout)


def tfzoo_lines(project: str, home: str, *args: str) -> List[str]:
  """The output lines of `tfzoo ARGS`, which must succeed with nothing on stderr (no import
  chatter on the terminal)."""
  result = run_tfzoo(project, home, *args)
  assert result.returncode == 0, result.stdout + result.stderr
  assert not result.stderr.strip(), result.stderr
  return result.stdout.splitlines()


def start_tfzoo(project: str, home: str, *args: str, quiet: bool = False,
                **env_vars: str) -> subprocess.Popen:
  """The same, started in its own process session: output in pipes (text), or discarded."""
  output = subprocess.DEVNULL if quiet else subprocess.PIPE
  return subprocess.Popen([sys.executable, '-m', 'pipelines.cli', *args], cwd=project,
                          env=tfzoo_env(project, home, **env_vars), stdout=output,
                          stderr=output, text=True, start_new_session=True)


def serving_snapshot(serving_dir: str) -> Dict[str, bytes]:
  """Every file under serving_dir with its bytes: equal snapshots mean nothing changed."""
  snapshot = {}
  for path in sorted(glob.glob(os.path.join(serving_dir, '**'), recursive=True)):
    if os.path.isfile(path):
      with open(path, 'rb') as f:
        snapshot[os.path.relpath(path, serving_dir)] = f.read()
  return snapshot


def versions(serving_dir: str) -> List[str]:
  return sorted(os.listdir(serving_dir)) if os.path.isdir(serving_dir) else []


def node_states(metadata_path: str) -> Dict[str, str]:
  """{node: executed|cached|failed} for the latest run, read from ML Metadata."""
  from pipelines.mlmd import metadata, summary  # pylint: disable=g-import-not-at-top
  run = summary.latest_run(metadata.sqlite_config(metadata_path))
  return {c.node: c.state for c in run.components}


def _rounded(value):
  """Floats to 9 significant digits, in nested dicts and lists."""
  if isinstance(value, dict):
    return {k: _rounded(v) for k, v in value.items()}
  if isinstance(value, list):
    return [_rounded(v) for v in value]
  if isinstance(value, float):
    return float(f'{value:.9g}')
  return value


def statistics_dict(uri: str, split: str) -> dict:
  """A StatisticsGen artifact's statistics of one split as a dict, to compare two runs' with
  `==`: floats to 9 significant digits (partial sums merged in another order) and each
  dataset's features sorted by path (merged in another order)."""
  from google.protobuf import json_format  # pylint: disable=g-import-not-at-top
  from tensorflow_metadata.proto.v0 import statistics_pb2  # pylint: disable=g-import-not-at-top
  with open(os.path.join(uri, f'Split-{split}', 'FeatureStats.pb'), 'rb') as f:
    stats = statistics_pb2.DatasetFeatureStatisticsList.FromString(f.read())
  stats = _rounded(json_format.MessageToDict(stats))
  for dataset in stats['datasets']:
    dataset['features'].sort(key=lambda feature: feature['path']['step'])
  return stats


# The test files that run pipelines, the longest first (`make test --durations=0`, 2 cores,
# docs/testing.md): `make test` hands whole files to its two processes in this order
# (--no-loadscope-reorder), so that the long ones start first and neither process is left
# with one at the end while the other idles. Files not named here follow, as collected.
LONGEST_FIRST = ('test_drift.py', 'test_e2e_mnist.py', 'test_e2e_csv.py', 'test_e2e_cnn.py',
                 'test_e2e_words.py', 'test_bad_input.py', 'test_e2e_tuner.py',
                 'test_e2e_tabular.py', 'test_versions.py', 'test_interruptions.py',
                 'test_score.py')


def pytest_collection_modifyitems(config, items):
  del config  # unused
  here = os.path.dirname(os.path.abspath(__file__))
  missing = [n for n in LONGEST_FIRST if not os.path.isfile(os.path.join(here, n))]
  if missing:
    raise pytest.UsageError(f'conftest.LONGEST_FIRST names missing files: {missing}')
  rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
  items.sort(key=lambda item: rank.get(os.path.basename(str(item.path)), len(rank)))


@pytest.fixture(autouse=True)
def _no_mysql_from_outside(monkeypatch):
  """No TFZOO_MLMD_MYSQL_* leaks in from the caller's shell; tests that use MySQL set theirs."""
  for name in MYSQL_ENV:
    monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope='session')
def mnist_manual_dir() -> str:
  """The original MNIST files (CI and tests never download): $TFZOO_TFDS_MANUAL_DIR, else
  ../shared/data/mnist beside the repository."""
  path = os.environ.get('TFZOO_TFDS_MANUAL_DIR') or os.path.join(
      os.path.dirname(REPO), 'shared', 'data', 'mnist')
  assert os.path.isfile(os.path.join(path, 'train-images-idx3-ubyte.gz')), (
      f'MNIST original files not found in {path}; set TFZOO_TFDS_MANUAL_DIR')
  return path


@pytest.fixture(scope='session')
def tfds_data_dir(tmp_path_factory, mnist_manual_dir) -> str:
  """A TFDS data dir with MNIST prepared once for the whole session, from the manual dir."""
  from components.tfds_example_gen.prepare import prepare_builder  # pylint: disable=g-import-not-at-top
  data_dir = str(tmp_path_factory.mktemp('tensorflow_datasets'))
  prepare_builder('mnist:3.0.1', data_dir, mnist_manual_dir)
  return data_dir


@pytest.fixture
def mnist_data(tfds_data_dir, monkeypatch):
  """MNIST prepared once (tfds_data_dir), where TFDS and the tests' readers look for it."""
  monkeypatch.setenv('TFDS_DATA_DIR', tfds_data_dir)


@pytest.fixture(scope='session')
def project(tmp_path_factory) -> str:
  return copy_project(str(tmp_path_factory.mktemp('project')))
