"""`tfzoo run MODEL`: the pre-flight checks, the run lock, the pipeline on LocalDagRunner, and
the summary read back from ML Metadata with the exit status it implies."""
from __future__ import annotations

import argparse
import dataclasses
import os
import time
from typing import List, Optional

from components.drift_validator.errors import DataDriftError
from components.resumable_trainer import keys as trainer_keys
from components.strict_example_validator.errors import DataAnomaliesError
from components.tfds_example_gen import TfdsExampleGenError, download
from ml_metadata.proto import metadata_store_pb2

from pipelines import datafile, registry
from pipelines.cli.common import (EXIT_BAD_DATA, EXIT_FAILED, EXIT_NOT_BLESSED, EXIT_OK,
                                  EXIT_USAGE, CliError, beam_args, last_line, run_logged)
from pipelines.mlmd import manifest, metadata, runlock, summary
from pipelines.paths import Paths


def chosen_spec(args: argparse.Namespace) -> registry.ModelSpec:
  """MODEL, or its fast mode with --fast."""
  try:
    spec = registry.get_spec(args.model)
    return registry.fast_spec(spec) if args.fast else spec
  except registry.UnknownModelError as e:
    raise CliError(str(e), EXIT_USAGE) from None


def _gates(spec: registry.ModelSpec, overrides: List[str]) -> List[registry.Gate]:
  """The spec's gates with `METRIC=BOUND` overrides applied."""
  gates = {g.key: g for g in spec.gates}
  for item in overrides:
    key, sep, bound = item.partition('=')
    if not sep or key not in gates:
      raise CliError(f'--gate {item!r}: expected METRIC=BOUND with METRIC one of '
                     f'{", ".join(gates)}', EXIT_USAGE)
    try:
      gates[key] = dataclasses.replace(gates[key], bound=float(bound))
    except ValueError:
      raise CliError(f'--gate {item!r}: {bound!r} is not a number', EXIT_USAGE) from None
  return list(gates.values())


def _is_bad_data(error: Optional[BaseException]) -> bool:
  """The schema's or the drift check's refusal (however deep in TFX's exceptions)."""
  while error is not None:
    if isinstance(error, (DataAnomaliesError, DataDriftError)):
      return True
    error = error.__cause__ or error.__context__
  return False


def run_command(args: argparse.Namespace) -> int:
  spec = chosen_spec(args)
  if args.train_steps is not None and args.train_steps < 1:
    raise CliError(f'--train-steps must be a positive integer, got {args.train_steps}',
                   EXIT_USAGE)
  gates = _gates(spec, args.gate)
  if args.tune and spec.tune is None:
    raise CliError(f'--tune: {spec.name} has no search space (its module defines no tuner_fn); '
                   f'tunable models: {", ".join(registry.tunable())}', EXIT_USAGE)
  beam_args(args)
  precision_error = trainer_keys.precision_error(os.environ.get(trainer_keys.PRECISION_ENV, ''))
  if precision_error:
    raise CliError(precision_error, EXIT_USAGE)
  try:
    metadata.mysql_settings()
  except ValueError as e:
    raise CliError(str(e), EXIT_USAGE) from None
  data_path = None
  if isinstance(spec.source, registry.CsvSource):
    data_path = os.path.abspath(args.data) if args.data else spec.source.resolve()
    try:
      datafile.check_csv(data_path, spec.source.rules)
    except datafile.DataFileError as e:
      raise CliError(f'{e}; nothing was trained or pushed', EXIT_BAD_DATA) from None
  elif args.data:
    raise CliError(f'--data is for CSV models; {spec.name} reads TFDS dataset '
                   f'{spec.source.dataset}', EXIT_USAGE)
  manual_dir = os.path.abspath(args.tfds_manual_dir) if args.tfds_manual_dir else None
  os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '1')
  paths = Paths.from_env(args.home)
  if isinstance(spec.source, registry.TfdsSource) and not manual_dir:
    _check_tfds_download(spec.source.dataset, paths.tfds_data_dir())

  def waiting(pid: str) -> None:
    print(f'tfzoo: another run of {spec.name} is in progress (pid {pid}); waiting for it to '
          'finish', flush=True)

  try:
    with runlock.pipeline_lock(metadata.lock_path(paths, spec.name), waiting):
      return _run_locked(spec, args, paths, data_path, gates, manual_dir)
  except metadata.MetadataConnectionError as e:
    raise CliError(str(e)) from None


def _check_tfds_download(dataset: str, data_dir: str) -> None:
  """If TFDS would download the dataset, asks its hosts first (a few seconds; TFDS's own
  retries take minutes offline): unreachable, the run stops here, before anything is written,
  with the files --tfds-manual-dir needs. TfdsExampleGen asks again before it downloads."""
  files = download.needs_download(dataset, data_dir)
  if files:
    try:
      download.check_reachable(dataset, files, remedy=download.CLI_REMEDY)
    except TfdsExampleGenError as e:
      raise CliError(str(e)) from None


def _resume(spec: registry.ModelSpec, paths: Paths) -> None:
  """Says what a killed run left RUNNING in ML Metadata; in a store of this machine's own,
  marks it canceled so the run resumes from the cached components."""
  store = metadata.connection_config(paths, spec.name, read_only=False)
  if metadata.shared():
    running = runlock.cancel_stale_executions(store, spec.name, cancel=False)
    if running:
      print(f'tfzoo: ML Metadata ({metadata.describe(paths)}) shows {", ".join(running)} of '
            f'{spec.name} still running: another machine may be running this pipeline (the run '
            'lock is per machine), or a run was killed; left as they are', flush=True)
    return
  stale = runlock.cancel_stale_executions(store)
  if stale:
    print(f'tfzoo: an earlier run was interrupted during {", ".join(stale)}; marked that '
          'execution canceled in ML Metadata, resuming from the cached components', flush=True)


def _run_locked(spec: registry.ModelSpec, args: argparse.Namespace, paths: Paths,
                data_path: Optional[str], gates: List[registry.Gate],
                manual_dir: Optional[str]) -> int:
  """Runs the pipeline (holding its lock), prints the summary, returns the exit status."""
  _resume(spec, paths)
  log_path = os.path.join(paths.logs_dir(), f'{spec.name}-{time.strftime("%Y%m%d-%H%M%S")}.log')
  tuning = (f'; tuning first, {spec.tune.trials} trials' if args.tune else '')
  print(f'tfzoo: running pipeline {spec.name} ({spec.description}{tuning})', flush=True)
  print(f'tfzoo: outputs under {paths.home}', flush=True)
  if not args.verbose:
    print(f'tfzoo: full log in {log_path}', flush=True)
  started = time.time()

  def run_pipeline() -> None:
    # TFX's and the factory's imports inside the logged run: their chatter goes to the log.
    from tfx.orchestration.local.local_dag_runner import LocalDagRunner  # pylint: disable=g-import-not-at-top
    from pipelines import factory  # pylint: disable=g-import-not-at-top
    LocalDagRunner().run(factory.create_pipeline(
        spec, paths, beam_args=beam_args(args), data_path=data_path,
        train_steps=args.train_steps, gates=gates, tfds_manual_dir=manual_dir,
        accept_drift=args.accept_drift, tune=args.tune))

  produced_by = manifest.build(spec.module_file)
  error = run_logged(log_path, args.verbose, 'pipeline', run_pipeline)
  _record_manifest(spec, paths, started, produced_by, error)
  result = (summary.latest_run(metadata.connection_config(paths, spec.name), spec.name)
            if metadata.has_store(paths, spec.name) else None)
  if result is not None:
    print(result.format())
  print(f'tfzoo: {spec.name} pipeline took {time.time() - started:.1f} s')
  return _outcome(spec, result, error, data_path,
                  '' if args.verbose else f' (full log: {log_path})')


def _record_manifest(spec: registry.ModelSpec, paths: Paths, started: float,
                     produced_by: dict, error: Optional[BaseException]) -> None:
  """The manifest on the run this command started (none if it failed before TFX made one),
  and a failure's one line on the execution that failed: TFX's local launcher records no
  message for an executor that raised."""
  if not metadata.has_store(paths, spec.name):
    return
  store = metadata.open_store(metadata.connection_config(paths, spec.name, read_only=False))
  runs = summary.run_contexts(store, spec.name)
  if not runs or runs[-1].create_time_since_epoch < int(started * 1000) - 1000:
    return
  manifest.record(store, runs[-1], produced_by)
  if error is not None:
    failed = [e for e in store.get_executions_by_context(runs[-1].id)
              if e.last_known_state == metadata_store_pb2.Execution.FAILED]
    for execution in failed:
      execution.custom_properties[summary.ERROR_PROPERTY].string_value = (
          f'{type(error).__name__}: {last_line(error)}')
    store.put_executions(failed)


def _outcome(spec: registry.ModelSpec, result: Optional[summary.RunSummary],
             error: Optional[BaseException], data_path: Optional[str], log_note: str) -> int:
  if _is_bad_data(error):
    source = data_path or f'TFDS {spec.source.dataset}'
    raise CliError(f'{source}: {last_line(error)}; stopped before training, nothing was '
                   'pushed', EXIT_BAD_DATA)
  if error is not None:
    where = f' in {result.failed.node}' if result and result.failed else ''
    raise CliError(f'pipeline {spec.name} failed{where}: {type(error).__name__}: '
                   f'{last_line(error)}{log_note}', EXIT_FAILED)
  if result is None or result.blessed is None:
    raise CliError(f'pipeline {spec.name} finished without an evaluation', EXIT_FAILED)
  if result.blessed and result.infra is not None and not result.infra.passed:
    raise CliError(f'{spec.name} was blessed, but TF Serving cannot serve it: '
                   f'{result.infra.error}; nothing was pushed', EXIT_NOT_BLESSED)
  if not result.blessed:
    failed = [m for m in result.metrics if not m.passed]
    why = '; '.join(f'{m.key} = {m.value:.6g} fails {m.threshold}' for m in failed
                    if m.value is not None) or 'see the metrics above'
    raise CliError(f'{spec.name} was not blessed ({why}); nothing was pushed',
                   EXIT_NOT_BLESSED)
  return EXIT_OK
