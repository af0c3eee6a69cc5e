"""tfzoo: run a model's TFX pipeline and say what happened.

  tfzoo list                      the registered models
  tfzoo run MODEL [options]       run MODEL's pipeline locally (Beam DirectRunner, SQLite MLMD)

Exit status: 0 the model was blessed and is in serving/; 3 it was not blessed (nothing pushed);
2 bad usage (e.g. unknown MODEL); 1 the pipeline failed (the failing component is named).
"""
from __future__ import annotations

import argparse
import contextlib
import dataclasses
import logging
import os
import re
import shlex
import sys
import time
from typing import Dict, Iterator, List, Optional, TextIO

from pipelines import registry

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_NOT_BLESSED = 0, 1, 2, 3


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
  return parser


def _error(message: str) -> None:
  print(f'tfzoo: {message}', file=sys.stderr)


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


def run_command(args: argparse.Namespace) -> int:
  try:
    spec = registry.get_spec(args.model)
    if args.fast:
      spec = registry.fast_spec(spec)
  except registry.UnknownModelError as e:
    _error(str(e))
    return EXIT_USAGE
  if args.train_steps is not None and args.train_steps < 1:
    _error(f'--train-steps must be a positive integer, got {args.train_steps}')
    return EXIT_USAGE
  try:
    gates = _gates(spec, args.gate)
  except ValueError as e:
    _error(str(e))
    return EXIT_USAGE
  data_path = None
  if isinstance(spec.source, registry.CsvSource):
    data_path = os.path.abspath(args.data) if args.data else spec.source.resolve()
    if not os.path.isfile(data_path):
      _error(f'data file not found: {data_path}')
      return EXIT_USAGE
  elif args.data:
    _error(f'--data is for CSV models; {spec.name} reads TFDS dataset {spec.source.dataset}')
    return EXIT_USAGE
  manual_dir = os.path.abspath(args.tfds_manual_dir) if args.tfds_manual_dir else None

  os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '1')
  from pipelines.paths import Paths  # pylint: disable=g-import-not-at-top
  paths = Paths.from_env(args.home)
  log_path = os.path.join(paths.home, 'logs',
                          f'{spec.name}-{time.strftime("%Y%m%d-%H%M%S")}.log')
  print(f'tfzoo: running pipeline {spec.name} ({spec.description})', flush=True)
  print(f'tfzoo: outputs under {paths.home}', flush=True)
  if not args.verbose:
    print(f'tfzoo: full log in {log_path}', flush=True)
  started = time.time()
  error: Optional[BaseException] = None
  with _console_and_log(log_path, args.verbose) as console:
    # Heavy imports only once the arguments are known to be good, and with their chatter
    # going to the log.
    from absl import logging as absl_logging  # pylint: disable=g-import-not-at-top
    from tfx import v1 as tfx  # pylint: disable=g-import-not-at-top
    from pipelines import factory, summary  # pylint: disable=g-import-not-at-top
    absl_logging.set_verbosity(absl_logging.INFO)
    progress = _Progress(console)
    logging.getLogger('absl').addHandler(progress)
    try:
      beam_args = shlex.split(os.environ.get('BEAM_ARGS', '')) + list(args.beam_arg)
      pipeline = factory.create_pipeline(spec, paths, beam_args=beam_args,
                                         data_path=data_path, train_steps=args.train_steps,
                                         gates=gates, tfds_manual_dir=manual_dir)
      tfx.orchestration.LocalDagRunner().run(pipeline)
    except Exception as e:  # pylint: disable=broad-except
      error = e
      logging.getLogger('absl').exception('pipeline failed')
    finally:
      logging.getLogger('absl').removeHandler(progress)
      absl_logging.set_verbosity(absl_logging.WARNING)
  elapsed = time.time() - started
  result = (summary.latest_run(paths.metadata_path(spec.name))
            if os.path.exists(paths.metadata_path(spec.name)) else None)
  if result is not None:
    print(result.format())
  print(f'tfzoo: {spec.name} pipeline took {elapsed:.1f} s')

  if error is not None:
    where = f' in {result.failed.node}' if result and result.failed else ''
    reason = str(error).strip().splitlines()[-1] if str(error).strip() else ''
    _error(f'pipeline {spec.name} failed{where}: {type(error).__name__}: {reason}'
           + ('' if args.verbose else f' (full log: {log_path})'))
    return EXIT_FAILED
  if result is None or result.blessed is None:
    _error(f'pipeline {spec.name} finished without an evaluation')
    return EXIT_FAILED
  if not result.blessed:
    failed = [m for m in result.metrics if not m.passed]
    why = '; '.join(f'{m.key} = {m.value:.6g} fails {m.threshold}' for m in failed
                    if m.value is not None) or 'see the metrics above'
    _error(f'{spec.name} was not blessed ({why}); nothing was pushed')
    return EXIT_NOT_BLESSED
  return EXIT_OK


def main(argv: Optional[List[str]] = None) -> int:
  args = _parser().parse_args(argv)
  if args.command == 'list':
    for spec in registry.REGISTRY.values():
      print(f'{spec.name:<12} {spec.description}')
    return EXIT_OK
  return run_command(args)


if __name__ == '__main__':
  sys.exit(main())
