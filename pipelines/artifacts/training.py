"""Keras's TensorBoard logs (train/ and validation/ under the Trainer's model_run) read with
TensorBoard's event proto alone: the per-epoch scalars, the learning rate among them."""
from __future__ import annotations

import glob
import os
import struct
from typing import Dict, List, Tuple

from tensorboard.compat.proto import event_pb2, types_pb2

from pipelines.artifacts.tfrecord import read_records

SCALARS_PLUGIN = 'scalars'
EPOCH_PREFIX = 'epoch_'  # Keras's TensorBoard callback names per-epoch scalars epoch_<metric>


def _value(tensor) -> float:
  if tensor.float_val:
    return float(tensor.float_val[0])
  if tensor.double_val:
    return float(tensor.double_val[0])
  fmt = {types_pb2.DT_FLOAT: '<f', types_pb2.DT_DOUBLE: '<d'}.get(tensor.dtype)
  if fmt is None:
    raise ValueError(f'a scalar of type {tensor.dtype}')
  return struct.unpack(fmt, tensor.tensor_content[:struct.calcsize(fmt)])[0]


def scalars(run_dir: str) -> Dict[str, Dict[str, List[Tuple[int, float]]]]:
  """{metric (without 'epoch_'): {'train' | 'validation': [(epoch, value), ...]}}."""
  curves: Dict[str, Dict[str, List[Tuple[int, float]]]] = {}
  for split in ('train', 'validation'):
    for path in sorted(glob.glob(os.path.join(run_dir, split, 'events.out.tfevents.*'))):
      for record in read_records(path):
        event = event_pb2.Event.FromString(record)
        for value in event.summary.value:
          plugin = value.metadata.plugin_data.plugin_name
          if not value.tag.startswith(EPOCH_PREFIX) or (plugin and plugin != SCALARS_PLUGIN):
            continue
          number = value.simple_value if value.WhichOneof('value') == 'simple_value' \
              else _value(value.tensor)
          curves.setdefault(value.tag[len(EPOCH_PREFIX):], {}).setdefault(split, []).append(
              (event.step, number))
  for by_split in curves.values():
    for split, points in by_split.items():
      by_split[split] = sorted(dict(points).items())  # a resumed run re-logs an epoch: last wins
  return curves
