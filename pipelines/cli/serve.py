"""`tfzoo serve` (TF Serving on every pushed model) and `tfzoo predict` (one request to it, or
through TF Serving's loader in process with --local)."""
from __future__ import annotations

import argparse
import json
import os
import shlex

from pipelines import registry
from pipelines.cli.common import EXIT_OK, EXIT_USAGE, CliError, quiet_imports
from pipelines.paths import Paths
from pipelines.serving import server


def serve_command(args: argparse.Namespace) -> int:
  root = Paths.from_env(args.home).serving_root()
  try:
    command = server.serve_command(root, args.rest_port, args.grpc_port, address=args.address)
  except server.ServingError as e:
    raise CliError(str(e)) from None
  server.write_config(command)
  models = ', '.join(f'{m} (version {v[-1]})' for m, v in server.pushed_models(root).items())
  print(f'tfzoo: serving {models}')
  where = (f'on {args.address}' if command.kind == 'docker' else
           'on every interface (tensorflow_model_server has no address option: firewall the '
           'ports to keep them private)')
  print(f'tfzoo: model config {command.config_path}; REST on port {args.rest_port}, gRPC on '
        f'port {args.grpc_port}, {where}')
  print('tfzoo: ' + ' '.join(shlex.quote(a) for a in command.argv), flush=True)
  if args.dry_run:
    return EXIT_OK
  os.execv(command.argv[0], command.argv)
  return EXIT_OK  # not reached: the server replaced this process


def predict_command(args: argparse.Namespace) -> int:
  try:
    spec = registry.pipeline_spec(args.model)
  except registry.UnknownModelError as e:
    raise CliError(str(e), EXIT_USAGE) from None
  if args.output and spec.task not in ('reconstruction', 'generation'):
    raise CliError(f'--output writes an image answer; {spec.name} does not answer with an '
                   'image', EXIT_USAGE)
  quiet_imports()
  from pipelines.serving import client, requests  # pylint: disable=g-import-not-at-top  (imports TF)
  try:
    request = requests.build_request(spec, args.input, args.signature)
    if args.show_request:
      print(json.dumps(request.rest()))
    if args.local:
      version_dir = server.latest_version_dir(Paths.from_env(args.home).serving_root(),
                                              spec.name)
      outputs = client.predict_local(request, version_dir)
      where = version_dir
    elif args.protocol == 'grpc':
      outputs = client.predict_grpc(request, args.host, args.grpc_port)
      where = f'{args.host}:{args.grpc_port} (gRPC)'
    else:
      outputs = client.predict_rest(request, args.host, args.rest_port,
                                    single_output=client.single_output(spec))
      where = f'{args.host}:{args.rest_port} (REST)'
    print(f'{spec.name} [{request.signature} @ {where}]: {client.describe(spec, outputs)}')
    if args.output:
      client.write_image(outputs, args.output)
      print(f'tfzoo: wrote {args.output}')
  except (client.ClientError, server.ServingError) as e:
    raise CliError(str(e)) from None
  return EXIT_OK
