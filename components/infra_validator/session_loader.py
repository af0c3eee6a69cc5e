"""A SavedModel loaded the way TensorFlow Serving loads it, through TensorFlow's C API.

TF Serving links the C++ `LoadSavedModel`: it imports the MetaGraph tagged `serve` into a
session, runs the graph's restore op on the variables/ checkpoint, runs the init op (tables,
assets), then answers each request with `Session::Run` on the signature's tensors.
`TF_LoadSessionFromSavedModel` and `TF_SessionRun`, exported by the `libtensorflow_cc.so.2` of
the installed TensorFlow wheel, are that loader and that call. `tf.saved_model.load` is not: it
rebuilds Python objects and never runs the restore op, so a model whose functions read
variables the checkpoint does not fill passes it and fails in TF Serving with
"Could not find variable".

Nothing here imports TensorFlow's Python package: the library and the protos (MetaGraphDef,
TensorProto) are read directly, so a process that only checks a model starts in well under a
second. Inputs are NumPy arrays (or TensorProtos, exactly what a gRPC PredictRequest carries);
outputs come back as NumPy arrays, strings as bytes.
"""
from __future__ import annotations

import ctypes
import sys
import types
from typing import Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from components.infra_validator import capi

SERVE_TAG = 'serve'


class ServingLoadError(RuntimeError):
  """The model does not load, or a signature does not answer, through TF Serving's loader.
  The message is one line naming the model directory and the signature (if any); `reason`
  is the line without the directory."""

  def __init__(self, export_dir: str, reason: str, signature: Optional[str] = None):
    self.reason = f'{signature}: {reason}' if signature else reason
    super().__init__(f'{export_dir} {self.reason}' if signature else f'{export_dir}: {reason}')


def lean_protos() -> None:
  """Lets a process that has not imported TensorFlow's Python package, and never will (the
  checker subprocess, components/infra_validator/check.py), import TensorFlow's generated
  protos (MetaGraphDef, TensorProto) without running tensorflow/__init__.py: 4 s of imports
  for a few message types. Nothing to do where TensorFlow is imported already."""
  if 'tensorflow' not in sys.modules:
    package = types.ModuleType('tensorflow')
    package.__path__ = [capi.tensorflow_dir()]  # computed (and cached) before the stand-in exists
    sys.modules['tensorflow'] = package


def _proto_modules():
  from tensorflow.core.protobuf import meta_graph_pb2  # pylint: disable=g-import-not-at-top
  return meta_graph_pb2


class ServingSession:
  """A SavedModel in a TF session, loaded and called as TF Serving does.

      with ServingSession(export_dir) as session:
        session.run('serving_raw', fur=np.array([1.0], np.float32), ...)
  """

  def __init__(self, export_dir: str, tags: Sequence[str] = (SERVE_TAG,)):
    self.export_dir = export_dir
    # The protos' Python modules first: importing them may import TensorFlow's package,
    # which should load TensorFlow's library itself before this module opens it.
    self._meta_graph_pb2 = _proto_modules()
    try:
      self._lib = lib = capi.library()
    except (capi.CApiError, OSError) as e:
      raise ServingLoadError(export_dir, str(e)) from None
    status = capi.Status(lib)
    options = lib.TF_NewSessionOptions()
    self._graph = lib.TF_NewGraph()
    meta = lib.TF_NewBuffer()
    tag_array = (ctypes.c_char_p * len(tags))(*[t.encode() for t in tags])
    try:
      self._session = lib.TF_LoadSessionFromSavedModel(
          options, None, export_dir.encode(), tag_array, len(tags), self._graph, meta,
          status.handle)
      if status.error() is not None:
        self._session = None
        raise ServingLoadError(export_dir, f'TF Serving\'s loader cannot load it: '
                                           f'{capi.status_line(lib, status)}')
      self.meta_graph = self._meta_graph_pb2.MetaGraphDef.FromString(
          ctypes.string_at(meta.contents.data, meta.contents.length))
    finally:
      lib.TF_DeleteBuffer(meta)
      lib.TF_DeleteSessionOptions(options)

  @property
  def signatures(self) -> Mapping[str, object]:
    """Signature name -> SignatureDef, as `saved_model_cli show` lists them."""
    return {k: v for k, v in self.meta_graph.signature_def.items()
            if not k.startswith('__')}

  def input_specs(self, signature: str) -> Dict[str, Tuple[str, List[Optional[int]]]]:
    """{input name: (dtype name, shape with None for any size)} of a signature."""
    return {name: (capi.NAMES.get(info.dtype, str(info.dtype)),
                   None if info.tensor_shape.unknown_rank else
                   [d.size if d.size >= 0 else None for d in info.tensor_shape.dim])
            for name, info in self._signature(signature).inputs.items()}

  def _signature(self, name: str):
    if name not in self.signatures:
      raise ServingLoadError(self.export_dir, f'no signature {name!r} (it has '
                                              f'{", ".join(sorted(self.signatures))})')
    return self.signatures[name]

  def _endpoint(self, tensor_name: str) -> capi.Output:
    op_name, _, index = tensor_name.partition(':')
    op = self._lib.TF_GraphOperationByName(self._graph, op_name.encode())
    if not op:
      raise ServingLoadError(self.export_dir, f'the graph has no operation {op_name!r}')
    return capi.Output(op, int(index or 0))

  def run(self, signature: str, **inputs) -> Dict[str, np.ndarray]:
    """Calls `signature` with NumPy inputs (each of the dtype the signature declares: TF
    Serving converts nothing) through TF_SessionRun; returns its outputs by name."""
    definition = self._signature(signature)
    missing = sorted(set(definition.inputs) - set(inputs))
    unknown = sorted(set(inputs) - set(definition.inputs))
    if missing or unknown:
      raise ServingLoadError(
          self.export_dir, f'takes {", ".join(sorted(definition.inputs))}'
          + (f'; missing {", ".join(missing)}' if missing else '')
          + (f'; unknown {", ".join(unknown)}' if unknown else ''), signature)
    tensors = []
    try:
      for name, info in definition.inputs.items():
        try:
          tensors.append(capi.to_tensor(self._lib, info.dtype, inputs[name]))
        except ValueError as e:
          raise ServingLoadError(self.export_dir, f'input {name} {e}', signature) from None
      return self._session_run(signature, definition, list(definition.inputs), tensors)
    finally:
      for tensor in tensors:
        self._lib.TF_DeleteTensor(tensor)

  def run_request(self, request) -> Dict[str, np.ndarray]:
    """Answers a tensorflow_serving PredictRequest (its signature, its TensorProto inputs)
    as TF Serving's Predict does."""
    signature = request.model_spec.signature_name or 'serving_default'
    definition = self._signature(signature)
    missing = sorted(set(definition.inputs) - set(request.inputs))
    if missing:
      raise ServingLoadError(self.export_dir, f'the request lacks {", ".join(missing)}',
                             signature)
    status = capi.Status(self._lib)
    tensors, names = [], []
    try:
      for name in definition.inputs:
        serialized = request.inputs[name].SerializeToString()
        buffer = self._lib.TF_NewBufferFromString(serialized, len(serialized))
        tensor = self._lib.TF_AllocateTensor(1, None, 0, 4)
        tensors.append(tensor)
        self._lib.TF_TensorFromProto(buffer, tensor, status.handle)
        self._lib.TF_DeleteBuffer(buffer)
        if status.error() is not None:
          raise ServingLoadError(self.export_dir,
                                 f'input {name}: {capi.status_line(self._lib, status)}', signature)
        names.append(name)
      return self._session_run(signature, definition, names, tensors)
    finally:
      for tensor in tensors:
        self._lib.TF_DeleteTensor(tensor)

  def _session_run(self, signature: str, definition, input_names: List[str],
                   tensors: List[int]) -> Dict[str, np.ndarray]:
    lib = self._lib
    output_names = sorted(definition.outputs)
    feeds = (capi.Output * len(tensors))(*[self._endpoint(definition.inputs[n].name)
                                       for n in input_names])
    values = (ctypes.c_void_p * len(tensors))(*tensors)
    fetches = (capi.Output * len(output_names))(*[self._endpoint(definition.outputs[n].name)
                                              for n in output_names])
    results = (ctypes.c_void_p * len(output_names))()
    status = capi.Status(lib)
    lib.TF_SessionRun(self._session, None, feeds, values, len(tensors), fetches, results,
                      len(output_names), None, 0, None, status.handle)
    if status.error() is not None:
      raise ServingLoadError(self.export_dir, capi.status_line(lib, status), signature)
    try:
      return {name: capi.to_numpy(lib, result) for name, result in zip(output_names, results)}
    except capi.CApiError as e:
      raise ServingLoadError(self.export_dir, str(e), signature) from None
    finally:
      for result in results:
        if result:
          lib.TF_DeleteTensor(result)

  def close(self) -> None:
    if getattr(self, '_session', None):
      status = capi.Status(self._lib)
      self._lib.TF_CloseSession(self._session, status.handle)
      self._lib.TF_DeleteSession(self._session, status.handle)
      self._session = None
    if getattr(self, '_graph', None):
      self._lib.TF_DeleteGraph(self._graph)
      self._graph = None

  def __enter__(self) -> 'ServingSession':
    return self

  def __exit__(self, *exc) -> None:
    self.close()

  def __del__(self):
    try:
      self.close()
    except Exception:  # pylint: disable=broad-except
      pass


def signature_names(export_dir: str) -> Iterable[str]:
  with ServingSession(export_dir) as session:
    return sorted(session.signatures)
