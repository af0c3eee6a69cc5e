"""`tfzoo report [MODEL]`: the HTML report (pipelines/report/) written under
$TFZOO_HOME/reports/, its path printed."""
from __future__ import annotations

import argparse
import time

from pipelines import registry, report
from pipelines.cli.common import EXIT_OK, EXIT_USAGE, CliError
from pipelines.mlmd import metadata
from pipelines.paths import Paths


def report_command(args: argparse.Namespace) -> int:
  if args.model:
    try:
      registry.pipeline_spec(args.model)
    except registry.UnknownModelError as e:
      raise CliError(str(e), EXIT_USAGE) from None
  try:
    metadata.mysql_settings()
  except ValueError as e:
    raise CliError(str(e), EXIT_USAGE) from None
  started = time.perf_counter()
  try:
    page = report.write(Paths.from_env(args.home), args.model)
  except metadata.MetadataConnectionError as e:
    raise CliError(str(e)) from None
  except OSError as e:
    raise CliError(f'could not write the report: {e}') from None
  print(f'tfzoo: report written in {time.perf_counter() - started:.1f} s: file://{page}')
  return EXIT_OK
