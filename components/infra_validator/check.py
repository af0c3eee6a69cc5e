"""Loads a SavedModel with TF Serving's loader and answers PredictRequests, in its own process.

    python -m components.infra_validator.check MODEL_DIR REQUESTS_FILE

REQUESTS_FILE holds serialized tensorflow_serving PredictRequests, each preceded by its length
(8 bytes, little-endian). Prints one JSON line: {"ok": true, "answers": {signature: count}},
or {"ok": false, "error": "<signature>: <one line>"} and exits 1. Its own process, as
a model server is: a model whose graph crashes the loader cannot take the pipeline with it,
and no TensorFlow Python state of the caller's is involved. TensorFlow's Python package is
not imported here (see session_loader): the check costs the model's load and queries.
"""
from __future__ import annotations

import json
import os
import struct
import sys
from typing import Iterator, List

_LENGTH = struct.Struct('<Q')


def write_requests(path: str, requests: List[object]) -> None:
  with open(path, 'wb') as f:
    for request in requests:
      data = request.SerializeToString()
      f.write(_LENGTH.pack(len(data)))
      f.write(data)


def read_requests(path: str) -> Iterator[bytes]:
  with open(path, 'rb') as f:
    while True:
      header = f.read(_LENGTH.size)
      if not header:
        return
      (length,) = _LENGTH.unpack(header)
      yield f.read(length)


def check(model_dir: str, requests_path: str) -> dict:
  from components.infra_validator import session_loader  # pylint: disable=g-import-not-at-top
  session_loader.lean_protos()
  from tensorflow_serving.apis import predict_pb2  # pylint: disable=g-import-not-at-top
  answers: dict = {}
  try:
    with session_loader.ServingSession(model_dir) as session:
      for data in read_requests(requests_path):
        request = predict_pb2.PredictRequest.FromString(data)
        outputs = session.run_request(request)
        signature = request.model_spec.signature_name or 'serving_default'
        if not outputs:
          raise session_loader.ServingLoadError(model_dir, 'answered no outputs', signature)
        answers[signature] = answers.get(signature, 0) + 1
  except session_loader.ServingLoadError as e:
    return {'ok': False, 'error': e.reason, 'answers': answers}
  return {'ok': True, 'answers': answers}


def main(argv: List[str]) -> int:
  if len(argv) != 3:
    print(__doc__.split('\n\n')[1].strip(), file=sys.stderr)
    return 2
  os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
  result = check(argv[1], argv[2])
  print(json.dumps(result), flush=True)
  return 0 if result['ok'] else 1


if __name__ == '__main__':
  sys.exit(main(sys.argv))
