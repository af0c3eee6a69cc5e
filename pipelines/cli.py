"""tfzoo: run a model's TFX pipeline and say what happened.

  tfzoo list                      the registered models
  tfzoo run MODEL [options]       run MODEL's pipeline locally (Beam DirectRunner, SQLite MLMD)
  tfzoo serve                     TensorFlow Serving on every pushed model (binary or Docker)
  tfzoo predict MODEL INPUT       ask the served model (gRPC or REST), or --local
  tfzoo score MODEL INPUT         a batch (image folder or CSV) through TFX's BulkInferrer
  tfzoo runs [MODEL]              every run, each component executed/cached/failed
  tfzoo lineage MODEL|VERSION_DIR what produced a pushed model, with URIs
  tfzoo why-not-blessed MODEL     the metrics and thresholds that refused a model
  tfzoo tensorboard MODEL [--all] TensorBoard on the training logs
  tfzoo compile-kubeflow MODEL    the same pipeline as a Kubeflow Pipelines v2 / Vertex AI spec

Exit status: 0 the model was blessed and is in serving/; 3 it was not blessed, or TF Serving's
loader could not serve it (nothing pushed);
4 the data was refused (unreadable file, or anomalies against the curated schema: the run
stops before Transform/Trainer); 2 bad usage (e.g. unknown MODEL); 1 the pipeline failed (the
failing component is named).
"""
from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import logging
import os
import re
import shlex
import sys
import time
import warnings
from typing import Callable, Dict, Iterator, List, Optional, TextIO

from pipelines import datafile, registry, score
from pipelines.mlmd import metadata, runlock

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_NOT_BLESSED, EXIT_BAD_DATA = 0, 1, 2, 3, 4


class _Progress(logging.Handler):
  """Echoes TFX's 'Component X is running/finished' log lines to the console, with times."""
  _PATTERN = re.compile(r'Component (\S+) is (running|finished)\.')

  def __init__(self, console: TextIO):
    super().__init__(level=logging.INFO)
    self._console = console
    self._started: Dict[str, float] = {}

  def emit(self, record: logging.LogRecord) -> None:
    match = self._PATTERN.search(record.getMessage())
    if not match:
      return
    node, what = match.groups()
    if what == 'running':
      self._started[node] = time.time()
      print(f'  {node} ...', file=self._console, end='', flush=True)
    else:
      took = time.time() - self._started.get(node, time.time())
      print(f' {took:.1f} s', file=self._console, flush=True)


@contextlib.contextmanager
def _console_and_log(log_path: str, verbose: bool) -> Iterator[TextIO]:
  """Sends everything TF, TFX, Beam, pip and setuptools print (from Python or C++) to
  `log_path` and yields a handle on the real stdout for the progress and the summary.
  With verbose=True everything stays on the terminal instead."""
  if verbose:
    yield sys.stdout
    return
  os.makedirs(os.path.dirname(log_path), exist_ok=True)
  sys.stdout.flush()
  sys.stderr.flush()
  saved_out, saved_err = os.dup(1), os.dup(2)
  console = os.fdopen(os.dup(saved_out), 'w', buffering=1)
  with open(log_path, 'ab') as log:
    os.dup2(log.fileno(), 1)
    os.dup2(log.fileno(), 2)
    try:
      yield console
    finally:
      sys.stdout.flush()
      sys.stderr.flush()
      os.dup2(saved_out, 1)
      os.dup2(saved_err, 2)
      os.close(saved_out)
      os.close(saved_err)
      console.close()


def run_logged(log_path: str, verbose: bool, what: str,
               work: Callable[[], None]) -> Optional[BaseException]:
  """Runs `work` (TFX components; heavy imports belong inside it, so their chatter goes to
  the log too) with TF/TFX/Beam's output in log_path and each component's progress on the
  console. Returns what it raised (logged with its traceback), or None."""
  with _console_and_log(log_path, verbose) as console:
    from absl import logging as absl_logging  # pylint: disable=g-import-not-at-top
    absl_logging.set_verbosity(absl_logging.INFO)
    progress = _Progress(console)
    logging.getLogger('absl').addHandler(progress)
    try:
      work()
    except Exception as e:  # pylint: disable=broad-except
      logging.getLogger('absl').exception('%s failed', what)
      return e
    finally:
      logging.getLogger('absl').removeHandler(progress)
      absl_logging.set_verbosity(absl_logging.WARNING)
  return None


def _parser() -> argparse.ArgumentParser:
  parser = argparse.ArgumentParser(prog='tfzoo', description=__doc__.split('\n')[0])
  sub = parser.add_subparsers(dest='command', required=True)
  sub.add_parser('list', help='list the registered models')
  run = sub.add_parser('run', help="run a model's pipeline")
  run.add_argument('model', help='model name, e.g. classifier (see `tfzoo list`)')
  run.add_argument('--data', help="CSV file to ingest instead of the model's own (CSV models)")
  run.add_argument('--fast', action='store_true',
                   help='a slice of the data, few steps and lower gates, as pipeline <MODEL>_fast '
                        '(never pushed to MODEL\'s serving/ directory)')
  run.add_argument('--tfds-manual-dir', default=os.environ.get('TFZOO_TFDS_MANUAL_DIR'),
                   help='directory with a TFDS dataset\'s original files, for machines without '
                        'internet (default $TFZOO_TFDS_MANUAL_DIR; unset: TFDS downloads)')
  run.add_argument('--train-steps', type=int, help='override the number of training steps')
  run.add_argument('--gate', action='append', default=[], metavar='METRIC=BOUND',
                   help="override a gate's bound, e.g. sparse_categorical_accuracy=0.9")
  run.add_argument('--home', help='work directory (default: $TFZOO_HOME or ./out)')
  run.add_argument('--beam-arg', action='append', default=[],
                   help='Beam pipeline argument, repeatable (also from $BEAM_ARGS)')
  run.add_argument('-v', '--verbose', action='store_true',
                   help='show TF/TFX/Beam logs on the terminal instead of a log file')

  home = argparse.ArgumentParser(add_help=False)
  home.add_argument('--home', help='work directory (default: $TFZOO_HOME or ./out)')
  ports = argparse.ArgumentParser(add_help=False)
  ports.add_argument('--rest-port', type=int, default=int(os.environ.get('REST_PORT', 8501)),
                     help='TF Serving REST port (default $REST_PORT or 8501)')
  ports.add_argument('--grpc-port', type=int, default=int(os.environ.get('GRPC_PORT', 8500)),
                     help='TF Serving gRPC port (default $GRPC_PORT or 8500)')
  serve = sub.add_parser('serve', parents=[home, ports],
                         help='serve every pushed model with TensorFlow Serving (binary or Docker)')
  serve.add_argument('--dry-run', action='store_true',
                     help='write the model config and print the command without running it')
  predict = sub.add_parser('predict', parents=[home, ports], help='ask a served model (or --local)')
  predict.add_argument('model')
  predict.add_argument('input', help='MNIST models: an image file; animal models: fur=1,wings=0; '
                                     'linear: x=5; autocomplete: three letters; seq2seq: an '
                                     'English word; gan: a seed (3); cgan: a digit (7 or '
                                     'digit=7,seed=3)')
  predict.add_argument('--signature', choices=['examples', 'raw', 'noise', 'seed'],
                       help='serving_default (serialized tf.Example; the default) or '
                            'serving_raw (tensors); gan/cgan: serving_default (noise; the '
                            'default) or from_seed (seed)')
  predict.add_argument('--protocol', choices=['grpc', 'rest'], default='grpc')
  predict.add_argument('--host', default=os.environ.get('SERVING_HOST', 'localhost'),
                       help='TF Serving host (default $SERVING_HOST or localhost)')
  predict.add_argument('--local', action='store_true',
                       help='no server: call the latest pushed SavedModel in this process with '
                            'the same request')
  predict.add_argument('--output', metavar='PNG',
                       help='autoencoder, gan, cgan: also write the image answered as this '
                            'PNG file')
  predict.add_argument('--show-request', action='store_true',
                       help='print the REST JSON body that is (or would be) sent')
  runs = sub.add_parser('runs', parents=[home], help='every pipeline run, from ML Metadata')
  runs.add_argument('model', nargs='?')
  lineage = sub.add_parser('lineage', parents=[home],
                           help='what produced a pushed model (latest, or a version directory)')
  lineage.add_argument('target', help='a model name (its latest push) or a pushed version path')
  why = sub.add_parser('why-not-blessed', parents=[home],
                       help="why a run's model was not pushed: metrics against thresholds")
  why.add_argument('model')
  why.add_argument('--run', help='run id (default: the latest run that pushed nothing)')
  board = sub.add_parser('tensorboard', parents=[home], help="TensorBoard on a model's training logs")
  board.add_argument('model')
  board.add_argument('--all', action='store_true', help='every training run side by side')
  board.add_argument('--port', type=int, default=int(os.environ.get('TENSORBOARD_PORT', 6006)),
                     help='default $TENSORBOARD_PORT or 6006')
  board.add_argument('--dry-run', action='store_true', help='print the command only')
  kfp = sub.add_parser('compile-kubeflow', parents=[home],
                       help="compile MODEL's pipeline for Kubeflow Pipelines v2 / Vertex AI")
  kfp.add_argument('model', help='model name, e.g. cnn (see `tfzoo list`)')
  kfp.add_argument('--output', help='the pipeline spec (JSON) to write (default: '
                                    '<work dir>/kubeflow/<pipeline>_pipeline.json)')
  kfp.add_argument('--image', default='tfzoo:latest',
                   help='the image every task runs in, built from the Dockerfile '
                        '(default tfzoo:latest)')
  kfp.add_argument('--pipeline-root', help='where runs write (artifacts, TFDS data, serving/), '
                                           'e.g. gs://bucket/tfzoo')
  kfp.add_argument('--fast', action='store_true', help="MODEL's fast mode (<MODEL>_fast)")
  kfp.add_argument('--beam-arg', action='append', default=[],
                   help='Beam pipeline argument for the tasks, repeatable (also from $BEAM_ARGS)')
  score.add_parser(sub)
  return parser


def _error(message: str) -> None:
  print(f'tfzoo: {message}', file=sys.stderr)


def _beam_args(args: argparse.Namespace) -> List[str]:
  """$BEAM_ARGS, split as a shell splits it, then each --beam-arg; ValueError if unsplittable."""
  text = os.environ.get('BEAM_ARGS', '')
  try:
    from_env = shlex.split(text)
  except ValueError as e:
    raise ValueError(f'BEAM_ARGS={text!r}: {str(e).lower()} (quote it as in a shell, e.g. '
                     "BEAM_ARGS='--runner=FlinkRunner --flink_master=host:8081')") from None
  return from_env + list(args.beam_arg)


def _gates(spec: registry.ModelSpec, overrides: List[str]) -> List[registry.Gate]:
  """The spec's gates with `METRIC=BOUND` overrides applied."""
  gates = {g.key: g for g in spec.gates}
  for item in overrides:
    key, sep, bound = item.partition('=')
    if not sep or key not in gates:
      raise ValueError(f'--gate {item!r}: expected METRIC=BOUND with METRIC one of '
                       f'{", ".join(gates)}')
    try:
      gates[key] = dataclasses.replace(gates[key], bound=float(bound))
    except ValueError:
      raise ValueError(f'--gate {item!r}: {bound!r} is not a number') from None
  return list(gates.values())


def _is_data_anomaly(error: BaseException) -> bool:
  from components.strict_example_validator import DataAnomaliesError  # pylint: disable=g-import-not-at-top
  while error is not None:
    if isinstance(error, DataAnomaliesError):
      return True
    error = error.__cause__ or error.__context__
  return False


def _last_line(error: BaseException) -> str:
  text = str(error).strip()
  return text.splitlines()[-1] if text else ''


def _spec(args: argparse.Namespace) -> Optional[registry.ModelSpec]:
  """MODEL (its fast mode with --fast), or None after saying in one line why not."""
  try:
    spec = registry.get_spec(args.model)
    return registry.fast_spec(spec) if args.fast else spec
  except registry.UnknownModelError as e:
    _error(str(e))
    return None


def run_command(args: argparse.Namespace) -> int:
  spec = _spec(args)
  if spec is None:
    return EXIT_USAGE
  if args.train_steps is not None and args.train_steps < 1:
    _error(f'--train-steps must be a positive integer, got {args.train_steps}')
    return EXIT_USAGE
  try:
    gates = _gates(spec, args.gate)
    _beam_args(args)
    metadata.mysql_settings()
  except ValueError as e:
    _error(str(e))
    return EXIT_USAGE
  data_path = None
  if isinstance(spec.source, registry.CsvSource):
    data_path = os.path.abspath(args.data) if args.data else spec.source.resolve()
    try:
      datafile.check_csv(data_path, spec.source.rules)
    except datafile.DataFileError as e:
      _error(f'{e}; nothing was trained or pushed')
      return EXIT_BAD_DATA
  elif args.data:
    _error(f'--data is for CSV models; {spec.name} reads TFDS dataset {spec.source.dataset}')
    return EXIT_USAGE
  manual_dir = os.path.abspath(args.tfds_manual_dir) if args.tfds_manual_dir else None

  os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '1')
  from pipelines.paths import Paths  # pylint: disable=g-import-not-at-top
  paths = Paths.from_env(args.home)

  def waiting(pid: str) -> None:
    print(f'tfzoo: another run of {spec.name} is in progress (pid {pid}); waiting for it to '
          'finish', flush=True)

  try:
    with runlock.pipeline_lock(metadata.lock_path(paths, spec.name), waiting):
      return _run_locked(spec, args, paths, data_path, gates, manual_dir)
  except metadata.MetadataConnectionError as e:
    _error(str(e))
    return EXIT_FAILED


def _store(paths, pipeline: str):
  """What summary/runlock read `pipeline`'s records from: its SQLite file, or the shared
  MySQL store's ConnectionConfig."""
  if metadata.shared():
    return metadata.connection_config(paths, pipeline, read_only=False)
  return paths.metadata_path(pipeline)


def _run_locked(spec: registry.ModelSpec, args: argparse.Namespace, paths,
                data_path: Optional[str], gates: List[registry.Gate],
                manual_dir: Optional[str]) -> int:
  """Runs the pipeline (holding its lock), prints the summary, returns the exit status."""
  if metadata.shared():
    running = runlock.cancel_stale_executions(_store(paths, spec.name), spec.name, cancel=False)
    if running:
      print(f'tfzoo: ML Metadata ({metadata.describe(paths)}) shows {", ".join(running)} of '
            f'{spec.name} still running: another machine may be running this pipeline (the run '
            'lock is per machine), or a run was killed; left as they are', flush=True)
  else:
    stale = runlock.cancel_stale_executions(paths.metadata_path(spec.name))
    if stale:
      print(f'tfzoo: an earlier run was interrupted during {", ".join(stale)}; marked that '
            'execution canceled in ML Metadata, resuming from the cached components', flush=True)
  log_path = os.path.join(paths.home, 'logs',
                          f'{spec.name}-{time.strftime("%Y%m%d-%H%M%S")}.log')
  print(f'tfzoo: running pipeline {spec.name} ({spec.description})', flush=True)
  print(f'tfzoo: outputs under {paths.home}', flush=True)
  if not args.verbose:
    print(f'tfzoo: full log in {log_path}', flush=True)
  started = time.time()

  def run_pipeline() -> None:
    from tfx.orchestration.local.local_dag_runner import LocalDagRunner  # pylint: disable=g-import-not-at-top
    from pipelines import factory  # pylint: disable=g-import-not-at-top
    pipeline = factory.create_pipeline(spec, paths, beam_args=_beam_args(args),
                                       data_path=data_path, train_steps=args.train_steps,
                                       gates=gates, tfds_manual_dir=manual_dir)
    LocalDagRunner().run(pipeline)

  error = run_logged(log_path, args.verbose, 'pipeline', run_pipeline)
  from pipelines.mlmd import summary  # pylint: disable=g-import-not-at-top
  elapsed = time.time() - started
  result = (summary.latest_run(_store(paths, spec.name), spec.name)
            if metadata.has_store(paths, spec.name) else None)
  if result is not None:
    print(result.format())
  print(f'tfzoo: {spec.name} pipeline took {elapsed:.1f} s')

  if error is not None and _is_data_anomaly(error):
    source = data_path or f'TFDS {spec.source.dataset}'
    _error(f'{source}: {_last_line(error)}; stopped before training, nothing was pushed')
    return EXIT_BAD_DATA
  if error is not None:
    where = f' in {result.failed.node}' if result and result.failed else ''
    reason = _last_line(error)
    _error(f'pipeline {spec.name} failed{where}: {type(error).__name__}: {reason}'
           + ('' if args.verbose else f' (full log: {log_path})'))
    return EXIT_FAILED
  if result is None or result.blessed is None:
    _error(f'pipeline {spec.name} finished without an evaluation')
    return EXIT_FAILED
  if result.blessed and result.infra is not None and not result.infra.passed:
    _error(f'{spec.name} was blessed, but TF Serving cannot serve it: {result.infra.error}; '
           'nothing was pushed')
    return EXIT_NOT_BLESSED
  if not result.blessed:
    failed = [m for m in result.metrics if not m.passed]
    why = '; '.join(f'{m.key} = {m.value:.6g} fails {m.threshold}' for m in failed
                    if m.value is not None) or 'see the metrics above'
    _error(f'{spec.name} was not blessed ({why}); nothing was pushed')
    return EXIT_NOT_BLESSED
  return EXIT_OK


def serve_command(args: argparse.Namespace) -> int:
  from pipelines.serving import server  # pylint: disable=g-import-not-at-top
  from pipelines.paths import Paths  # pylint: disable=g-import-not-at-top
  root = os.path.join(Paths.from_env(args.home).home, 'serving')
  try:
    command = server.serve_command(root, args.rest_port, args.grpc_port)
  except server.ServingError as e:
    _error(str(e))
    return EXIT_FAILED
  server.write_config(command)
  models = ', '.join(f'{m} (version {v[-1]})' for m, v in server.pushed_models(root).items())
  print(f'tfzoo: serving {models}')
  print(f'tfzoo: model config {command.config_path}; REST on port {args.rest_port}, gRPC on '
        f'port {args.grpc_port}')
  print('tfzoo: ' + ' '.join(shlex.quote(a) for a in command.argv), flush=True)
  if args.dry_run:
    return EXIT_OK
  os.execv(command.argv[0], command.argv)
  return EXIT_FAILED  # not reached


def predict_command(args: argparse.Namespace) -> int:
  try:
    spec = registry.pipeline_spec(args.model)
  except registry.UnknownModelError as e:
    _error(str(e))
    return EXIT_USAGE
  if args.output and spec.task not in ('reconstruction', 'generation'):
    _error(f'--output writes an image answer; {spec.name} does not answer with an image')
    return EXIT_USAGE
  _quiet_imports()
  from pipelines.serving import client, server  # pylint: disable=g-import-not-at-top
  from pipelines.paths import Paths  # pylint: disable=g-import-not-at-top
  try:
    request = client.build_request(spec, args.input, args.signature)
    if args.show_request:
      print(json.dumps(request.rest()))
    if args.local:
      version_dir = server.latest_version_dir(
          os.path.join(Paths.from_env(args.home).home, 'serving'), spec.name)
      outputs = client.predict_local(request, version_dir)
      where = version_dir
    elif args.protocol == 'grpc':
      outputs = client.predict_grpc(request, args.host, args.grpc_port)
      where = f'{args.host}:{args.grpc_port} (gRPC)'
    else:
      outputs = client.predict_rest(request, args.host, args.rest_port,
                                    single_output=client.single_output(spec))
      where = f'{args.host}:{args.rest_port} (REST)'
  except (client.ClientError, server.ServingError) as e:
    _error(str(e))
    return EXIT_FAILED
  print(f'{spec.name} [{request.signature} @ {where}]: {client.describe(spec, outputs)}')
  if args.output:
    try:
      client.write_image(outputs, args.output)
    except client.ClientError as e:
      _error(str(e))
      return EXIT_FAILED
    print(f'tfzoo: wrote {args.output}')
  return EXIT_OK


def _quiet_imports() -> None:
  """The read-only commands import TF (and TFMA to read evaluations): keep their start-up
  chatter off the terminal; real errors still show."""
  os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')
  warnings.filterwarnings('ignore', category=FutureWarning)
  warnings.filterwarnings('ignore', category=DeprecationWarning)
  logging.getLogger('tensorflow').setLevel(logging.ERROR)


def inspect_command(args: argparse.Namespace) -> int:
  _quiet_imports()
  from pipelines.mlmd import inspection  # pylint: disable=g-import-not-at-top
  from pipelines.paths import Paths  # pylint: disable=g-import-not-at-top
  paths = Paths.from_env(args.home)
  try:
    if args.command == 'runs':
      found = inspection.stores(paths, args.model)
      print('\n'.join(inspection.format_runs(name, path) for name, path in found.items()))
    elif args.command == 'lineage':
      target = args.target
      if os.path.sep in target:
        # serving/<model>/<version>: the model is the version folder's parent.
        model = os.path.basename(os.path.dirname(os.path.abspath(target)))
        version = os.path.abspath(target)
      else:
        model, version = target, None
      [(name, path)] = inspection.stores(paths, model).items()
      print(inspection.lineage(name, path, version))
    elif args.command == 'why-not-blessed':
      [(name, path)] = inspection.stores(paths, args.model).items()
      print(inspection.why_not_blessed(name, path, args.run))
    elif args.command == 'tensorboard':
      [(name, path)] = inspection.stores(paths, args.model).items()
      logdirs = inspection.tensorboard_logdirs(path, args.all, name)
      binary = os.path.join(os.path.dirname(sys.executable), 'tensorboard')
      spec = ','.join(f'{name}:{uri}' for name, uri in logdirs)
      argv = [binary, '--logdir_spec' if args.all else '--logdir',
              spec if args.all else logdirs[0][1], '--port', str(args.port)]
      print('tfzoo: ' + ' '.join(shlex.quote(a) for a in argv), flush=True)
      if not args.dry_run:
        os.execv(binary, argv)
  except metadata.MetadataConfigError as e:
    _error(str(e))
    return EXIT_USAGE
  except (inspection.InspectionError, metadata.MetadataConnectionError) as e:
    _error(str(e))
    return EXIT_FAILED
  return EXIT_OK


def compile_kubeflow_command(args: argparse.Namespace) -> int:
  """Compiles the pipeline run() would run into a Kubeflow Pipelines v2 / Vertex AI spec."""
  spec = _spec(args)
  if spec is None:
    return EXIT_USAGE
  from pipelines import kubeflow  # pylint: disable=g-import-not-at-top
  from pipelines.paths import Paths  # pylint: disable=g-import-not-at-top
  try:
    beam_args = _beam_args(args)
    root = kubeflow.check_root(args.pipeline_root or kubeflow.PLACEHOLDER_ROOT)
  except ValueError as e:
    _error(str(e))
    return EXIT_USAGE
  home = Paths.from_env(args.home).home
  output = os.path.abspath(args.output or os.path.join(home, 'kubeflow',
                                                       f'{spec.name}_pipeline.json'))
  log_path = os.path.join(home, 'logs', f'{spec.name}-kubeflow-{time.strftime("%Y%m%d-%H%M%S")}.log')
  os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '1')
  error: Optional[BaseException] = None
  with _console_and_log(log_path, verbose=False):
    try:
      job = kubeflow.compile_pipeline(spec, output, image=args.image, pipeline_root=root,
                                      beam_args=beam_args)
    except Exception as e:  # pylint: disable=broad-except
      error = e
      logging.getLogger('absl').exception('compiling failed')
  if error is not None:
    _error(f'compiling {spec.name} for Kubeflow failed: {type(error).__name__}: '
           f'{_last_line(error)} (full log: {log_path})')
    return EXIT_FAILED
  tasks = job['pipelineSpec']['root']['dag']['tasks']
  print(f'tfzoo: {spec.name} compiled for Kubeflow Pipelines v2 / Vertex AI: {output}')
  print(f'tfzoo: image {args.image} (project at {kubeflow.CONTAINER_ROOT}), pipeline root {root}')
  print(f'tfzoo: {len(tasks)} tasks: {", ".join(kubeflow.task_order(job))}')
  if not args.pipeline_root:
    print(f'tfzoo: no --pipeline-root given: {root} is a placeholder that runs nowhere; '
          'compile again with PIPELINE_ROOT=gs://<bucket>/tfzoo (make) or --pipeline-root')
  return EXIT_OK


def main(argv: Optional[List[str]] = None) -> int:
  args = _parser().parse_args(argv)
  if args.command == 'list':
    for spec in registry.REGISTRY.values():
      print(f'{spec.name:<12} {spec.description}')
    return EXIT_OK
  if args.command == 'serve':
    return serve_command(args)
  if args.command == 'predict':
    return predict_command(args)
  if args.command in ('runs', 'lineage', 'why-not-blessed', 'tensorboard'):
    return inspect_command(args)
  if args.command == 'score':
    return score.score_command(args)
  if args.command == 'compile-kubeflow':
    return compile_kubeflow_command(args)
  return run_command(args)


if __name__ == '__main__':
  sys.exit(main())
