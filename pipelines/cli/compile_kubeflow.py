"""`tfzoo compile-kubeflow MODEL`: the pipeline `run` would run, as a Kubeflow Pipelines v2 /
Vertex AI spec."""
from __future__ import annotations

import argparse
import logging
import os
import time
from typing import Optional

from pipelines import kubeflow
from pipelines.cli.common import (EXIT_OK, EXIT_USAGE, CliError, beam_args, console_and_log,
                                  last_line)
from pipelines.cli.run import chosen_spec
from pipelines.paths import Paths


def compile_kubeflow_command(args: argparse.Namespace) -> int:
  spec = chosen_spec(args)
  task_args = beam_args(args)
  try:
    root = kubeflow.check_root(args.pipeline_root or kubeflow.PLACEHOLDER_ROOT)
  except ValueError as e:
    raise CliError(str(e), EXIT_USAGE) from None
  paths = Paths.from_env(args.home)
  output = os.path.abspath(args.output or os.path.join(paths.home, 'kubeflow',
                                                       f'{spec.name}_pipeline.json'))
  log_path = os.path.join(paths.logs_dir(),
                          f'{spec.name}-kubeflow-{time.strftime("%Y%m%d-%H%M%S")}.log')
  os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '1')
  error: Optional[BaseException] = None
  with console_and_log(log_path, verbose=False):
    try:
      job = kubeflow.compile_pipeline(spec, output, image=args.image, pipeline_root=root,
                                      beam_args=task_args)
    except Exception as e:  # pylint: disable=broad-except
      error = e
      logging.getLogger('absl').exception('compiling failed')
  if error is not None:
    raise CliError(f'compiling {spec.name} for Kubeflow failed: {type(error).__name__}: '
                   f'{last_line(error)} (full log: {log_path})')
  tasks = job['pipelineSpec']['root']['dag']['tasks']
  print(f'tfzoo: {spec.name} compiled for Kubeflow Pipelines v2 / Vertex AI: {output}')
  print(f'tfzoo: image {args.image} (project at {kubeflow.CONTAINER_ROOT}), pipeline root {root}')
  print(f'tfzoo: {len(tasks)} tasks: {", ".join(kubeflow.task_order(job))}')
  if not args.pipeline_root:
    print(f'tfzoo: no --pipeline-root given: {root} is a placeholder that runs nowhere; '
          'compile again with PIPELINE_ROOT=gs://<bucket>/tfzoo (make) or --pipeline-root')
  return EXIT_OK
