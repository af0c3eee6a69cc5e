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
import functools
import importlib.util
import os
import re
import sys
import types
from typing import Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

import numpy as np

SERVE_TAG = 'serve'
_TSTRING_SIZE = 24  # sizeof(TF_TString)
_STRING = 7
# TF_DataType -> NumPy dtype, for the types the served models exchange.
_NUMPY = {1: np.float32, 2: np.float64, 3: np.int32, 4: np.uint8, 5: np.int16, 6: np.int8,
          9: np.int64, 10: np.bool_, 17: np.uint16, 19: np.float16, 22: np.uint32, 23: np.uint64}
_ENUM = {np.dtype(v): k for k, v in _NUMPY.items()}
_NAMES = {1: 'float32', 2: 'float64', 3: 'int32', 4: 'uint8', 5: 'int16', 6: 'int8',
          _STRING: 'string', 9: 'int64', 10: 'bool', 17: 'uint16', 19: 'float16',
          22: 'uint32', 23: 'uint64'}


class ServingLoadError(RuntimeError):
  """The model does not load, or a signature does not answer, through TF Serving's loader.
  The message is one line naming the model directory and the signature (if any); `reason`
  is the line without the directory."""

  def __init__(self, export_dir: str, reason: str, signature: Optional[str] = None):
    self.reason = f'{signature}: {reason}' if signature else reason
    super().__init__(f'{export_dir} {self.reason}' if signature else f'{export_dir}: {reason}')


class _Output(ctypes.Structure):
  _fields_ = [('oper', ctypes.c_void_p), ('index', ctypes.c_int)]


class _Buffer(ctypes.Structure):
  _fields_ = [('data', ctypes.c_void_p), ('length', ctypes.c_size_t),
              ('data_deallocator', ctypes.c_void_p)]


@functools.lru_cache(maxsize=None)
def _tensorflow_dir() -> str:
  spec = importlib.util.find_spec('tensorflow')  # finds the package without importing it
  if spec is None or not spec.origin:
    raise ServingLoadError(sys.executable, 'TensorFlow is not installed: its C API library is the loader')
  return os.path.dirname(spec.origin)


_LIB: Optional[ctypes.CDLL] = None


def _library() -> ctypes.CDLL:
  """libtensorflow_cc.so.2 with the prototypes used here (one load per process; a process
  that imported TensorFlow's Python package already holds this very library)."""
  global _LIB
  if _LIB is not None:
    return _LIB
  lib = ctypes.CDLL(os.path.join(_tensorflow_dir(), 'libtensorflow_cc.so.2'),
                    mode=ctypes.RTLD_GLOBAL)
  p, i, sz, s = ctypes.c_void_p, ctypes.c_int, ctypes.c_size_t, ctypes.c_char_p
  prototypes = {
      'TF_NewStatus': ([], p), 'TF_DeleteStatus': ([p], None), 'TF_GetCode': ([p], i),
      'TF_Message': ([p], s), 'TF_NewSessionOptions': ([], p),
      'TF_DeleteSessionOptions': ([p], None), 'TF_NewGraph': ([], p),
      'TF_DeleteGraph': ([p], None), 'TF_NewBuffer': ([], ctypes.POINTER(_Buffer)),
      'TF_NewBufferFromString': ([p, sz], ctypes.POINTER(_Buffer)),
      'TF_DeleteBuffer': ([ctypes.POINTER(_Buffer)], None),
      'TF_LoadSessionFromSavedModel': ([p, p, s, ctypes.POINTER(s), i, p,
                                        ctypes.POINTER(_Buffer), p], p),
      'TF_CloseSession': ([p, p], None), 'TF_DeleteSession': ([p, p], None),
      'TF_GraphOperationByName': ([p, s], p),
      'TF_SessionRun': ([p, p, ctypes.POINTER(_Output), ctypes.POINTER(p), i,
                         ctypes.POINTER(_Output), ctypes.POINTER(p), i, p, i, p, p], None),
      'TF_AllocateTensor': ([i, ctypes.POINTER(ctypes.c_int64), i, sz], p),
      'TF_DeleteTensor': ([p], None), 'TF_TensorData': ([p], p),
      'TF_TensorByteSize': ([p], sz), 'TF_TensorType': ([p], i), 'TF_NumDims': ([p], i),
      'TF_Dim': ([p, i], ctypes.c_int64),
      'TF_TensorFromProto': ([ctypes.POINTER(_Buffer), p, p], None),
      'TF_StringInit': ([p], None), 'TF_StringCopy': ([p, s, sz], None),
      'TF_StringGetDataPointer': ([p], p), 'TF_StringGetSize': ([p], sz),
      'TF_StringDealloc': ([p], None),
  }
  for name, (argtypes, restype) in prototypes.items():
    function = getattr(lib, name)
    function.argtypes, function.restype = argtypes, restype
  _LIB = lib
  return lib


def lean_protos() -> None:
  """Lets a process that has not imported TensorFlow's Python package, and never will (the
  checker subprocess, components/infra_validator/check.py), import TensorFlow's generated
  protos (MetaGraphDef, TensorProto) without running tensorflow/__init__.py: 4 s of imports
  for a few message types. Nothing to do where TensorFlow is imported already."""
  if 'tensorflow' not in sys.modules:
    package = types.ModuleType('tensorflow')
    package.__path__ = [_tensorflow_dir()]  # computed (and cached) before the stand-in exists
    sys.modules['tensorflow'] = package


def _proto_modules():
  from tensorflow.core.framework import tensor_pb2  # pylint: disable=g-import-not-at-top
  from tensorflow.core.protobuf import meta_graph_pb2  # pylint: disable=g-import-not-at-top
  return meta_graph_pb2, tensor_pb2


class _Status:
  def __init__(self, lib):
    self._lib = lib
    self.handle = lib.TF_NewStatus()

  def error(self) -> Optional[str]:
    if self._lib.TF_GetCode(self.handle) == 0:
      return None
    return self._lib.TF_Message(self.handle).decode('utf-8', 'replace')

  def __del__(self):
    self._lib.TF_DeleteStatus(self.handle)


_CODES = {1: 'CANCELLED', 2: 'UNKNOWN', 3: 'INVALID_ARGUMENT', 4: 'DEADLINE_EXCEEDED',
          5: 'NOT_FOUND', 6: 'ALREADY_EXISTS', 7: 'PERMISSION_DENIED', 8: 'RESOURCE_EXHAUSTED',
          9: 'FAILED_PRECONDITION', 10: 'ABORTED', 11: 'OUT_OF_RANGE', 12: 'UNIMPLEMENTED',
          13: 'INTERNAL', 14: 'UNAVAILABLE', 15: 'DATA_LOSS', 16: 'UNAUTHENTICATED'}


def one_line(message: str) -> str:
  """A TensorFlow error message on one line, without the graph-node trail and debug details
  TensorFlow appends (`[[{{node …}}]]`, `Debug info: …`)."""
  message = re.sub(r'\[\[.*?\]\]|Debug info:.*?(?=\[\[|$)', '', message, flags=re.S)
  return ' '.join(message.split())[:300]


def _one_line(lib, status: _Status) -> str:
  """'FAILED_PRECONDITION: Could not find variable …' from a failed status."""
  return f'{_CODES.get(lib.TF_GetCode(status.handle), "ERROR")}: {one_line(status.error() or "")}'


class ServingSession:
  """A SavedModel in a TF session, loaded and called as TF Serving does.

      with ServingSession(export_dir) as session:
        session.run('serving_raw', fur=np.array([1.0], np.float32), ...)
  """

  def __init__(self, export_dir: str, tags: Sequence[str] = (SERVE_TAG,)):
    self.export_dir = export_dir
    self._lib = lib = _library()
    self._meta_graph_pb2, self._tensor_pb2 = _proto_modules()
    status = _Status(lib)
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
                                           f'{_one_line(lib, status)}')
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
    return {name: (_NAMES.get(info.dtype, str(info.dtype)),
                   None if info.tensor_shape.unknown_rank else
                   [d.size if d.size >= 0 else None for d in info.tensor_shape.dim])
            for name, info in self._signature(signature).inputs.items()}

  def _signature(self, name: str):
    if name not in self.signatures:
      raise ServingLoadError(self.export_dir, f'no signature {name!r} (it has '
                                              f'{", ".join(sorted(self.signatures))})')
    return self.signatures[name]

  def _endpoint(self, tensor_name: str) -> _Output:
    op_name, _, index = tensor_name.partition(':')
    op = self._lib.TF_GraphOperationByName(self._graph, op_name.encode())
    if not op:
      raise ServingLoadError(self.export_dir, f'the graph has no operation {op_name!r}')
    return _Output(op, int(index or 0))

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
        tensors.append(self._tensor(signature, name, info.dtype, inputs[name]))
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
    status = _Status(self._lib)
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
                                 f'input {name}: {_one_line(self._lib, status)}', signature)
        names.append(name)
      return self._session_run(signature, definition, names, tensors)
    finally:
      for tensor in tensors:
        self._lib.TF_DeleteTensor(tensor)

  def _tensor(self, signature: str, name: str, declared: int, value) -> int:
    lib = self._lib
    if declared == _STRING:
      array = np.asarray(value, dtype=object)
      items = [v if isinstance(v, bytes) else str(v).encode() for v in array.reshape(-1)]
      dims = (ctypes.c_int64 * max(array.ndim, 1))(*array.shape)
      tensor = lib.TF_AllocateTensor(_STRING, dims, array.ndim, _TSTRING_SIZE * len(items))
      base = lib.TF_TensorData(tensor)
      for i, item in enumerate(items):
        element = base + i * _TSTRING_SIZE
        lib.TF_StringInit(element)
        lib.TF_StringCopy(element, item, len(item))
      return tensor
    array = np.ascontiguousarray(value)
    if _ENUM.get(array.dtype) != declared:
      raise ServingLoadError(
          self.export_dir, f'input {name} is {array.dtype}, the signature takes '
          f'{_NAMES.get(declared, declared)}', signature)
    dims = (ctypes.c_int64 * max(array.ndim, 1))(*array.shape)
    tensor = lib.TF_AllocateTensor(declared, dims, array.ndim, array.nbytes)
    if array.nbytes:
      ctypes.memmove(lib.TF_TensorData(tensor), array.ctypes.data, array.nbytes)
    return tensor

  def _session_run(self, signature: str, definition, input_names: List[str],
                   tensors: List[int]) -> Dict[str, np.ndarray]:
    lib = self._lib
    output_names = sorted(definition.outputs)
    feeds = (_Output * len(tensors))(*[self._endpoint(definition.inputs[n].name)
                                       for n in input_names])
    values = (ctypes.c_void_p * len(tensors))(*tensors)
    fetches = (_Output * len(output_names))(*[self._endpoint(definition.outputs[n].name)
                                              for n in output_names])
    results = (ctypes.c_void_p * len(output_names))()
    status = _Status(lib)
    lib.TF_SessionRun(self._session, None, feeds, values, len(tensors), fetches, results,
                      len(output_names), None, 0, None, status.handle)
    if status.error() is not None:
      raise ServingLoadError(self.export_dir, _one_line(lib, status), signature)
    try:
      return {name: self._to_numpy(result) for name, result in zip(output_names, results)}
    finally:
      for result in results:
        if result:
          lib.TF_DeleteTensor(result)

  def _to_numpy(self, tensor: int) -> np.ndarray:
    lib = self._lib
    shape = [lib.TF_Dim(tensor, i) for i in range(lib.TF_NumDims(tensor))]
    dtype = lib.TF_TensorType(tensor)
    data = lib.TF_TensorData(tensor)
    if dtype == _STRING:
      count = int(np.prod(shape)) if shape else 1
      items = [ctypes.string_at(lib.TF_StringGetDataPointer(data + i * _TSTRING_SIZE),
                                lib.TF_StringGetSize(data + i * _TSTRING_SIZE))
               for i in range(count)]
      return np.array(items, dtype=object).reshape(shape)
    if dtype not in _NUMPY:
      raise ServingLoadError(self.export_dir, f'an output of type {dtype} is not readable here')
    size = lib.TF_TensorByteSize(tensor)
    raw = ctypes.string_at(data, size) if size else b''
    return np.frombuffer(raw, dtype=_NUMPY[dtype]).reshape(shape).copy()

  def close(self) -> None:
    if getattr(self, '_session', None):
      status = _Status(self._lib)
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
