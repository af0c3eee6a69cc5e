"""TFRecord files read without TensorFlow: each record is a little-endian uint64 length, its
masked CRC-32C, the data and the data's masked CRC-32C (tensorflow/core/lib/io/record_writer)."""
from __future__ import annotations

import glob
import os
import struct
from typing import Iterator

_HEADER = 12  # length (8) + its CRC (4)


class RecordError(ValueError):
  """A TFRecord file that ends inside a record."""


def read_records(path: str) -> Iterator[bytes]:
  with open(path, 'rb') as f:
    while True:
      header = f.read(_HEADER)
      if not header:
        return
      if len(header) < _HEADER:
        raise RecordError(f'{path}: truncated record header')
      length, = struct.unpack('<Q', header[:8])
      data = f.read(length)
      if len(data) < length or len(f.read(4)) < 4:
        raise RecordError(f'{path}: truncated record')
      yield data


def read_all(directory: str, prefix: str) -> Iterator[bytes]:
  """The records of every file in `directory` whose name starts with `prefix` (TFMA's
  `metrics-00000-of-00001.tfrecord`, ...), in file-name order."""
  for path in sorted(glob.glob(os.path.join(directory, prefix + '*'))):
    yield from read_records(path)
