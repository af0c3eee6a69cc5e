"""`tfzoo versions MODEL` (every pushed version, the served one marked) and `tfzoo rollback
MODEL [VERSION]` (an earlier blessed version served again).

A rollback re-pushes the old version's files under a new, highest version number, the way the
Pusher pushes (a hidden copy, then one rename), so TF Serving's latest-version policy serves it
with the config `tfzoo serve` already wrote; docs/serving.md says why not pin a version. It
takes the pipeline's run lock, refuses a version not blessed by both the Evaluator and the
InfraValidator, and is recorded in ML Metadata (pipelines/mlmd/pushes.py).

Exit status: 0 done (or already served); 2 bad usage (unknown MODEL, a version that is not a
number or not in serving/<MODEL>/); 3 refused: that version was never blessed; 1 nothing to
roll back to, or the copy or the record failed (nothing changed).
"""
from __future__ import annotations

import argparse
import datetime
import logging
import os
import re
import shutil
from typing import Dict, List, Optional

from components.atomic_pusher import INCOMING_PREFIX, push_atomically
from pipelines import registry
from pipelines.cli.common import (EXIT_NOT_BLESSED, EXIT_OK, EXIT_USAGE, CliError, last_line,
                                  quiet_imports)
from pipelines.mlmd import inspection, metadata, pushes, runlock, summary
from pipelines.paths import Paths
from pipelines.serving import server


def _pipeline(model: str) -> str:
  try:
    return registry.pipeline_spec(model).name
  except registry.UnknownModelError as e:
    raise CliError(str(e), EXIT_USAGE) from None


def _on_disk(paths: Paths, pipeline: str) -> List[int]:
  return server.pushed_models(paths.serving_root()).get(pipeline, [])


def _version(text: str, serving_dir: str, pipeline: str) -> int:
  """VERSION from the command line: a version number, or its folder (as `lineage` takes it),
  that is a version of serving/<pipeline>/ on disk; nothing else reaches a path."""
  if '/' in text or os.sep in text:
    folder = os.path.realpath(text)
    if os.path.dirname(folder) != os.path.realpath(serving_dir):
      raise CliError(f'{text}: not a version folder of {serving_dir}', EXIT_USAGE)
    text = os.path.basename(folder)
  if not re.fullmatch(r'[1-9][0-9]{0,18}', text):
    raise CliError(f'version {text!r}: expected a version number of {pipeline}, as `tfzoo '
                   f'versions {pipeline}` lists them', EXIT_USAGE)
  folder = os.path.join(serving_dir, text)
  if (not os.path.isfile(os.path.join(folder, 'saved_model.pb'))
      or os.path.dirname(os.path.realpath(folder)) != os.path.realpath(serving_dir)):
    raise CliError(f'{pipeline} has no version {text} in {serving_dir} (`tfzoo versions '
                   f'{pipeline}` lists them); nothing changed', EXIT_USAGE)
  return int(text)


def _time(ms: int) -> str:
  return datetime.datetime.fromtimestamp(ms / 1000).strftime('%Y-%m-%d %H:%M:%S')


def _recorded(paths: Paths, pipeline: str, read_only: bool = True):
  """(config, every push recorded) of the pipeline's store; CliError if there is none."""
  try:
    inspection.stores(paths, pipeline)  # one line if nothing was ever recorded
    config = metadata.connection_config(paths, pipeline, read_only=read_only)
    return config, pushes.pushes(summary.open_store(config), pipeline)
  except metadata.MetadataConfigError as e:
    raise CliError(str(e), EXIT_USAGE) from None
  except (inspection.InspectionError, metadata.MetadataConnectionError) as e:
    raise CliError(str(e)) from None


def versions_command(args: argparse.Namespace) -> int:
  pipeline = _pipeline(args.model)
  paths = Paths.from_env(args.home)
  config, recorded = _recorded(paths, pipeline)
  by_version = {p.version: p for p in recorded}
  on_disk = _on_disk(paths, pipeline)
  if not on_disk and not recorded:
    raise CliError(f'{pipeline} has pushed nothing yet (`tfzoo why-not-blessed {pipeline}` '
                   'says why)')
  quiet_imports()  # reading TFMA's evaluations imports TensorFlow
  logging.getLogger('absl').setLevel(logging.ERROR)  # TFMA: 'Fail to find plots ...'
  store = summary.open_store(config)
  metrics: Dict[str, str] = {}
  rows = []
  for version in sorted(set(on_disk) | set(by_version)):
    push = by_version.get(version)
    if push is None:
      rows.append((version, '', '', 'not recorded in ML Metadata: not pushed by the pipeline'))
      continue
    uri = pushes.evaluation_uri(store, push)
    if uri and uri not in metrics:
      metrics[uri] = ', '.join(f'{c.key} = {"n/a" if c.value is None else f"{c.value:.6g}"}'
                               for c in summary.gate_checks(uri)) if os.path.isdir(uri) else ''
    notes = [metrics.get(uri, '') if uri else '']
    if push.rollback_of is not None:
      notes.append(f'rollback of {push.rollback_of}')
    if version not in on_disk:
      notes.append('gone from serving/')
    if push.refusal():
      notes.append(f'not blessed: {push.refusal()}')
    rows.append((version, _time(push.pushed_ms), push.run_id or '?',
                 '  '.join(n for n in notes if n) or '-'))
  served = on_disk[-1] if on_disk else None
  print(f'{pipeline}: {len(rows)} pushed versions in {paths.serving_dir(pipeline)}, oldest first; '
        '* = the one TF Serving serves now (latest policy: the highest on disk)')
  print(f'  {"version":<11} {"pushed":<19}  {"run":<26}  gate metrics')
  for version, when, run_id, notes in rows:
    mark = '*' if version == served else ' '
    print(f'{mark} {version:<11} {when:<19}  {run_id:<26}  {notes}'.rstrip())
  return EXIT_OK


def _default_target(pipeline: str, by_version: Dict[int, pushes.Push], on_disk: List[int]
                    ) -> int:
  """The newest blessed version on disk older than the served model's first push, holding
  another model: `rollback` again goes further back; VERSION= brings a newer one back."""
  served = by_version.get(on_disk[-1])
  model = served.model_id if served else None
  origin = min((v for v, p in by_version.items() if model is not None and p.model_id == model),
               default=on_disk[-1])
  candidates = [v for v in on_disk if v < origin and v in by_version
                and by_version[v].refusal() is None and by_version[v].model_id != model]
  if not candidates:
    raise CliError(f'nothing to roll back to: {pipeline} has no blessed version older than '
                   f'{origin} in serving/ (`tfzoo versions {pipeline}` lists them); nothing '
                   'changed')
  return candidates[-1]


def rollback_command(args: argparse.Namespace) -> int:
  pipeline = _pipeline(args.model)
  paths = Paths.from_env(args.home)
  serving_dir = paths.serving_dir(pipeline)
  wanted = _version(args.version, serving_dir, pipeline) if args.version else None

  def waiting(pid: str) -> None:
    print(f'tfzoo: a run of {pipeline} is in progress (pid {pid}); waiting for it to finish',
          flush=True)

  try:
    with runlock.pipeline_lock(metadata.lock_path(paths, pipeline), waiting):
      return _rollback_locked(pipeline, paths, serving_dir, wanted)
  except metadata.MetadataConnectionError as e:
    raise CliError(str(e)) from None


def _rollback_locked(pipeline: str, paths: Paths, serving_dir: str,
                     wanted: Optional[int]) -> int:
  config, recorded = _recorded(paths, pipeline, read_only=False)
  by_version = {p.version: p for p in recorded}
  on_disk = _on_disk(paths, pipeline)  # again, under the lock: a run may have pushed meanwhile
  if not on_disk:
    raise CliError(f'{pipeline} has nothing in {serving_dir} to roll back to')
  if wanted is not None and wanted not in on_disk:
    raise CliError(f'{pipeline} has no version {wanted} in {serving_dir}; nothing changed',
                   EXIT_USAGE)
  target = _default_target(pipeline, by_version, on_disk) if wanted is None else wanted
  source = by_version.get(target)
  if source is None:
    raise CliError(f'{pipeline} version {target} was never blessed: no push of it is recorded '
                   f'in ML Metadata ({metadata.describe(paths, pipeline)}); refused, nothing '
                   'changed', EXIT_NOT_BLESSED)
  if source.refusal():
    raise CliError(f'{pipeline} version {target} {source.refusal()}; refused, nothing changed',
                   EXIT_NOT_BLESSED)
  served = on_disk[-1]
  served_push = by_version.get(served)
  if target == served or (served_push and served_push.model_id == source.model_id):
    print(f'tfzoo: {pipeline} version {target} is what TF Serving serves already (version '
          f'{served}); nothing changed')
    return EXIT_OK
  try:  # a new version above every other, the Pusher's way: complete in one rename, or absent
    path, version = push_atomically(os.path.join(serving_dir, str(target)), serving_dir)
  except OSError as e:
    raise CliError(f'could not copy {pipeline} version {target}: {e.strerror or e}; nothing '
                   f'changed, version {served} is still served') from None
  try:
    execution_id = pushes.record_rollback(config, pipeline, source, path, int(version))
  except Exception as e:  # pylint: disable=broad-except
    _withdraw(path, serving_dir)
    raise CliError(f'could not record the rollback in ML Metadata ({type(e).__name__}: '
                   f'{last_line(e)}); withdrew version {version}, nothing changed') from None
  print(f'tfzoo: {pipeline} version {target} (run {source.run_id or "?"}) is served again, as '
        f'version {version}: {path}')
  print(f'tfzoo: TF Serving loads it at its next look at {serving_dir} (latest-version '
        f'policy); {served} stays on disk; recorded in ML Metadata as {pushes.ROLLBACK_TYPE} '
        f'execution #{execution_id}')
  return EXIT_OK


def _withdraw(path: str, serving_dir: str) -> None:
  """Takes a version back out in one rename (out of TF Serving's sight), then deletes it."""
  hidden = os.path.join(serving_dir, f'{INCOMING_PREFIX}withdrawn-{os.path.basename(path)}')
  os.rename(path, hidden)
  shutil.rmtree(hidden, ignore_errors=True)
