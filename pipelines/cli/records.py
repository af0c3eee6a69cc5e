"""`tfzoo runs | lineage | why-not-blessed | tensorboard`: what ML Metadata recorded."""
from __future__ import annotations

import argparse
import os
import shlex
import sys

from pipelines.cli.common import EXIT_OK, EXIT_USAGE, CliError, quiet_imports
from pipelines.mlmd import inspection, metadata
from pipelines.paths import Paths


def _one(paths: Paths, model: str):
  [(name, config)] = inspection.stores(paths, model).items()
  return name, config


def records_command(args: argparse.Namespace) -> int:
  quiet_imports()  # reading TFMA's evaluations imports TensorFlow
  paths = Paths.from_env(args.home)
  try:
    if args.command == 'runs':
      found = inspection.stores(paths, args.model)
      print('\n'.join(inspection.format_runs(name, config) for name, config in found.items()))
    elif args.command == 'lineage':
      if os.path.sep in args.target:
        # serving/<model>/<version>: the model is the version folder's parent.
        version = os.path.abspath(args.target)
        name, config = _one(paths, os.path.basename(os.path.dirname(version)))
      else:
        (name, config), version = _one(paths, args.target), None
      print(inspection.lineage(name, config, version))
    elif args.command == 'why-not-blessed':
      name, config = _one(paths, args.model)
      print(inspection.why_not_blessed(name, config, args.run))
    else:
      _tensorboard(args, *_one(paths, args.model))
  except metadata.MetadataConfigError as e:
    raise CliError(str(e), EXIT_USAGE) from None
  except (inspection.InspectionError, metadata.MetadataConnectionError) as e:
    raise CliError(str(e)) from None
  return EXIT_OK


def _tensorboard(args: argparse.Namespace, name: str, config) -> None:
  logdirs = inspection.tensorboard_logdirs(config, args.all, name)
  binary = os.path.join(os.path.dirname(sys.executable), 'tensorboard')
  spec = ','.join(f'{run}:{uri}' for run, uri in logdirs)
  argv = [binary, '--logdir_spec' if args.all else '--logdir',
          spec if args.all else logdirs[0][1], '--port', str(args.port)]
  print('tfzoo: ' + ' '.join(shlex.quote(a) for a in argv), flush=True)
  if not args.dry_run:
    os.execv(binary, argv)
