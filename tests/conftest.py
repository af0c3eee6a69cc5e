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
PROJECT_PARTS = ('pipelines', 'components', 'models', 'data')


def copy_project(dest: str) -> str:
  os.makedirs(dest, exist_ok=True)
  for part in PROJECT_PARTS:
    shutil.copytree(os.path.join(REPO, part), os.path.join(dest, part),
                    ignore=shutil.ignore_patterns('__pycache__'))
  return dest


def run_tfzoo(project: str, home: str, *args: str, timeout: int = 900, **env_vars: str
              ) -> subprocess.CompletedProcess:
  env = dict(os.environ, PYTHONPATH=project, TFZOO_HOME=home, **env_vars)
  return subprocess.run([sys.executable, '-m', 'pipelines.cli', *args], cwd=project, env=env,
                        capture_output=True, text=True, timeout=timeout)


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
  from components.tfds_example_gen.executor import prepare_builder  # pylint: disable=g-import-not-at-top
  data_dir = str(tmp_path_factory.mktemp('tensorflow_datasets'))
  prepare_builder('mnist:3.0.1', data_dir, mnist_manual_dir)
  return data_dir


@pytest.fixture(scope='session')
def project(tmp_path_factory) -> str:
  return copy_project(str(tmp_path_factory.mktemp('project')))
