"""A TensorFlow Serving client for the pushed models: sends a request (requests.py) over gRPC
(tensorflow-serving-api) or REST, or answers it without a server through TF Serving's loader
(`--local`: TF's C API, a session and its restore op, on the latest pushed SavedModel, which
is also how the tests check the serving contract), and describes the answer readably.
"""
from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request
from typing import Dict

import numpy as np

from components.image_example_gen import images as digit_images
from pipelines import registry
from pipelines.serving.requests import ClientError, Request, contract_problems

__all__ = ['ClientError', 'predict_local', 'predict_grpc', 'predict_rest', 'write_image',
           'single_output', 'rest_outputs', 'describe']


def predict_local(request: Request, version_dir: str) -> Dict[str, np.ndarray]:
  """Answers the gRPC request — the protos TF Serving would receive — through TF Serving's
  loader (a session restored from the SavedModel, Session::Run: components/infra_validator/
  session_loader.py), after checking it against the signature's declared inputs. What works
  here works in TF Serving."""
  from components.infra_validator.session_loader import ServingLoadError, ServingSession  # pylint: disable=g-import-not-at-top
  try:
    with ServingSession(version_dir) as session:
      if request.signature not in session.signatures:
        raise ClientError(f'{version_dir} has no signature {request.signature!r} '
                          f'(it has {", ".join(sorted(session.signatures))})')
      problems = contract_problems(request, session.input_specs(request.signature))
      if problems:
        raise ClientError(f'{version_dir} {request.signature}: {"; ".join(problems)}')
      return session.run_request(request.grpc())
  except ServingLoadError as e:
    raise ClientError(str(e)) from None


def predict_grpc(request: Request, host: str, port: int, timeout: float = 30.0
                 ) -> Dict[str, np.ndarray]:
  import grpc  # pylint: disable=g-import-not-at-top
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from tensorflow_serving.apis import prediction_service_pb2_grpc  # pylint: disable=g-import-not-at-top
  channel = grpc.insecure_channel(f'{host}:{port}')
  stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
  try:
    response = stub.Predict(request.grpc(), timeout)
  except grpc.RpcError as e:
    raise ClientError(f'TF Serving at {host}:{port} (gRPC): {e.code().name}: '
                      f'{e.details()} (is `make serve` running?)') from None
  return {k: tf.make_ndarray(v) for k, v in response.outputs.items()}


def predict_rest(request: Request, host: str, port: int, single_output: str,
                 timeout: float = 30.0) -> Dict[str, np.ndarray]:
  """single_output: the name of the signature's output when it has only one (TF Serving then
  answers with the bare values)."""
  url = f'http://{host}:{port}/v1/models/{request.model}:predict'
  body = json.dumps(request.rest()).encode()
  http = urllib.request.Request(url, data=body, headers={'Content-Type': 'application/json'})
  try:
    with urllib.request.urlopen(http, timeout=timeout) as response:
      answer = json.load(response)
  except urllib.error.HTTPError as e:
    raise ClientError(f'TF Serving at {url}: HTTP {e.code}: {e.read().decode(errors="replace")}'
                      ) from None
  except urllib.error.URLError as e:
    raise ClientError(f'TF Serving at {url}: {e.reason} (is `make serve` running?)') from None
  return rest_outputs(answer, single_output)


def write_image(outputs: Dict[str, np.ndarray], path: str) -> None:
  """Writes the first image answer (pixel values 0-255) as a PNG file."""
  name = next((n for n in ('reconstruction', 'images') if n in outputs), None)
  if name is None:
    raise ClientError(f'--output: this model answers {", ".join(sorted(outputs))}, not an image')
  pixels = np.clip(np.rint(np.asarray(outputs[name])[0]), 0, 255).astype(np.uint8)
  with open(path, 'wb') as f:
    f.write(digit_images.png(pixels))


def single_output(spec: registry.ModelSpec) -> str:
  """The name of the output of a signature that has only one (REST then answers bare values):
  the translation, or a regressor's label."""
  if spec.generative:
    return 'images'
  return 'translation' if spec.task == 'translation' else spec.label


def _from_json(value):
  if isinstance(value, dict) and set(value) == {'b64'}:
    return base64.b64decode(value['b64'])
  if isinstance(value, list):
    return [_from_json(v) for v in value]
  return value.encode() if isinstance(value, str) else value


def rest_outputs(answer: dict, single_output: str) -> Dict[str, np.ndarray]:
  """TF Serving's answer to a columnar request ({"outputs": {name: values}}, or the bare
  values when the signature has one output) as arrays; strings as bytes, as over gRPC."""
  outputs = answer.get('outputs')
  if isinstance(outputs, list):
    outputs = {single_output: outputs}
  if not isinstance(outputs, dict):
    raise ClientError(f'unexpected answer from TF Serving: {json.dumps(answer)[:200]}')
  return {name: np.array(_from_json(values)) for name, values in outputs.items()}


def _text(value) -> str:
  return value.decode() if isinstance(value, bytes) else str(value)


def describe(spec: registry.ModelSpec, outputs: Dict[str, np.ndarray]) -> str:
  """`mammal (probability 0.98)`, `7 (probability 0.999; next 1: 0.0004)`, `y = 5.0000`,
  `word (letter d, probability 0.97)`, `사랑`."""
  if 'images' in outputs:
    pixels = np.asarray(outputs['images'])[0]
    return (f'a {"x".join(str(n) for n in pixels.shape)} image, ink on '
            f'{np.mean(pixels > 127):.0%} of its pixels (--output FILE.png writes it)')
  if 'reconstruction' in outputs:
    return (f'reconstructed with mean squared error {float(np.ravel(outputs["error"])[0]):.4f} '
            '(pixels scaled to [0, 1])')
  if 'translation' in outputs:
    return _text(np.ravel(outputs['translation'])[0]) or '(nothing)'
  if 'completion' in outputs:
    probabilities = np.asarray(outputs['probabilities'], dtype=np.float64).reshape(
        len(np.ravel(outputs['completion'])), -1)[0]
    return (f'{_text(np.ravel(outputs["completion"])[0])} (letter '
            f'{_text(np.ravel(outputs["classes"])[0])}, probability {probabilities.max():.3f})')
  if spec.task != 'classification':
    return f'{spec.label} = {float(np.ravel(outputs[spec.label])[0]):.4f}'
  classes = [c.decode() if isinstance(c, bytes) else str(c) for c in np.ravel(outputs['classes'])]
  probabilities = np.asarray(outputs['probabilities'], dtype=np.float64).reshape(len(classes), -1)[0]
  order = np.argsort(-probabilities)
  best = classes[0]
  text = f'{best} (probability {probabilities[order[0]]:.3f}'
  if isinstance(spec.source, registry.TfdsSource) and len(order) > 1:
    text += f'; next {order[1]}: {probabilities[order[1]]:.3g}'
  return text + ')'
