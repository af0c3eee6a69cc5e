"""TensorFlow's C API (libtensorflow_cc.so.2 of the installed wheel) through ctypes: the library
with the prototypes session_loader uses, status messages on one line, and tensors to and from
NumPy (strings as TF_TString elements)."""
from __future__ import annotations

import ctypes
import functools
import importlib.util
import os
import re
from typing import Optional

import numpy as np

TSTRING_SIZE = 24  # sizeof(TF_TString)
STRING = 7
# TF_DataType -> NumPy dtype, for the types the served models exchange.
NUMPY = {1: np.float32, 2: np.float64, 3: np.int32, 4: np.uint8, 5: np.int16, 6: np.int8,
         9: np.int64, 10: np.bool_, 17: np.uint16, 19: np.float16, 22: np.uint32, 23: np.uint64}
ENUM = {np.dtype(v): k for k, v in NUMPY.items()}
NAMES = {1: 'float32', 2: 'float64', 3: 'int32', 4: 'uint8', 5: 'int16', 6: 'int8',
         STRING: 'string', 9: 'int64', 10: 'bool', 17: 'uint16', 19: 'float16',
         22: 'uint32', 23: 'uint64'}


class CApiError(RuntimeError):
  """TensorFlow's library cannot be found or read."""


class Output(ctypes.Structure):
  _fields_ = [('oper', ctypes.c_void_p), ('index', ctypes.c_int)]


class Buffer(ctypes.Structure):
  _fields_ = [('data', ctypes.c_void_p), ('length', ctypes.c_size_t),
              ('data_deallocator', ctypes.c_void_p)]


@functools.lru_cache(maxsize=None)
def tensorflow_dir() -> str:
  spec = importlib.util.find_spec('tensorflow')  # finds the package without importing it
  if spec is None or not spec.origin:
    raise CApiError('TensorFlow is not installed: its C API library is the loader')
  return os.path.dirname(spec.origin)


_LIB: Optional[ctypes.CDLL] = None


def library() -> ctypes.CDLL:
  """libtensorflow_cc.so.2 with the prototypes used here (one load per process; a process
  that imported TensorFlow's Python package already holds this very library)."""
  global _LIB
  if _LIB is not None:
    return _LIB
  # RTLD_LOCAL: the library's own protobuf symbols must not become global, or a later import
  # of TensorFlow's (or protobuf's) Python extension in this process resolves against them.
  lib = ctypes.CDLL(os.path.join(tensorflow_dir(), 'libtensorflow_cc.so.2'),
                    mode=ctypes.RTLD_LOCAL)
  p, i, sz, s = ctypes.c_void_p, ctypes.c_int, ctypes.c_size_t, ctypes.c_char_p
  prototypes = {
      'TF_NewStatus': ([], p), 'TF_DeleteStatus': ([p], None), 'TF_GetCode': ([p], i),
      'TF_Message': ([p], s), 'TF_NewSessionOptions': ([], p),
      'TF_DeleteSessionOptions': ([p], None), 'TF_NewGraph': ([], p),
      'TF_DeleteGraph': ([p], None), 'TF_NewBuffer': ([], ctypes.POINTER(Buffer)),
      'TF_NewBufferFromString': ([p, sz], ctypes.POINTER(Buffer)),
      'TF_DeleteBuffer': ([ctypes.POINTER(Buffer)], None),
      'TF_LoadSessionFromSavedModel': ([p, p, s, ctypes.POINTER(s), i, p,
                                        ctypes.POINTER(Buffer), p], p),
      'TF_CloseSession': ([p, p], None), 'TF_DeleteSession': ([p, p], None),
      'TF_GraphOperationByName': ([p, s], p),
      'TF_SessionRun': ([p, p, ctypes.POINTER(Output), ctypes.POINTER(p), i,
                         ctypes.POINTER(Output), ctypes.POINTER(p), i, p, i, p, p], None),
      'TF_AllocateTensor': ([i, ctypes.POINTER(ctypes.c_int64), i, sz], p),
      'TF_DeleteTensor': ([p], None), 'TF_TensorData': ([p], p),
      'TF_TensorByteSize': ([p], sz), 'TF_TensorType': ([p], i), 'TF_NumDims': ([p], i),
      'TF_Dim': ([p, i], ctypes.c_int64),
      'TF_TensorFromProto': ([ctypes.POINTER(Buffer), p, p], None),
      'TF_StringInit': ([p], None), 'TF_StringCopy': ([p, s, sz], None),
      'TF_StringGetDataPointer': ([p], p), 'TF_StringGetSize': ([p], sz),
      'TF_StringDealloc': ([p], None),
  }
  for name, (argtypes, restype) in prototypes.items():
    function = getattr(lib, name)
    function.argtypes, function.restype = argtypes, restype
  _LIB = lib
  return lib


class Status:
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


def status_line(lib, status: Status) -> str:
  """'FAILED_PRECONDITION: Could not find variable …' from a failed status."""
  return f'{_CODES.get(lib.TF_GetCode(status.handle), "ERROR")}: {one_line(status.error() or "")}'


def to_tensor(lib, declared: int, value) -> int:
  """A new TF_Tensor of TF_DataType `declared` holding `value`; ValueError if a numeric
  value's dtype is not `declared` (TF Serving converts nothing)."""
  if declared == STRING:
    array = np.asarray(value, dtype=object)
    items = [v if isinstance(v, bytes) else str(v).encode() for v in array.reshape(-1)]
    dims = (ctypes.c_int64 * max(array.ndim, 1))(*array.shape)
    tensor = lib.TF_AllocateTensor(STRING, dims, array.ndim, TSTRING_SIZE * len(items))
    base = lib.TF_TensorData(tensor)
    for i, item in enumerate(items):
      element = base + i * TSTRING_SIZE
      lib.TF_StringInit(element)
      lib.TF_StringCopy(element, item, len(item))
    return tensor
  array = np.ascontiguousarray(value)
  if ENUM.get(array.dtype) != declared:
    raise ValueError(f'is {array.dtype}, the signature takes {NAMES.get(declared, declared)}')
  dims = (ctypes.c_int64 * max(array.ndim, 1))(*array.shape)
  tensor = lib.TF_AllocateTensor(declared, dims, array.ndim, array.nbytes)
  if array.nbytes:
    ctypes.memmove(lib.TF_TensorData(tensor), array.ctypes.data, array.nbytes)
  return tensor


def to_numpy(lib, tensor: int) -> np.ndarray:
  """A TF_Tensor's contents as a NumPy array (strings: an object array of bytes)."""
  shape = [lib.TF_Dim(tensor, i) for i in range(lib.TF_NumDims(tensor))]
  dtype = lib.TF_TensorType(tensor)
  data = lib.TF_TensorData(tensor)
  if dtype == STRING:
    count = int(np.prod(shape)) if shape else 1
    items = [ctypes.string_at(lib.TF_StringGetDataPointer(data + i * TSTRING_SIZE),
                              lib.TF_StringGetSize(data + i * TSTRING_SIZE))
             for i in range(count)]
    return np.array(items, dtype=object).reshape(shape)
  if dtype not in NUMPY:
    raise CApiError(f'an output of type {dtype} is not readable here')
  size = lib.TF_TensorByteSize(tensor)
  raw = ctypes.string_at(data, size) if size else b''
  return np.frombuffer(raw, dtype=NUMPY[dtype]).reshape(shape).copy()
