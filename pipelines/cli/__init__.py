"""tfzoo: run a model's TFX pipeline and say what happened.

  tfzoo list                      the registered models
  tfzoo run MODEL [options]       run MODEL's pipeline locally (Beam DirectRunner, SQLite MLMD)
  tfzoo serve                     TensorFlow Serving on every pushed model (binary or Docker)
  tfzoo predict MODEL INPUT       ask the served model (gRPC or REST), or --local
  tfzoo score MODEL INPUT         a batch (image folder or CSV) through TFX's BulkInferrer
  tfzoo runs [MODEL]              every run, each component executed/cached/failed
  tfzoo lineage MODEL|VERSION_DIR what produced a pushed model, with URIs
  tfzoo why-not-blessed MODEL     the metrics and thresholds that refused a model
  tfzoo report [MODEL]            HTML pages of every pipeline under $TFZOO_HOME/reports/
  tfzoo versions MODEL            every pushed version, its run and gate metrics, the served one
  tfzoo rollback MODEL [VERSION]  serve an earlier blessed version again (as a new version)
  tfzoo tensorboard MODEL [--all] TensorBoard on the training logs
  tfzoo compile-kubeflow MODEL    the same pipeline as a Kubeflow Pipelines v2 / Vertex AI spec

Exit status: 0 the model was blessed and is in serving/; 3 it was not blessed, or TF Serving's
loader could not serve it (nothing pushed);
4 the data was refused (unreadable file, or anomalies against the curated schema: the run
stops before Transform/Trainer); 2 bad usage (e.g. unknown MODEL); 1 the pipeline failed (the
failing component is named).
"""
from __future__ import annotations

import atexit
import importlib
import os
import sys
import threading
from typing import List, NoReturn, Optional

from pipelines import registry
from pipelines.cli.common import EXIT_FAILED, EXIT_OK, CliError, say
from pipelines.cli.parser import build_parser

# command -> (module of pipelines.cli, its function). Each module imports what its command
# needs at its top; only the chosen command's module is imported.
COMMANDS = {
    'run': ('run', 'run_command'),
    'serve': ('serve', 'serve_command'),
    'predict': ('serve', 'predict_command'),
    'score': ('score', 'score_command'),
    'runs': ('records', 'records_command'),
    'lineage': ('records', 'records_command'),
    'why-not-blessed': ('records', 'records_command'),
    'report': ('report', 'report_command'),
    'versions': ('versions', 'versions_command'),
    'rollback': ('versions', 'rollback_command'),
    'tensorboard': ('records', 'records_command'),
    'compile-kubeflow': ('compile_kubeflow', 'compile_kubeflow_command'),
}


def main(argv: Optional[List[str]] = None) -> int:
  args = build_parser().parse_args(argv)
  if args.command == 'list':
    for spec in registry.REGISTRY.values():
      print(f'{spec.name:<12} {spec.description}')
    return EXIT_OK
  module, function = COMMANDS[args.command]
  command = getattr(importlib.import_module(f'pipelines.cli.{module}'), function)
  try:
    return command(args)
  except CliError as e:
    say(str(e))
    return e.status
  except BrokenPipeError:  # `tfzoo runs | head`: the reader has what it wanted
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return EXIT_OK
  except RuntimeError as e:
    from pipelines.mlmd import metadata  # pylint: disable=g-import-not-at-top
    if not isinstance(e, metadata.MetadataConnectionError):
      raise
    say(str(e))  # an ML Metadata store that cannot be used: one line, whatever the command
    return EXIT_FAILED


def console() -> NoReturn:
  """The `tfzoo` command and `python -m pipelines.cli`: main(), then the process's end."""
  exit_process(main())


def exit_process(status: int) -> NoReturn:
  """Ends the process with `status`. Once TensorFlow is loaded, Python's own shutdown (the
  teardown of every module and what it holds) took 2.4-2.9 s after a pipeline run's last line
  (docs/benchmarks.md); so the exit handlers run (logging's flush, temporary files) and the
  process ends without that teardown. Where TensorFlow was never imported, or a thread that
  Python would wait for still runs, the ordinary exit."""
  waited_for = [t for t in threading.enumerate()
                if t is not threading.main_thread() and not t.daemon and t.is_alive()]
  if 'tensorflow' not in sys.modules or waited_for:
    sys.exit(status)
  atexit._run_exitfuncs()  # pylint: disable=protected-access
  sys.stdout.flush()
  sys.stderr.flush()
  os._exit(status)  # pylint: disable=protected-access
