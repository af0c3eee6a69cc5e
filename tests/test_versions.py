"""`tfzoo versions` and `tfzoo rollback` on real runs of the classifier pipeline.

One work directory for the module, built once by three runs (about 75 s on 2 cores): the
classifier pushed (the first version), retrained with --train-steps 200 and pushed again (the
second), then refused by an impossible gate (nothing pushed; its candidate is the first
version's model, cached, so that model now also carries a "not blessed" blessing: what counts
is the blessing of the push). Then, in order: `versions` lists both pushes; `rollback` to the
first copies it as a new highest version that TF Serving's loader answers with, recorded in ML
Metadata; refusals change nothing; a copy or a record that fails leaves nothing behind; the
default VERSION walks back through the models.
"""
from __future__ import annotations

import errno
import os
import re
import shutil

import numpy as np
import pytest

from components.atomic_pusher import INCOMING_PREFIX, atomic
from components.infra_validator.session_loader import ServingSession
from conftest import run_tfzoo, serving_snapshot, versions
from pipelines import cli
from pipelines.mlmd import inspection, metadata, pushes, summary

FUR = np.array([0, 1, 1, 0], np.float32)
WINGS = np.array([0, 0, 1, 1], np.float32)


@pytest.fixture(scope='module')
def home(project, tmp_path_factory) -> str:
  home = str(tmp_path_factory.mktemp('home'))
  for args, status in ((['run', 'classifier'], 0),
                       (['run', 'classifier', '--train-steps', '200'], 0),
                       (['run', 'classifier', '--gate', 'sparse_categorical_accuracy=1.01'], 3)):
    result = run_tfzoo(project, home, *args)
    assert result.returncode == status, result.stdout + result.stderr
  assert len(versions(os.path.join(home, 'serving', 'classifier'))) == 2
  return home


def _serving(home: str) -> str:
  return os.path.join(home, 'serving', 'classifier')


def _store(home: str):
  return summary.open_store(metadata.sqlite_config(os.path.join(home, 'metadata',
                                                                'classifier.sqlite')))


def _answers(version_dir: str) -> np.ndarray:
  """serving_raw's probabilities, through TF Serving's loader."""
  with ServingSession(version_dir) as session:
    return session.run('serving_raw', fur=FUR, wings=WINGS)['probabilities']


def _tfzoo(capsys, home: str, *args: str):
  """(status, stdout, the stderr lines) of the CLI run in this process."""
  capsys.readouterr()
  status = cli.main([*args, '--home', home])
  out, err = capsys.readouterr()
  return status, out, err.splitlines()


def test_versions_lists_each_push_with_its_run_and_metrics(project, home):
  first, second = versions(_serving(home))
  run_ids = [c.name for c in summary.run_contexts(_store(home), 'classifier')]
  result = run_tfzoo(project, home, 'versions', 'classifier')
  assert result.returncode == 0, result.stdout + result.stderr
  rows = [line for line in result.stdout.splitlines() if re.match(r'[* ] \d', line)]
  assert len(rows) == 2, result.stdout  # the refused run pushed nothing
  for row, version, run_id, mark in ((rows[0], first, run_ids[0], ' '),
                                     (rows[1], second, run_ids[1], '*')):
    assert re.fullmatch(rf'\{mark} {version} +\d{{4}}-\d\d-\d\d \d\d:\d\d:\d\d +{run_id} +'
                        r'sparse_categorical_accuracy = 1, sparse_categorical_accuracy per class = 1',
                        row), row


def test_rollback_serves_the_first_version_again_as_a_new_highest_version(project, home,
                                                                          capsys):
  serving = _serving(home)
  first, second = versions(serving)
  result = run_tfzoo(project, home, 'rollback', 'classifier', first)
  assert result.returncode == 0, result.stdout + result.stderr
  [_, _, new] = versions(serving)
  assert int(new) > int(second)
  assert f'classifier version {first} ' in result.stdout and f'as version {new}' in result.stdout
  assert (serving_snapshot(os.path.join(serving, new))
          == serving_snapshot(os.path.join(serving, first)))
  answers = _answers(os.path.join(serving, new))
  np.testing.assert_array_equal(answers, _answers(os.path.join(serving, first)))
  assert not np.array_equal(answers, _answers(os.path.join(serving, second)))

  store = _store(home)
  push = pushes.pushes(store, 'classifier')[-1]
  assert (push.version, push.rollback_of, push.execution.type) == (
      int(new), int(first), pushes.ROLLBACK_TYPE)
  assert push.execution.last_known_state == push.execution.COMPLETE
  assert summary.pipeline_context(store, 'classifier').id in [
      c.id for c in store.get_contexts_by_execution(push.execution.id)]
  assert push.inputs['source'].custom_properties['pushed_version'].string_value == first
  # What `score` takes as the served model: the first version's Model artifact.
  model, _ = inspection.pushed_model(store, 'classifier')
  assert model.id == pushes.pushes(store, 'classifier')[0].model_id == push.model_id

  status, out, _ = _tfzoo(capsys, home, 'versions', 'classifier')
  assert status == 0
  assert re.search(rf'^\* {new} .*sparse_categorical_accuracy per class = 1  rollback of '
                   rf'{first}$', out, re.M), out
  assert re.search(rf'^  {second} ', out, re.M), out
  lines = inspection.lineage('classifier', metadata.sqlite_config(
      os.path.join(home, 'metadata', 'classifier.sqlite'))).splitlines()
  assert lines[0].startswith(f'{os.path.join(serving, new)}  rollback at ')
  assert lines[0].endswith(f'the files of version {first}')
  assert lines[1] == os.path.join(serving, first)


def test_never_blessed_and_unknown_versions_are_refused_and_nothing_changes(project, home,
                                                                           tmp_path):
  serving = _serving(home)
  first, second, _ = versions(serving)
  # A version no push recorded (copied in by hand), below the served one.
  unrecorded = str(int(first) - 1)
  shutil.copytree(os.path.join(serving, second), os.path.join(serving, unrecorded))
  # A copy of the store in which the first push's InfraBlessing says "not blessed".
  forged = str(tmp_path / 'forged')
  shutil.copytree(os.path.join(home, 'metadata'), os.path.join(forged, 'metadata'))
  shutil.copytree(os.path.join(home, 'serving'), os.path.join(forged, 'serving'))
  config = metadata.sqlite_config(os.path.join(forged, 'metadata', 'classifier.sqlite'), False)
  store = summary.open_store(config)
  infra = pushes.pushes(store, 'classifier')[0].inputs['infra_blessing']
  infra.custom_properties['blessed'].int_value = 0
  store.put_artifacts([infra])
  try:
    before = serving_snapshot(serving), serving_snapshot(_serving(forged))
    for where, version, status, message in (
        (home, '12345', 2, 'classifier has no version 12345 in '),
        (home, '../../metadata', 2, '../../metadata: not a version folder of '),
        (home, 'x1', 2, "version 'x1': expected a version number"),
        (home, unrecorded, 3, f'classifier version {unrecorded} was never blessed: no push '),
        (forged, first, 3, f'classifier version {first} was never blessed by the '
                           'InfraValidator')):
      result = run_tfzoo(project, where, 'rollback', 'classifier', version)
      assert result.returncode == status, result.stdout + result.stderr
      [line] = result.stderr.splitlines()
      assert line.startswith(f'tfzoo: {message}'), line
      assert result.stdout == ''
    assert (serving_snapshot(serving), serving_snapshot(_serving(forged))) == before
  finally:
    shutil.rmtree(os.path.join(serving, unrecorded))


def test_a_failed_copy_or_record_leaves_no_version_and_no_temp_dir(home, capsys, monkeypatch):
  serving = _serving(home)
  second = versions(serving)[1]
  before, recorded = serving_snapshot(serving), len(pushes.pushes(_store(home), 'classifier'))

  def copy_half_then_fail(src, dst):
    os.makedirs(os.path.join(dst, 'variables'))
    shutil.copy(os.path.join(src, 'saved_model.pb'), dst)
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

  with monkeypatch.context() as patch:
    patch.setattr(atomic.shutil, 'copytree', copy_half_then_fail)
    status, out, err = _tfzoo(capsys, home, 'rollback', 'classifier', second)
  assert status == 1 and out == ''
  assert err == [f'tfzoo: could not copy classifier version {second}: No space left on device; '
                 f'nothing changed, version {versions(serving)[-1]} is still served']
  with monkeypatch.context() as patch:
    patch.setattr(pushes, 'record_rollback', _fail_to_record)
    status, out, err = _tfzoo(capsys, home, 'rollback', 'classifier', second)
  assert status == 1 and out == ''
  [line] = err
  assert re.fullmatch(r'tfzoo: could not record the rollback in ML Metadata \(OSError: disk '
                      r'I/O error\); withdrew version \d+, nothing changed', line), line
  assert serving_snapshot(serving) == before
  assert not [n for n in os.listdir(serving) if n.startswith(INCOMING_PREFIX)]
  assert len(pushes.pushes(_store(home), 'classifier')) == recorded


def _fail_to_record(*args, **kwargs):
  raise OSError('disk I/O error')


def test_default_version_walks_back_through_the_models(home, capsys):
  serving = _serving(home)
  first, second, rolled_back = versions(serving)
  status, _, err = _tfzoo(capsys, home, 'rollback', 'classifier')  # serving the first model
  assert status == 1 and len(err) == 1
  assert err[0].startswith(f'tfzoo: nothing to roll back to: classifier has no blessed version '
                           f'older than {first}')
  status, out, _ = _tfzoo(capsys, home, 'rollback', 'classifier', first)
  assert status == 0 and 'is what TF Serving serves already' in out
  # VERSION as the folder `lineage` takes: the second model back, then the default rolls
  # back from it to the first.
  assert _tfzoo(capsys, home, 'rollback', 'classifier', os.path.join(serving, second))[0] == 0
  assert _tfzoo(capsys, home, 'rollback', 'classifier')[0] == 0
  *_, again, last = versions(serving)
  assert int(rolled_back) < int(again) < int(last)
  assert serving_snapshot(os.path.join(serving, again)) == serving_snapshot(
      os.path.join(serving, second))
  assert serving_snapshot(os.path.join(serving, last)) == serving_snapshot(
      os.path.join(serving, first))
