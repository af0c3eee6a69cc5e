"""Interrupted runs resume, concurrent runs don't collide, pushes are atomic."""
from __future__ import annotations

import glob
import os
import shutil
import signal
import subprocess
import sys
import time
import types

import pytest

from components.atomic_pusher import INCOMING_PREFIX, atomic as push_atomic
from components.atomic_pusher import push_atomically
from conftest import REPO, node_states, run_tfzoo, start_tfzoo, versions
from pipelines.mlmd import metadata as mlmd_metadata, runlock, summary

from ml_metadata.proto import metadata_store_pb2


def _wait_for_log_line(home: str, needle: str, process: subprocess.Popen, timeout: float):
  deadline = time.time() + timeout
  while time.time() < deadline:
    assert process.poll() is None, 'the run ended before the line appeared'
    for log in glob.glob(os.path.join(home, 'logs', '*.log')):
      with open(log, errors='replace') as f:
        if needle in f.read():
          return
    time.sleep(0.5)
  raise AssertionError(f'{needle!r} not logged within {timeout} s')


def test_run_killed_during_trainer_resumes_from_cache(project, tmp_path):
  home = str(tmp_path)
  process = start_tfzoo(project, home, 'run', 'classifier', quiet=True)
  try:
    _wait_for_log_line(home, 'Component Trainer is running.', process, timeout=600)
    time.sleep(3)  # well inside model training
  finally:
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
  metadata = os.path.join(home, 'metadata', 'classifier.sqlite')
  serving = os.path.join(home, 'serving', 'classifier')
  assert versions(serving) == []
  assert node_states(metadata)['Trainer'] == 'running'  # what SIGKILL leaves behind

  result = run_tfzoo(project, home, 'run', 'classifier')

  assert result.returncode == 0, result.stdout + result.stderr
  assert ('an earlier run was interrupted during Trainer; marked that execution canceled'
          in result.stdout)
  states = node_states(metadata)
  assert {c: states[c] for c in ('CsvExampleGen', 'StatisticsGen', 'ImportSchemaGen',
                                 'ExampleValidator', 'Transform')} == dict.fromkeys(
      ('CsvExampleGen', 'StatisticsGen', 'ImportSchemaGen', 'ExampleValidator', 'Transform'),
      'cached')
  assert states['Trainer'] == states['Pusher'] == 'executed'
  assert len(versions(serving)) == 1
  store = summary.open_store(mlmd_metadata.sqlite_config(metadata))
  by_state = {}
  for execution in store.get_executions():
    by_state.setdefault(execution.last_known_state, []).append(execution)
  assert metadata_store_pb2.Execution.RUNNING not in by_state
  [canceled] = by_state[metadata_store_pb2.Execution.CANCELED]
  assert canceled.type.endswith('Trainer')


def test_second_run_of_the_same_pipeline_waits_for_the_first(tmp_path):
  lock = str(tmp_path / 'metadata' / 'cnn.sqlite.lock')
  holder = subprocess.Popen(
      [sys.executable, '-c', 'import sys, time; from pipelines.mlmd import runlock\n'
       'with runlock.pipeline_lock(sys.argv[1], print):\n'
       '  print("held", flush=True); time.sleep(3)', lock],
      cwd=REPO, env=dict(os.environ, PYTHONPATH=REPO), stdout=subprocess.PIPE, text=True)
  assert holder.stdout.readline().strip() == 'held'
  waited_for = []
  started = time.time()
  with runlock.pipeline_lock(lock, waited_for.append):
    waited = time.time() - started
  holder.wait()
  assert waited_for == [str(holder.pid)]
  assert waited > 1.0


def _saved_model(path) -> str:
  os.makedirs(os.path.join(path, 'variables'))
  for name, size in (('saved_model.pb', 1000), ('variables/variables.data-00000-of-00001',
                                                 300_000), ('variables/variables.index', 100)):
    with open(os.path.join(path, name), 'wb') as f:
      f.write(os.urandom(size))
  return str(path)


def _tree(path):
  return sorted(os.path.relpath(p, path) for p in glob.glob(os.path.join(path, '**'),
                                                              recursive=True))


def test_push_is_complete_and_two_pushes_in_one_second_are_two_versions(tmp_path, monkeypatch):
  model = _saved_model(tmp_path / 'model')
  base = str(tmp_path / 'serving' / 'cnn')
  monkeypatch.setattr(push_atomic, 'time', types.SimpleNamespace(
      time=lambda: 1_700_000_000.5, time_ns=time.time_ns))
  first, v1 = push_atomically(model, base)
  second, v2 = push_atomically(model, base)
  # TFX's Pusher would skip the second push (same timestamp folder) yet report it pushed.
  assert (v1, v2) == ('1700000000', '1700000001') and versions(base) == [v1, v2]
  for pushed in (first, second):
    assert _tree(pushed) == _tree(model)
    with open(os.path.join(pushed, 'saved_model.pb'), 'rb') as a, \
        open(os.path.join(model, 'saved_model.pb'), 'rb') as b:
      assert a.read() == b.read()


def test_interrupted_push_leaves_no_version_and_is_cleaned_up(tmp_path, monkeypatch):
  model = _saved_model(tmp_path / 'model')
  base = str(tmp_path / 'serving' / 'cnn')

  def copy_half_then_die(src, dst):
    os.makedirs(os.path.join(dst, 'variables'))
    shutil.copy(os.path.join(src, 'variables', 'variables.index'),
                os.path.join(dst, 'variables'))
    raise KeyboardInterrupt('killed mid-copy')

  monkeypatch.setattr(push_atomic.shutil, 'copytree', copy_half_then_die)
  with pytest.raises(KeyboardInterrupt):
    push_atomically(model, base)
  # What TF Serving sees: no version at all (only a hidden, non-numeric folder).
  assert [v for v in os.listdir(base) if v.isdigit()] == []
  assert [v for v in os.listdir(base) if v.startswith(INCOMING_PREFIX)]

  monkeypatch.undo()
  path, version = push_atomically(model, base)
  assert os.listdir(base) == [version]
  assert _tree(path) == _tree(model)
