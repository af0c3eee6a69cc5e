"""tfzoo bench: what the pipeline costs against a plain Keras script, and what serving costs.

  python -m pipelines.bench [--models classifier,linear,mlp,cnn] [--home DIR]
                            [--output bench.json] [--tfds-manual-dir DIR] [--latency-calls 1000]

For each model, in a fresh work directory (<home>/<model>, TFZOO_HOME for the runs):
  - the whole pipeline, `python -m pipelines.cli run MODEL` (what `make run-pipeline` runs) as
    a subprocess: wall time of the first run, then of the same command again (every component
    cached); each run's per-component seconds and states read back from its ML Metadata;
  - a plain Keras script (`python -m pipelines.bench _plain MODEL`, a subprocess too): the
    same data loaded straight into memory (MNIST from TFDS, the CSV with the csv module), the
    same network built by the model module's own builder, trained for the spec's steps at the
    module's batch size and seed, evaluated on the eval split. Its wall time includes the
    interpreter start and the imports (TensorFlow, Keras, TFDS), as the pipeline's subprocess
    pays its own. It loads no TFX: the model modules import TFX / Transform / tfx_bsl at the
    top for their pipeline plumbing, so in this process those names resolve to empty
    placeholders that fail if anything calls them (the builders do not); the result records
    that no real TFX module was loaded;
  - for mlp and cnn, the race (pipelines/bench/reference.py): a fixed script as a user writes
    it from keras.io's MNIST convnet example, the 10,000 test images evaluated after every
    epoch until it reaches the gate (and the pipeline's epochs; at most 40), against the
    pipeline's first run: the reference's time to the gate, its accuracy at
    the pipeline's epochs, the pipeline's wall time and accuracy, the ratio and the target
    (gate + 0.002 in at most 0.6x the reference's time to the gate);
  - peak memory of each subprocess tree (see run_measured).
Then the latency of the pushed cnn's `serving_raw` signature, called in this process for a
batch of 1 and of 100 images: p50 / p99 over --latency-calls timed calls after a warm-up, and
images per second.

MNIST is prepared once, into <home>/tensorflow_datasets (TFDS_DATA_DIR for every run), before
anything is timed; that one-time preparation is reported on its own.

Prints a table and writes the same figures as JSON (--output, default <home>/bench.json).
Exit status 0, or 1 with one line `tfzoo bench: ...` naming the cause (a pipeline that failed,
MNIST missing, ...); what was measured until then is still written to the JSON, with `error`.
"""
from __future__ import annotations

import argparse
import os
import shlex
import sys
from typing import Any, Dict, List, Optional

from pipelines import registry
from pipelines.bench.common import BENCH_MODELS, BenchError, DEFAULT_MODELS, SET_HERE
from pipelines.bench.plain import plain_main
from pipelines.bench.runs import bench_latency, bench_model, machine_info, prepare_mnist
from pipelines.bench import table
from pipelines.bench.table import format_table, write_json
from pipelines.cli.common import quiet_imports
from pipelines.paths import PROJECT_ROOT


def _parser() -> argparse.ArgumentParser:
  parser = argparse.ArgumentParser(
      prog='python -m pipelines.bench',
      description='Pipeline vs plain Keras wall time, cached re-runs, per-component times, '
                  'peak memory, and served-model latency.')
  parser.add_argument('--models', default=','.join(DEFAULT_MODELS),
                      help=f'comma-separated, from {", ".join(BENCH_MODELS)} '
                           f'(default {",".join(DEFAULT_MODELS)})')
  parser.add_argument('--home', help='bench work directory; each model gets a fresh '
                                     '<home>/<model> (default: $TFZOO_HOME/bench or out/bench)')
  parser.add_argument('--output', help='the JSON result (default <home>/bench.json)')
  parser.add_argument('--tfds-manual-dir', default=os.environ.get('TFZOO_TFDS_MANUAL_DIR'),
                      help="MNIST's original files, for machines without internet (default "
                           '$TFZOO_TFDS_MANUAL_DIR; unset: TFDS downloads)')
  parser.add_argument('--latency-calls', type=int, default=1000,
                      help='timed calls per batch size (default 1000)')
  parser.add_argument('--latency-model', default='cnn',
                      help='the pushed model whose serving_raw is timed (default cnn; it must '
                           'be among --models)')
  return parser


def main(argv: Optional[List[str]] = None) -> int:
  argv = list(sys.argv[1:] if argv is None else argv)
  if argv[:1] == ['_plain']:
    return plain_main(argv[1:])
  args = _parser().parse_args(argv)
  try:
    return _bench(args, argv)
  except BenchError as e:
    if table.progress_open:
      table.progress_done('stopped')
    print(f'tfzoo bench: {e}', file=sys.stderr)
    return 1


def _bench(args: argparse.Namespace, argv: List[str]) -> int:
  models = [m.strip() for m in args.models.split(',') if m.strip()]
  unknown = [m for m in models if m not in BENCH_MODELS]
  if not models or unknown:
    raise BenchError(f'--models {args.models!r}: each must be one of {", ".join(BENCH_MODELS)}')
  if args.latency_calls < 1:
    raise BenchError(f'--latency-calls must be positive, got {args.latency_calls}')
  home = os.path.abspath(args.home or os.path.join(
      os.environ.get('TFZOO_HOME') or os.path.join(PROJECT_ROOT, 'out'), 'bench'))
  output = os.path.abspath(args.output or os.path.join(home, 'bench.json'))
  manual_dir = os.path.abspath(args.tfds_manual_dir) if args.tfds_manual_dir else None
  tfds_data_dir = os.path.join(home, 'tensorflow_datasets')
  os.makedirs(home, exist_ok=True)
  SET_HERE.update(quiet_imports())  # for this process only: child_env drops them
  result: Dict[str, Any] = {
      'command': ' '.join(shlex.quote(a) for a in ['python', '-m', 'pipelines.bench'] + argv),
      'machine': machine_info(),
      'home': home,
      'notes': [
          'seconds: wall time of each subprocess, interpreter start and imports included '
          '(pipeline: python -m pipelines.cli run MODEL; plain: python -m pipelines.bench '
          '_plain MODEL, which loads no TFX)',
          'peak_rss_mb: the larger of the process tree RSS (summed, sampled every 0.2 s) and '
          "the kernel's high-water mark (ru_maxrss) of its largest single process",
          'TFDS preparation of MNIST happens once before timing and is not in any run',
      ],
      'tfds_preparation': None,
      'models': {},
      'latency': None,
  }
  print(f'tfzoo bench: {", ".join(models)} under {home}', flush=True)
  try:
    if any(registry.get_spec(m).source.__class__ is registry.TfdsSource for m in models):
      table.progress('preparing MNIST (once, not timed as part of any run)')
      result['tfds_preparation'] = prepare_mnist(tfds_data_dir, manual_dir, home)
      prep = result['tfds_preparation']
      table.progress_done('already prepared' if prep['already_prepared'] else
                     f'{prep["seconds"]:.1f} s')
    for model in models:
      result['models'][model] = bench_model(model, home, tfds_data_dir, manual_dir)
    if args.latency_model in models:
      result['latency'] = bench_latency(args.latency_model, home, args.latency_calls,
                                        manual_dir, tfds_data_dir)
    else:
      result['latency'] = {'skipped': f'{args.latency_model} is not among --models, so '
                                      'nothing of it was pushed by this bench'}
  except BenchError as e:
    result['error'] = str(e)
    write_json(result, output)
    raise
  result['machine']['load_average_at_end'] = [round(v, 2) for v in os.getloadavg()]
  write_json(result, output)
  print()
  print(format_table(result))
  print(f'\ntfzoo bench: wrote {output}')
  return 0

