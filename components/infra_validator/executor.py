"""TFX's InfraValidator executor, on this machine's serving stack instead of Docker/Kubernetes.

Where `tensorflow_model_server` is on PATH, a real server is started on a free loopback port
(LocalBinaryRunner) and queried by InfraValidator's own gRPC client, as TFX does with its
Docker runner. Elsewhere the model is loaded by TF Serving's loader itself (TF's C API, see
session_loader) in a subprocess, which answers the same requests. Either way every signature
is queried (requests.py), and the InfraBlessing records how (`validated_with`), what was
asked (`signatures`, `requests`) and, when it fails, the one-line reason (`error`).
"""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from typing import List, Optional

from absl import logging
from tfx.components.infra_validator import executor as tfx_executor
from tfx.components.infra_validator import serving_bins
from tfx.components.infra_validator.model_server_runners import base_runner
from tfx.proto import infra_validator_pb2

from components.infra_validator import capi, check, requests as request_lib
from components.infra_validator.keys import (ERROR, REQUESTS, SIGNATURES, VALIDATED_WITH,
                                             VIA_LOADER, VIA_SERVER)

SERVER_BINARY = 'tensorflow_model_server'
CHECK_TIMEOUT_SECONDS = 300


def _free_port() -> int:
  with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
    s.bind(('127.0.0.1', 0))
    return s.getsockname()[1]


class LocalBinaryRunner(base_runner.BaseModelServerRunner):
  """tensorflow_model_server from PATH serving one model on a free port of this machine."""

  def __init__(self, binary: str, model_path: str, model_name: str, log_dir: str):
    self._binary = binary
    self._base_path = os.path.dirname(model_path)  # <base>/<model name>/<version>
    self._model_name = model_name
    self._log_path = os.path.join(log_dir, 'model_server.log')
    self._port = _free_port()
    self._process: Optional[subprocess.Popen] = None

  def __repr__(self) -> str:
    return f'LocalBinaryRunner({self._binary}, port {self._port})'

  def GetEndpoint(self) -> str:
    return f'localhost:{self._port}'

  def Start(self) -> None:
    with open(self._log_path, 'ab') as log:
      self._process = subprocess.Popen(
          [self._binary, f'--port={self._port}', f'--model_name={self._model_name}',
           f'--model_base_path={self._base_path}'], stdout=log, stderr=subprocess.STDOUT)

  def WaitUntilRunning(self, deadline: float) -> None:
    while time.time() < deadline:
      if self._process.poll() is not None:
        raise RuntimeError(f'{SERVER_BINARY} exited with status {self._process.returncode}')
      with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        if s.connect_ex(('127.0.0.1', self._port)) == 0:
          return
      time.sleep(0.2)
    raise RuntimeError(f'{SERVER_BINARY} did not open port {self._port} in time')

  def GetLogs(self) -> Optional[str]:
    if not os.path.exists(self._log_path):
      return None
    with open(self._log_path, encoding='utf-8', errors='replace') as f:
      return f.read()[-4000:]

  def Stop(self) -> None:
    if self._process is not None and self._process.poll() is None:
      self._process.terminate()
      try:
        self._process.wait(10)
      except subprocess.TimeoutExpired:
        self._process.kill()


def check_in_subprocess(model_path: str, requests: List[object]) -> dict:
  """check.py's answer for `requests` against the model, in a fresh Python process."""
  with tempfile.TemporaryDirectory(prefix='infra-validation-') as tmp:
    path = os.path.join(tmp, 'requests.bin')
    check.write_requests(path, requests)
    project = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(check.__file__))))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [project] + [p for p in os.environ.get('PYTHONPATH', '').split(os.pathsep) if p]))
    try:
      done = subprocess.run([sys.executable, '-m', 'components.infra_validator.check',
                             model_path, path], capture_output=True, text=True, env=env,
                            timeout=CHECK_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
      return {'ok': False, 'error': f'no answer within {CHECK_TIMEOUT_SECONDS} s'}
  lines = [l for l in done.stdout.splitlines() if l.startswith('{')]
  if not lines:  # the loader crashed the process: what it said last is the reason
    said = [l for l in done.stderr.splitlines() if l.strip()]
    return {'ok': False, 'error': f'the loader process died with status {done.returncode}: '
                                  f'{said[-1] if said else "no message"}'}
  return json.loads(lines[-1])


class Executor(tfx_executor.Executor):
  """InfraValidator's executor, LOAD_AND_QUERY on every signature (see the module docstring).
  The ServingSpec's platform is not read: this executor always uses this machine's stack."""

  def _Do(self, model, examples, blessing, serving_spec: infra_validator_pb2.ServingSpec,
          validation_spec: infra_validator_pb2.ValidationSpec,
          request_spec: Optional[infra_validator_pb2.RequestSpec]) -> None:
    model_path = self._PrepareModelPath(model, serving_spec)
    requests, signatures = request_lib.build_requests(
        serving_spec.model_name, model, examples, model_path,
        request_spec or infra_validator_pb2.RequestSpec())
    binary = shutil.which(SERVER_BINARY)
    if binary:
      error = self._validate_with_server(binary, model_path, serving_spec, validation_spec,
                                         requests)
    else:
      result = check_in_subprocess(model_path, requests)
      error = None if result['ok'] else result['error']
    blessing.set_string_custom_property(VALIDATED_WITH, VIA_SERVER if binary else VIA_LOADER)
    blessing.set_string_custom_property(SIGNATURES, ','.join(signatures))
    blessing.set_int_custom_property(REQUESTS, len(requests))
    if error is not None:
      logging.error('Infra validation failed: %s', error)
      blessing.set_string_custom_property(ERROR, error)
      tfx_executor._mark_not_blessed(blessing)  # pylint: disable=protected-access
      return
    tfx_executor._mark_blessed(blessing)  # pylint: disable=protected-access
    if request_spec is not None and request_spec.make_warmup:
      self._CreateWarmupModel(blessing, model_path, warmup_requests=requests)

  def _validate_with_server(self, binary: str, model_path: str,
                            serving_spec: infra_validator_pb2.ServingSpec,
                            validation_spec: infra_validator_pb2.ValidationSpec,
                            requests: List[object]) -> Optional[str]:
    """TFX's load-then-query against a running server; the last failure's line, or None."""
    [serving_binary] = serving_bins.parse_serving_binaries(serving_spec)
    error = None
    for attempt in range(max(validation_spec.num_tries, 1)):
      runner = LocalBinaryRunner(binary, model_path, serving_spec.model_name,
                                 self._get_tmp_dir())
      try:
        runner.Start()
        deadline = time.time() + (validation_spec.max_loading_time_seconds or 300)
        runner.WaitUntilRunning(deadline)
        client = serving_binary.MakeClient(runner.GetEndpoint())
        client.WaitUntilModelLoaded(deadline, polling_interval_sec=1)
        for request in requests:
          try:
            client.SendRequests([request])
          except Exception as e:  # pylint: disable=broad-except
            cause = e.__cause__  # TFX's client raises ValidationFailed from the gRPC error
            reason = (f'{cause.code().name}: {capi.one_line(cause.details() or "")}'
                      if hasattr(cause, 'details') else capi.one_line(str(cause or e)))
            raise RuntimeError(f'{request.model_spec.signature_name}: {reason}') from None
        return None
      except Exception as e:  # pylint: disable=broad-except
        error = ' '.join(str(e).split())[:500] or type(e).__name__
        logging.warning('Infra validation attempt %d failed: %s\n%s', attempt + 1, error,
                        runner.GetLogs() or '')
      finally:
        runner.Stop()
    return error
