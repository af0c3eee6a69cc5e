"""Interrupted runs resume, concurrent runs don't collide, pushes are atomic."""
from __future__ import annotations

import glob
import json
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
from pipelines import registry
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


def _wait_for_file(pattern: str, process: subprocess.Popen, timeout: float) -> str:
  deadline = time.time() + timeout
  while time.time() < deadline:
    assert process.poll() is None, f'the run ended before {pattern} appeared'
    found = glob.glob(pattern)
    if found:
      return found[0]
    time.sleep(0.1)
  raise AssertionError(f'{pattern} not written within {timeout} s')


def test_run_killed_during_trainer_resumes_from_its_last_epoch(project, tmp_path, tfds_data_dir,
                                                                 mnist_manual_dir):
  """The cnn fast Trainer killed after its first epoch's checkpoint: the next run takes every
  step before the Trainer from cache, resumes training after that epoch, and pushes a model
  that passes its gates."""
  from models.common import resume, training  # pylint: disable=g-import-not-at-top
  home = str(tmp_path)
  env = dict(TFZOO_TFDS_MANUAL_DIR=mnist_manual_dir, TFDS_DATA_DIR=tfds_data_dir)
  steps = registry.pipeline_spec('cnn_fast').train_steps
  epochs, per_epoch = training.epochs_for(steps)  # how training.fit splits them
  resume_root = os.path.join(home, 'pipelines', 'cnn_fast', 'Trainer', 'resume')
  process = start_tfzoo(project, home, 'run', 'cnn', '--fast', quiet=True, **env)
  try:
    _wait_for_file(os.path.join(resume_root, '*', 'epoch-*.weights.h5'), process, timeout=600)
  finally:
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
  metadata = os.path.join(home, 'metadata', 'cnn_fast.sqlite')
  serving = os.path.join(home, 'serving', 'cnn_fast')
  assert versions(serving) == []
  assert node_states(metadata)['Trainer'] == 'running'  # what SIGKILL leaves behind
  [key] = os.listdir(resume_root)
  checkpointed = resume.EpochCheckpoints(os.path.join(resume_root, key)).completed_epochs()[-1]

  result = run_tfzoo(project, home, 'run', 'cnn', '--fast', **env)

  assert result.returncode == 0, result.stdout + result.stderr
  assert ('an earlier run was interrupted during Trainer; marked that execution canceled'
          in result.stdout)
  states = node_states(metadata)
  upstream = ('TfdsExampleGen', 'StatisticsGen', 'ImportSchemaGen', 'ExampleValidator',
              'Transform')
  assert {c: states[c] for c in upstream} == dict.fromkeys(upstream, 'cached')
  assert states['Trainer'] == states['Pusher'] == 'executed'
  run = summary.latest_run(mlmd_metadata.sqlite_config(metadata))
  [model_run] = run.component('Trainer').outputs['model_run']
  properties = {k: v.int_value for k, v in model_run.custom_properties.items()}
  # 80 steps (batches of 250) as 10 epochs of 8; the killed run had finished `checkpointed`
  # epochs or more (it may have written one more between the check and the kill).
  assert (steps, epochs, per_epoch) == (80, 10, 8)
  assert properties['epochs'] == epochs and properties['steps_per_epoch'] == per_epoch
  resumed = properties['resumed_from_epoch']
  assert checkpointed <= resumed < epochs
  assert properties['steps_trained'] == (epochs - resumed) * per_epoch < steps
  assert (f'training: resumed after epoch {resumed} of {epochs} from an interrupted run\'s '
          f'checkpoint; trained {(epochs - resumed) * per_epoch} of {steps} steps'
          ) in result.stdout
  assert run.blessed and run.metrics and all(m.passed for m in run.metrics)
  assert len(versions(serving)) == 1
  assert os.listdir(resume_root) == []  # training finished: nothing left to resume
  report = run_tfzoo(project, home, 'report', 'cnn_fast')
  assert report.returncode == 0, report.stdout + report.stderr
  with open(os.path.join(home, 'reports', 'cnn_fast', 'index.html'), encoding='utf-8') as f:
    assert f'<p data-resumed="{resumed}">training: resumed after epoch {resumed}' in f.read()
  store = summary.open_store(mlmd_metadata.sqlite_config(metadata))
  by_state = {}
  for execution in store.get_executions():
    by_state.setdefault(execution.last_known_state, []).append(execution)
  assert metadata_store_pb2.Execution.RUNNING not in by_state
  [canceled] = by_state[metadata_store_pb2.Execution.CANCELED]
  assert canceled.type.endswith('ResumableTrainer')


def _fit_args(tmp_path, **changes):
  """What training.fit reads of a Trainer's FnArgs, laid out as TFX's local runners do."""
  args = dict(train_files=['/examples/1/Split-train/*'], eval_files=['/examples/1/Split-eval/*'],
              transform_output='/transform/2', schema_path='/schema/3', train_steps=12,
              eval_steps=2, hyperparameters=None, base_model=None,
              custom_config={'model': 'toy', 'code': 'abc'},
              model_run_dir=str(tmp_path / 'root' / 'Trainer' / 'model_run' / '7'))
  args.update(changes)
  return types.SimpleNamespace(**args)


def _toy_model():
  import keras  # pylint: disable=g-import-not-at-top
  keras.utils.set_random_seed(1)
  model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
  model.compile(keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(0.01, 12)), 'mse')
  return model


def _toy_data():
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  return tf.data.Dataset.from_tensor_slices(
      (tf.random.stateless_normal((8, 3), (1, 2)), tf.zeros((8, 2)))).batch(4).repeat()


def test_fit_resumes_the_same_training_only(tmp_path):
  """training.fit after a crash in epoch 3: the same training resumes after epoch 2 with its
  optimizer state; a changed config starts over and removes the old state; a checkpoint that
  cannot be read is dropped and training starts over."""
  import keras  # pylint: disable=g-import-not-at-top
  from components.resumable_trainer import keys  # pylint: disable=g-import-not-at-top
  from models.common import resume, training  # pylint: disable=g-import-not-at-top

  class CrashInEpoch3(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
      if epoch == 2:
        raise RuntimeError('crash')

  def record(fn_args):
    with open(os.path.join(fn_args.model_run_dir, keys.RECORD_FILE)) as f:
      return json.load(f)

  root = tmp_path / 'root' / 'Trainer' / 'resume'
  fn_args = _fit_args(tmp_path)
  with pytest.raises(RuntimeError, match='crash'):
    training.fit(_toy_model(), fn_args, _toy_data(), None, callbacks=[CrashInEpoch3()])
  key = resume.resume_key(fn_args)
  assert os.listdir(root) == [key]
  assert os.listdir(root / key) == ['epoch-0002.weights.h5']  # 12 steps: 6 epochs of 2

  model = _toy_model()
  training.fit(model, fn_args, _toy_data(), None)
  assert int(model.optimizer.iterations) == 12  # the restored 4 and the 8 left
  assert record(fn_args) == {keys.EPOCHS: 6, keys.STEPS_PER_EPOCH: 2,
                             keys.RESUMED_FROM_EPOCH: 2, keys.STEPS_TRAINED: 8,
                             keys.PRECISION: 'float32'}
  assert os.listdir(root) == []

  with pytest.raises(RuntimeError, match='crash'):
    training.fit(_toy_model(), fn_args, _toy_data(), None, callbacks=[CrashInEpoch3()])
  changed = _fit_args(tmp_path, custom_config={'model': 'toy', 'code': 'abd'})
  model = _toy_model()
  training.fit(model, changed, _toy_data(), None)
  assert int(model.optimizer.iterations) == 12 and record(changed)[keys.RESUMED_FROM_EPOCH] == 0
  assert os.listdir(root) == []  # the other key's state went when this training started

  with pytest.raises(RuntimeError, match='crash'):
    training.fit(_toy_model(), fn_args, _toy_data(), None, callbacks=[CrashInEpoch3()])
  with open(root / key / 'epoch-0002.weights.h5', 'wb') as f:
    f.write(b'not a checkpoint')
  with open(root / key / '.partial-1.weights.h5', 'wb') as f:
    f.write(b'half written')
  model = _toy_model()
  training.fit(model, fn_args, _toy_data(), None)
  assert int(model.optimizer.iterations) == 12 and record(fn_args)[keys.RESUMED_FROM_EPOCH] == 0


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
