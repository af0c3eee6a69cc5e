"""tfzoo score MODEL INPUT: batch predictions with TFX's BulkInferrer, as pipeline MODEL_score.

  ModelImporter (the latest pushed Model artifact itself) + CsvExampleGen | ImageExampleGen
  (INPUT) -> BulkInferrer -> predictions.csv beside the InferenceResult artifact

INPUT is a folder of image files for the MNIST models, a CSV file holding exactly the model's
features (no label) for the CSV models. The run is recorded in the model pipeline's own ML
Metadata store, and TFX's Importer (reimport=False) hands BulkInferrer the very Model artifact
the Trainer produced: the lineage runs from the training data to every prediction. Exit status
as cli.py's: 0 scored, 4 the input was refused (nothing run), 2 bad usage, 1 failed (or MODEL
was never pushed).
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from typing import List

from pipelines import datafile, registry, score_data
from pipelines.mlmd import metadata, runlock

# cli's console, progress and argument helpers are shared with this command on purpose, and
# cli imports this module at start-up, so TFX (and cli itself) are imported where used.
# pylint: disable=protected-access,g-import-not-at-top

SPLIT = 'score'
UNSCORED_TASKS = {'generation': 'generates images from noise',
                  'reconstruction': 'answers every image with an image'}


def _error(message: str) -> None:
  print(f'tfzoo: {message}', file=sys.stderr)


def add_parser(subparsers) -> None:
  score = subparsers.add_parser(
      'score', help="score a batch with TFX's BulkInferrer on MODEL's latest pushed model")
  score.add_argument('model', help='model name, e.g. cnn or cnn_fast (see `tfzoo list`)')
  score.add_argument('input', help='MNIST models: a folder of image files (PNG, JPEG, BMP, '
                                   'GIF); CSV models: a CSV file with exactly the model\'s '
                                   'feature columns (classifier, dnn: fur,wings; linear: x; '
                                   'autocomplete: word; seq2seq: english), no label')
  score.add_argument('--home', help='work directory (default: $TFZOO_HOME or ./out)')
  score.add_argument('--beam-arg', action='append', default=[],
                     help='Beam pipeline argument, repeatable (also from $BEAM_ARGS)')
  score.add_argument('-v', '--verbose', action='store_true',
                     help='show TF/TFX/Beam logs on the terminal instead of a log file')


def score_command(args: argparse.Namespace) -> int:
  from pipelines import cli
  try:
    spec = registry.pipeline_spec(args.model)
  except registry.UnknownModelError as e:
    _error(str(e))
    return cli.EXIT_USAGE
  if spec.task in UNSCORED_TASKS:
    _error(f'{spec.name} {UNSCORED_TASKS[spec.task]}: it is not scored (score takes the '
           'classifiers and regressors; `tfzoo predict` asks it)')
    return cli.EXIT_USAGE
  try:
    beam_args = cli._beam_args(args)
    metadata.mysql_settings()
  except ValueError as e:
    _error(str(e))
    return cli.EXIT_USAGE
  input_path = os.path.abspath(args.input)
  images = isinstance(spec.source, registry.TfdsSource)
  from components.image_example_gen import images as image_files
  try:
    if images:
      count = len(image_files.check_folder(input_path))
      rows = None
    else:
      rows = score_data.read_csv(spec, input_path)
      count = len(rows)
  except (image_files.ImageFolderError, datafile.DataFileError) as e:
    _error(f'{e}; nothing was scored')
    return cli.EXIT_BAD_DATA

  os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '1')
  from pipelines.paths import Paths
  paths = Paths.from_env(args.home)

  from pipelines.mlmd import inspection
  try:
    # Before the lock, so a model never pushed is refused without a file written.
    model, push = _pushed_model(paths, spec.name)
  except (inspection.InspectionError, metadata.MetadataConnectionError) as e:
    _error(f'{e}; nothing was scored')
    return cli.EXIT_FAILED

  def waiting(pid: str) -> None:
    print(f'tfzoo: a run of {spec.name} is in progress (pid {pid}); waiting for it to finish',
          flush=True)

  try:
    with runlock.pipeline_lock(metadata.lock_path(paths, spec.name), waiting):
      return _score_locked(cli, spec, args, paths, model, push, input_path, rows, count,
                           beam_args)
  except metadata.MetadataConnectionError as e:
    _error(str(e))
    return cli.EXIT_FAILED


def _pushed_model(paths, pipeline: str):
  """(Model artifact, PushedModel artifact) of the latest push; InspectionError if none."""
  from pipelines.mlmd import inspection, summary
  [(_, target)] = inspection.stores(paths, pipeline).items()
  model, push = inspection.pushed_model(summary.open_store(target), pipeline)
  if not os.path.isdir(model.uri):
    raise inspection.InspectionError(f'{pipeline}\'s pushed model #{model.id} is gone from '
                                     f'{model.uri}; run `make run-pipeline MODEL={pipeline}`')
  return model, push


def create_pipeline(spec: registry.ModelSpec, paths, model_uri: str, input_base: str,
                    pattern: str, images: bool, beam_args: List[str]):
  """The scoring pipeline `<spec.name>_score`, recorded in `spec.name`'s store."""
  from tfx.components.example_gen.csv_example_gen.component import CsvExampleGen
  from tfx.dsl.components.common.importer import Importer
  from tfx.orchestration.pipeline import Pipeline
  from tfx.proto import bulk_inferrer_pb2, example_gen_pb2
  from tfx.types import standard_artifacts
  from components.bulk_inferrer import StringOutputBulkInferrer
  from components.image_example_gen.component import ImageExampleGen

  name = f'{spec.name}_score'
  # reimport=False: the Importer finds the Trainer's artifact by its URI and reuses it.
  importer = Importer(source_uri=model_uri, artifact_type=standard_artifacts.Model,
                      reimport=False).with_id('ModelImporter')
  input_config = example_gen_pb2.Input(splits=[
      example_gen_pb2.Input.Split(name=SPLIT, pattern=pattern)])
  # One output split of everything: ExampleGen would hash a single input split into
  # train and eval otherwise.
  output_config = example_gen_pb2.Output(split_config=example_gen_pb2.SplitConfig(splits=[
      example_gen_pb2.SplitConfig.Split(name=SPLIT, hash_buckets=1)]))
  example_gen = (ImageExampleGen if images else CsvExampleGen)(
      input_base=input_base, input_config=input_config, output_config=output_config)
  inferrer = StringOutputBulkInferrer(
      examples=example_gen.outputs['examples'], model=importer.outputs['result'],
      data_spec=bulk_inferrer_pb2.DataSpec(example_splits=[SPLIT]),
      model_spec=bulk_inferrer_pb2.ModelSpec(model_signature_name=['serving_default'])
  ).with_id('BulkInferrer')
  return Pipeline(
      pipeline_name=name, pipeline_root=paths.pipeline_root(name),
      components=[importer, example_gen, inferrer],
      # Every score is a new batch: nothing to reuse, and each run writes its own CSV.
      enable_cache=False,
      metadata_connection_config=metadata.pipeline_connection_config(paths, spec.name),
      beam_pipeline_args=beam_args)


def _score_locked(cli, spec: registry.ModelSpec, args: argparse.Namespace, paths, model, push,
                  input_path: str, rows, count: int, beam_args: List[str]) -> int:
  name = f'{spec.name}_score'
  stamp = time.strftime('%Y%m%d-%H%M%S')
  if not metadata.shared():
    runlock.cancel_stale_executions(paths.metadata_path(spec.name), name)
  images = rows is None
  if images:
    input_base, pattern = input_path, '*'
  else:
    # CsvExampleGen reads every file of a folder: a copy alone in its own folder is read.
    input_base = os.path.join(paths.pipeline_root(name), 'inputs', f'{stamp}-{os.getpid()}')
    pattern = os.path.basename(input_path)
    score_data.stage_csv(spec, rows, os.path.join(input_base, pattern))
  log_path = os.path.join(paths.home, 'logs', f'{name}-{stamp}.log')
  print(f'tfzoo: scoring {count} {"images" if images else "rows"} of {input_path} with '
        f'{spec.name} model #{model.id} (pushed as '
        f'{push.custom_properties["pushed_destination"].string_value})', flush=True)
  if not args.verbose:
    print(f'tfzoo: full log in {log_path}', flush=True)
  started = time.time()
  written = []

  def run_pipeline() -> None:
    from tfx.orchestration.local.local_dag_runner import LocalDagRunner
    LocalDagRunner().run(create_pipeline(spec, paths, model.uri, input_base, pattern, images,
                                         beam_args))
    # Inside the log: reading the records prints TF's chatter too.
    written.append(_write_predictions(spec, paths, count, images))

  error = cli.run_logged(log_path, args.verbose, 'scoring', run_pipeline)
  if error is not None:
    result = _latest_run(paths, spec.name)
    failed = result.failed if result else None
    _error(f'pipeline {name} failed{f" in {failed.node}" if failed else ""}: '
           f'{type(error).__name__}: {cli._last_line(error)}'
           + ('' if args.verbose else f' (full log: {log_path})'))
    return cli.EXIT_FAILED
  [(predictions, csv_path)] = written
  print(f'scored {len(predictions.rows)} {"images" if images else "rows"}'
        + (f': {predictions.histogram()}' if predictions.classes else ''))
  print(f'predictions: {csv_path}')
  print(f'tfzoo: {name} pipeline took {time.time() - started:.1f} s')
  return cli.EXIT_OK


def _latest_run(paths, pipeline: str):
  """The latest run of `pipeline`_score, read from `pipeline`'s store (None before any)."""
  from pipelines.mlmd import summary
  store = summary.open_store(metadata.connection_config(paths, pipeline))
  runs = summary.run_contexts(store, f'{pipeline}_score')
  return summary.summarize(store, runs[-1], f'{pipeline}_score') if runs else None


def _write_predictions(spec: registry.ModelSpec, paths, count: int, images: bool):
  """Writes the latest run's predictions.csv beside its InferenceResult and records its path
  and row count on that artifact; returns (Predictions, the CSV's path)."""
  from pipelines.mlmd import summary
  result = _latest_run(paths, spec.name)
  inferrer = result.component('BulkInferrer') if result else None
  if inferrer is None or not inferrer.outputs.get('inference_result'):
    raise RuntimeError('the run finished without an inference result')
  [artifact] = inferrer.outputs['inference_result']
  predictions = score_data.read_predictions(spec, artifact.uri, images)
  if len(predictions.rows) != count:
    raise RuntimeError(f'{count} inputs, but {len(predictions.rows)} predictions in '
                       f'{artifact.uri}')
  csv_path = os.path.join(artifact.uri, score_data.PREDICTIONS_FILE)
  score_data.write_predictions(predictions, csv_path)
  artifact.custom_properties['predictions_csv'].string_value = csv_path
  artifact.custom_properties['predictions'].int_value = len(predictions.rows)
  store = summary.open_store(metadata.connection_config(paths, spec.name, read_only=False))
  store.put_artifacts([artifact])
  return predictions, csv_path
