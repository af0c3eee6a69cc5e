"""TensorFlow Serving for everything pushed: the model config file and the server command.

`tfzoo serve` (`make serve`) writes `serving/models.config` listing every model with at least
one pushed version (latest-version policy; the server re-reads the file every minute, so a model
pushed later is picked up), then runs `tensorflow_model_server` if it is on PATH, else the
`tensorflow/serving` Docker image with serving/ mounted read-only.
"""
from __future__ import annotations

import dataclasses
import ipaddress
import os
import shutil
from typing import Dict, List

CONFIG_NAME = 'models.config'
DOCKER_IMAGE = 'tensorflow/serving:2.16.1'  # the TF Serving release matching TF 2.16
DOCKER_MODELS_DIR = '/models'
CONFIG_POLL_SECONDS = 60


class ServingError(RuntimeError):
  """One line saying what is missing."""


def pushed_models(serving_root: str) -> Dict[str, List[int]]:
  """{model: [versions, oldest first]} for each folder of serving_root holding a version
  (a folder named by a number, as TF Serving reads them; `.incoming-*` copies are not)."""
  models = {}
  if not os.path.isdir(serving_root):
    return models
  for name in sorted(os.listdir(serving_root)):
    path = os.path.join(serving_root, name)
    if not os.path.isdir(path):
      continue
    found = sorted(int(v) for v in os.listdir(path)
                   if v.isdigit() and os.path.isfile(os.path.join(path, v, 'saved_model.pb')))
    if found:
      models[name] = found
  return models


def latest_version_dir(serving_root: str, model: str) -> str:
  versions = pushed_models(serving_root).get(model)
  if not versions:
    raise ServingError(f'nothing pushed for {model} under {serving_root}; run '
                       f'`make run-pipeline MODEL={model}` first')
  return os.path.join(serving_root, model, str(versions[-1]))


def model_config(models: List[str], base_dir: str) -> str:
  """TF Serving's ModelServerConfig (text proto): each model at <base_dir>/<model>, serving
  its latest version."""
  entries = []
  for model in models:
    entries.append(
        '  config {\n'
        f'    name: "{model}"\n'
        f'    base_path: "{os.path.join(base_dir, model)}"\n'
        '    model_platform: "tensorflow"\n'
        '    model_version_policy { latest { num_versions: 1 } }\n'
        '  }\n')
  return 'model_config_list {\n' + ''.join(entries) + '}\n'


@dataclasses.dataclass
class ServeCommand:
  argv: List[str]
  config_path: str
  config: str
  kind: str  # 'binary' or 'docker'


LOOPBACK = '127.0.0.1'


def check_address(address: str) -> str:
  """An IP address to publish Docker's ports on (never a name: it reaches docker's argv)."""
  try:
    return str(ipaddress.ip_address(address))
  except ValueError:
    raise ServingError(f'--address {address!r} is not an IP address (e.g. 127.0.0.1, the '
                       'default, or 0.0.0.0 for every interface)') from None


def serve_command(serving_root: str, rest_port: int = 8501, grpc_port: int = 8500,
                  which=shutil.which, address: str = LOOPBACK) -> ServeCommand:
  """The command that serves every pushed model; writes nothing (see write_config). Docker
  publishes the ports on `address` only (loopback unless asked); tensorflow_model_server has
  no such option and listens on every interface."""
  address = check_address(address)
  models = list(pushed_models(serving_root))
  if not models:
    raise ServingError(f'no pushed models under {serving_root}; run '
                       '`make run-pipeline MODEL=<model>` first')
  serving_root = os.path.abspath(serving_root)
  binary = which('tensorflow_model_server')
  if binary:
    config_path = os.path.join(serving_root, CONFIG_NAME)
    return ServeCommand(
        argv=[binary, f'--port={grpc_port}', f'--rest_api_port={rest_port}',
              f'--model_config_file={config_path}',
              f'--model_config_file_poll_wait_seconds={CONFIG_POLL_SECONDS}'],
        config_path=config_path, config=model_config(models, serving_root), kind='binary')
  docker = which('docker')
  if docker:
    config_path = os.path.join(serving_root, CONFIG_NAME)
    return ServeCommand(
        argv=[docker, 'run', '--rm', '-p', f'{_host(address)}:{rest_port}:8501',
              '-p', f'{_host(address)}:{grpc_port}:8500',
              '-v', f'{serving_root}:{DOCKER_MODELS_DIR}:ro', DOCKER_IMAGE,
              f'--model_config_file={DOCKER_MODELS_DIR}/{CONFIG_NAME}',
              f'--model_config_file_poll_wait_seconds={CONFIG_POLL_SECONDS}'],
        config_path=config_path, config=model_config(models, DOCKER_MODELS_DIR), kind='docker')
  raise ServingError(
      'neither tensorflow_model_server nor docker is on PATH: install TensorFlow Serving '
      '(https://www.tensorflow.org/tfx/serving/setup, e.g. apt-get install '
      'tensorflow-model-server) or Docker')


def _host(address: str) -> str:
  return f'[{address}]' if ':' in address else address


def write_config(command: ServeCommand) -> None:
  partial = command.config_path + '.partial'
  with open(partial, 'w') as f:
    f.write(command.config)
  os.replace(partial, command.config_path)  # the server may be polling it
