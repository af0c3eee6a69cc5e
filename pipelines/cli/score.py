"""`tfzoo score MODEL INPUT`: a batch through TFX's BulkInferrer (pipelines/scoring).

The input is checked before TFX is imported (a folder of images, or a CSV of exactly the
model's features), so bad input is refused in about a second with nothing written. Exit
status as `run`'s: 0 scored, 4 the input was refused, 2 bad usage, 1 failed (or MODEL was
never pushed).
"""
from __future__ import annotations

import argparse
import os
import time

from components.image_example_gen import images as image_files
from pipelines import datafile, registry
from pipelines.cli.common import (EXIT_BAD_DATA, EXIT_OK, EXIT_USAGE, CliError, beam_args,
                                  last_line, run_logged)
from pipelines.mlmd import inspection, metadata, runlock, summary
from pipelines.paths import Paths
from pipelines.scoring import data

UNSCORED_TASKS = {'generation': 'generates images from noise',
                  'reconstruction': 'answers every image with an image'}


def score_command(args: argparse.Namespace) -> int:
  try:
    spec = registry.pipeline_spec(args.model)
  except registry.UnknownModelError as e:
    raise CliError(str(e), EXIT_USAGE) from None
  if spec.task in UNSCORED_TASKS:
    raise CliError(f'{spec.name} {UNSCORED_TASKS[spec.task]}: it is not scored (score takes '
                   'the classifiers and regressors; `tfzoo predict` asks it)', EXIT_USAGE)
  task_args = beam_args(args)
  try:
    metadata.mysql_settings()
  except ValueError as e:
    raise CliError(str(e), EXIT_USAGE) from None
  input_path = os.path.abspath(args.input)
  images = isinstance(spec.source, registry.TfdsSource)
  try:
    rows = None if images else data.read_csv(spec, input_path)
    count = len(image_files.check_folder(input_path)) if images else len(rows)
  except (image_files.ImageFolderError, datafile.DataFileError) as e:
    raise CliError(f'{e}; nothing was scored', EXIT_BAD_DATA) from None

  paths = Paths.from_env(args.home)
  try:
    # Before the lock and before TFX loads, so a model never pushed is refused in one line
    # without a file written.
    model, push = _pushed_model(paths, spec.name)
  except (inspection.InspectionError, metadata.MetadataConnectionError) as e:
    raise CliError(f'{e}; nothing was scored') from None
  os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '1')
  # TFX's components: imported only once the input and the model are known to be good.
  from pipelines.scoring import pipeline  # pylint: disable=g-import-not-at-top

  def waiting(pid: str) -> None:
    print(f'tfzoo: a run of {spec.name} is in progress (pid {pid}); waiting for it to finish',
          flush=True)

  try:
    with runlock.pipeline_lock(metadata.lock_path(paths, spec.name), waiting):
      return _score_locked(pipeline, spec, args, paths, model, push, input_path, rows, count,
                           task_args)
  except metadata.MetadataConnectionError as e:
    raise CliError(str(e)) from None


def _pushed_model(paths: Paths, pipeline: str):
  """(Model artifact, PushedModel artifact) of the latest push; InspectionError if none."""
  [(_, config)] = inspection.stores(paths, pipeline).items()
  model, push = inspection.pushed_model(summary.open_store(config), pipeline)
  if not os.path.isdir(model.uri):
    raise inspection.InspectionError(f'{pipeline}\'s pushed model #{model.id} is gone from '
                                     f'{model.uri}; run `make run-pipeline MODEL={pipeline}`')
  return model, push


def _score_locked(pipeline, spec: registry.ModelSpec, args: argparse.Namespace, paths: Paths,
                  model, push, input_path: str, rows, count: int, task_args) -> int:
  name = pipeline.name_of(spec.name)
  stamp = time.strftime('%Y%m%d-%H%M%S')
  if not metadata.shared():
    runlock.cancel_stale_executions(metadata.connection_config(paths, spec.name, read_only=False),
                                    name)
  images = rows is None
  if images:
    input_base, pattern = input_path, '*'
  else:
    # CsvExampleGen reads every file of a folder: a copy alone in its own folder is read.
    input_base = os.path.join(paths.pipeline_root(name), 'inputs', f'{stamp}-{os.getpid()}')
    pattern = os.path.basename(input_path)
    data.stage_csv(spec, rows, os.path.join(input_base, pattern))
  log_path = os.path.join(paths.logs_dir(), f'{name}-{stamp}.log')
  print(f'tfzoo: scoring {count} {"images" if images else "rows"} of {input_path} with '
        f'{spec.name} model #{model.id} (pushed as '
        f'{push.custom_properties["pushed_destination"].string_value})', flush=True)
  if not args.verbose:
    print(f'tfzoo: full log in {log_path}', flush=True)
  started = time.time()
  written = []

  def run_pipeline() -> None:
    from tfx.orchestration.local.local_dag_runner import LocalDagRunner  # pylint: disable=g-import-not-at-top
    LocalDagRunner().run(pipeline.create_pipeline(spec, paths, model.uri, input_base, pattern,
                                                  images, task_args))
    # Inside the log: reading the records prints TF's chatter too.
    written.append(pipeline.write_predictions(spec, paths, count, images))

  error = run_logged(log_path, args.verbose, 'scoring', run_pipeline)
  if error is not None:
    result = pipeline.latest_run(paths, spec.name)
    failed = result.failed if result else None
    raise CliError(f'pipeline {name} failed{f" in {failed.node}" if failed else ""}: '
                   f'{type(error).__name__}: {last_line(error)}'
                   + ('' if args.verbose else f' (full log: {log_path})'))
  [(predictions, csv_path)] = written
  print(f'scored {len(predictions.rows)} {"images" if images else "rows"}'
        + (f': {predictions.histogram()}' if predictions.classes else ''))
  print(f'predictions: {csv_path}')
  print(f'tfzoo: {name} pipeline took {time.time() - started:.1f} s')
  return EXIT_OK
