"""A stand-in for `tensorflow_model_server` (whose binary cannot be installed here), for the
InfraValidator's server path: the same flags, a real gRPC server on the port it is given,
TF Serving's ModelService.GetModelStatus and PredictionService.Predict, and each Predict
answered by TF Serving's loader (session_loader) on the model's latest version.

    fake_model_server.py --port=N --model_name=NAME --model_base_path=DIR
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from concurrent import futures

import grpc

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from components.infra_validator import session_loader  # pylint: disable=wrong-import-position
from tensorflow_serving.apis import get_model_status_pb2  # pylint: disable=wrong-import-position
from tensorflow_serving.apis import model_service_pb2_grpc  # pylint: disable=wrong-import-position
from tensorflow_serving.apis import predict_pb2  # pylint: disable=wrong-import-position
from tensorflow_serving.apis import prediction_service_pb2_grpc  # pylint: disable=wrong-import-position
import tensorflow as tf  # pylint: disable=wrong-import-position


class _Models(model_service_pb2_grpc.ModelServiceServicer):
  def __init__(self, name: str, version: int):
    self._name, self._version = name, version

  def GetModelStatus(self, request, context):
    if request.model_spec.name != self._name:
      context.abort(grpc.StatusCode.NOT_FOUND, f'no model {request.model_spec.name}')
    status = get_model_status_pb2.ModelVersionStatus(
        version=self._version, state=get_model_status_pb2.ModelVersionStatus.AVAILABLE)
    return get_model_status_pb2.GetModelStatusResponse(model_version_status=[status])


class _Predictions(prediction_service_pb2_grpc.PredictionServiceServicer):
  def __init__(self, session: session_loader.ServingSession):
    self._session = session

  def Predict(self, request, context):
    try:
      outputs = self._session.run_request(request)
    except session_loader.ServingLoadError as e:
      # as TF Serving answers: the status code, and TensorFlow's message as the details
      code, message = e.reason.split(': ', 2)[1:]
      context.abort(getattr(grpc.StatusCode, code, grpc.StatusCode.UNKNOWN), message)
    response = predict_pb2.PredictResponse()
    for name, value in outputs.items():
      response.outputs[name].CopyFrom(tf.make_tensor_proto(value))
    return response


def main() -> None:
  parser = argparse.ArgumentParser()
  parser.add_argument('--port', type=int, required=True)
  parser.add_argument('--model_name', required=True)
  parser.add_argument('--model_base_path', required=True)
  args, _ = parser.parse_known_args()
  version = max(int(v) for v in os.listdir(args.model_base_path) if v.isdigit())
  session = session_loader.ServingSession(os.path.join(args.model_base_path, str(version)))
  server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
  model_service_pb2_grpc.add_ModelServiceServicer_to_server(
      _Models(args.model_name, version), server)
  prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(
      _Predictions(session), server)
  server.add_insecure_port(f'127.0.0.1:{args.port}')
  server.start()
  print(f'serving {args.model_name} version {version} on port {args.port}', flush=True)
  deadline = time.time() + 300  # never outlives a test that forgot it
  while time.time() < deadline:
    time.sleep(0.5)


if __name__ == '__main__':
  main()
