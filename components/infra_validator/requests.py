"""The PredictRequests InfraValidator sends: one or more for every signature of the model.

A signature that takes serialized examples (one DT_STRING [None] input) gets TFX's own
requests (tfx.components.infra_validator.request_builder), one per eval example. Any other
signature (plain tensors for JSON clients, a generator's noise) gets one batched request: an
input named like a feature of the examples carries those examples' values; any other input is
filled with fixed values of the declared dtype and shape (standard normal floats, zero
integers, empty strings), which is what such an input (noise, a seed) takes.
"""
from __future__ import annotations

from typing import Dict, List, Tuple

import numpy as np
import tensorflow as tf
from tensorflow.python.saved_model import loader_impl  # pylint: disable=g-direct-tensorflow-import
from tensorflow_serving.apis import predict_pb2
from tfx.components.infra_validator import request_builder
from tfx.proto import infra_validator_pb2

PROBE_SEED = 0


def signature_defs(model_path: str) -> Dict[str, object]:
  """The `serve` MetaGraph's signatures (not the internal `__saved_model_init_op`)."""
  meta_graph = loader_impl.SavedModelLoader(model_path).get_meta_graph_def_from_tags(['serve'])
  return {k: v for k, v in meta_graph.signature_def.items() if not k.startswith('__')}


def takes_examples(signature_def) -> bool:
  """What TFX's request builder can feed: a single string input of shape [None]."""
  if len(signature_def.inputs) != 1:
    return False
  [info] = signature_def.inputs.values()
  return (info.dtype == tf.string.as_datatype_enum
          and info.tensor_shape == tf.TensorShape([None]).as_proto())


def _feature_values(examples: List[tf.train.Example], name: str):
  """The examples' values of feature `name` (one per example), or None if any lacks it."""
  values = []
  for example in examples:
    feature = example.features.feature.get(name)
    kind = feature.WhichOneof('kind') if feature is not None else None
    if kind is None or len(getattr(feature, kind).value) != 1:
      return None
    values.append(getattr(feature, kind).value[0])
  return values


def tensor_request(model_name: str, signature: str, signature_def, records: List[bytes],
                   batch: int) -> predict_pb2.PredictRequest:
  """One batched request for a signature of plain tensors (see the module docstring): `batch`
  rows, taken from `records` (serialized tf.Examples) for inputs named like their features."""
  examples = [tf.train.Example.FromString(r) for r in records[:batch]]
  rng = np.random.default_rng(PROBE_SEED)
  request = predict_pb2.PredictRequest()
  request.model_spec.name = model_name
  request.model_spec.signature_name = signature
  for name, info in signature_def.inputs.items():
    dtype = tf.as_dtype(info.dtype)
    shape = [batch if d.size < 0 else d.size for d in info.tensor_shape.dim]
    values = _feature_values(examples, name) if len(examples) == batch else None
    if values is not None and len(shape) in (1, 2) and int(np.prod(shape[1:])) == 1:
      value = np.array(values, dtype=object if dtype == tf.string else dtype.as_numpy_dtype)
      value = value.reshape(shape)
    elif dtype == tf.string:
      value = np.full(shape, b'', dtype=object)
    elif dtype.is_floating:
      value = rng.standard_normal(shape).astype(dtype.as_numpy_dtype)
    else:
      value = np.zeros(shape, dtype.as_numpy_dtype)
    request.inputs[name].CopyFrom(tf.make_tensor_proto(value, dtype=dtype))
  return request


def build_requests(model_name: str, model, examples, model_path: str,
                   request_spec: infra_validator_pb2.RequestSpec
                   ) -> Tuple[List[predict_pb2.PredictRequest], List[str]]:
  """(requests, the signatures they query): every signature of the model at model_path."""
  signatures = signature_defs(model_path)
  by_examples = sorted(k for k, v in signatures.items() if takes_examples(v))
  requests: List[predict_pb2.PredictRequest] = []
  if by_examples:
    spec = infra_validator_pb2.RequestSpec()
    spec.CopyFrom(request_spec)
    del spec.tensorflow_serving.signature_names[:]
    spec.tensorflow_serving.signature_names.extend(by_examples)
    requests = request_builder.build_requests(model_name=model_name, model=model,
                                              examples=examples, request_spec=spec)
  # The eval examples TFX's requests carry (one each) feed the other signatures too.
  records = [tf.make_ndarray(tensor)[0] for r in requests
             if r.model_spec.signature_name == (by_examples or [''])[0]
             for tensor in r.inputs.values()]
  batch = len(records) or request_spec.num_examples or 1
  for name in sorted(set(signatures) - set(by_examples)):
    requests.append(tensor_request(model_name, name, signatures[name], records, batch))
  return requests, sorted(signatures)
