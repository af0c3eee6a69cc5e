"""TfdsExampleGen's executor: TFDS split -> serialized tf.Examples, on Beam.

The dataset is prepared once (prepare.py: downloaded, or built from a manual directory of its
original files), then each split expression is cut into shards of at most SHARD_EXAMPLES examples. A
shard is one unit of Beam work: read with TFDS's own reader (images kept encoded), serialized a
batch at a time and written as one gzipped TFRecord file, in TFDS's order, in the layout TFX's
ExampleGen writes (split folders, `data_tfrecord-*.gz`, payload and file format recorded).
Where TFDS's stored records already are those examples (MNIST's: an encoded image and a class
id), they are copied as they are instead (stored_as_written), file after file: the same order
for a split stored in one file (MNIST's), where TFDS's reader interleaves several files.
"""
from __future__ import annotations

import dataclasses
import os
import uuid
from typing import Any, Dict, Iterator, List, Optional

import apache_beam as beam
import numpy as np
import tensorflow as tf
from tfx.components.example_gen import utils, write_split
from tfx.components.util import examples_utils
from tfx.dsl.components.base import base_beam_executor
from tfx.proto import example_gen_pb2
from tfx.types import artifact_utils, standard_component_specs
from tfx.utils import proto_utils

from components.tfds_example_gen.errors import TfdsExampleGenError
from components.tfds_example_gen.prepare import one_line, prepare_builder

READ_BATCH = 1000
# Examples per output file at most. A shard is one unit of Beam work, so a distributed runner
# writes a large dataset's shards in parallel; MNIST's splits are one file each, as TFX's
# WriteSplit wrote them. A shard is written in bulk, where WriteSplit handed Beam every record:
# half of MNIST's ExampleGen time (docs/benchmarks.md).
SHARD_EXAMPLES = 100_000
# Shards are written here first and renamed into their split folder when complete, so a failed
# or retried worker leaves no partial file where readers look (the split folders).
STAGING_DIR = '.incomplete'


def _kind(value: np.ndarray) -> str:
  """The tf.train.Feature list that holds values of this dtype."""
  if value.dtype.kind in ('S', 'O', 'U'):
    return 'bytes_list'
  if value.dtype.kind in ('i', 'u', 'b'):
    return 'int64_list'
  if value.dtype.kind == 'f':
    return 'float_list'
  raise TfdsExampleGenError(f'unsupported TFDS feature dtype {value.dtype}')


def _as_bytes(items: list) -> list:
  return [v if isinstance(v, bytes) else str(v).encode() for v in items]


def to_example(record: Dict[str, Any]) -> bytes:
  """One serialized tf.Example of one element's features."""
  return next(serialize_batch({name: np.asarray(value)[np.newaxis]
                               for name, value in record.items()}))


def serialize_batch(batch: Dict[str, np.ndarray]) -> Iterator[bytes]:
  """Serialized tf.Examples of a batch of fixed-shape features (first axis: the examples), in
  order: each column is turned into Python lists once, and one message is refilled per
  example (building a message per example took 5x as long on MNIST, docs/benchmarks.md)."""
  example = tf.train.Example()
  columns = []
  for name, values in batch.items():
    values = np.asarray(values)
    kind = _kind(values)
    rows = values.reshape(len(values), -1).tolist()
    if kind == 'bytes_list':
      rows = [_as_bytes(row) for row in rows]
    columns.append((getattr(example.features.feature[name], kind).value, rows))
  for i in range(len(columns[0][1]) if columns else 0):
    for field, rows in columns:
      del field[:]
      field.extend(rows[i])
    yield example.SerializeToString()


def read_split(dataset: str, data_dir: Optional[str], split: str,
               copy_stored: bool = True) -> Iterator[bytes]:
  """Serialized tf.Examples of one TFDS split expression of a prepared dataset, images still
  encoded. Takes names, not a builder, so Beam workers can run it. The stored records as they
  are where they already are these examples (`copy_stored` and stored_as_written), else read
  with TFDS's reader and serialized again."""
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top

  builder = tfds.builder(dataset, data_dir=data_dir)
  if copy_stored and split_size(builder, split) and stored_as_written(builder):
    yield from stored_records(builder.info.splits[split].file_instructions)
    return
  features = builder.info.features
  nested = [k for k, f in features.items() if isinstance(f, tfds.features.FeaturesDict)]
  if nested:
    raise TfdsExampleGenError(
        f'{builder.name}: nested features {nested} are not supported (flat features only)')
  decoders = {k: tfds.decode.SkipDecoding() for k, f in features.items()
              if isinstance(f, tfds.features.Image)}
  try:
    dataset = builder.as_dataset(split=split, decoders=decoders, shuffle_files=False)
  except Exception as e:  # pylint: disable=broad-except  (unknown split, bad slice)
    raise _bad_split(builder, split, e) from None
  yield from examples_of(dataset)


def stored_as_written(builder) -> bool:
  """Whether the dataset's stored records already are the tf.Examples read_split would write.

  TFDS stores a TFRECORD dataset as serialized tf.Examples, one key per top-level feature.
  read_split parses each record, decodes it (images skipped: still encoded) and serializes it
  again, which gives back the same message when every feature's decoding only reshapes its
  values: an encoded image kept encoded, a class id, a text, a fixed-shape tensor stored
  without an encoding (the same numbers, flattened in the same order). Then the records can be
  copied as they are (stored_records), without TFDS's per-record parsing (docs/benchmarks.md).
  """
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top

  if builder.info.file_format != tfds.core.file_adapters.FileFormat.TFRECORD:
    return False
  for feature in builder.info.features.values():
    if isinstance(feature, tfds.features.Image):
      continue  # read_split skips its decoding
    if not isinstance(feature, tfds.features.Tensor) or type(feature) not in (
        tfds.features.Tensor, tfds.features.ClassLabel, tfds.features.Text,
        tfds.features.Scalar):
      return False
    if feature._encoding != tfds.features.Encoding.NONE or None in feature.shape:  # pylint: disable=protected-access
      return False
  return True


def stored_records(file_instructions) -> Iterator[bytes]:
  """The stored records a split expression's file instructions name, in their order (the
  dataset's files in order, each from the expression's first example in it)."""
  for instruction in file_instructions:
    records = tf.data.TFRecordDataset(instruction.filename).skip(instruction.skip)
    for batch in records.take(instruction.take).batch(READ_BATCH).as_numpy_iterator():
      yield from batch


def examples_of(dataset: tf.data.Dataset) -> Iterator[bytes]:
  """Serialized tf.Examples of a dataset of flat feature dicts, in its order."""
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top

  specs = dataset.element_spec
  if not all(isinstance(s, tf.TensorSpec) and s.shape.is_fully_defined()
             for s in specs.values()):
    # Features of varying shape do not batch: one element at a time.
    for record in tfds.as_numpy(dataset):
      yield to_example(record)
    return
  # Batched: tf.data hands NumPy over a batch at a time (one element at a time took 4-6x as
  # long on MNIST); the examples stay in TFDS's order.
  for batch in tfds.as_numpy(dataset.batch(READ_BATCH)):
    yield from serialize_batch(batch)


def split_size(builder, split: str) -> Optional[int]:
  """How many examples a split expression of a prepared dataset holds; TfdsExampleGenError for
  a split the dataset does not have. None where the dataset's info records no splits at all
  (TFDS's mock data): the reader then finds out."""
  if not builder.info.splits:
    return None
  try:
    return builder.info.splits[split].num_examples
  except Exception as e:  # pylint: disable=broad-except  (unknown split, bad slice)
    raise _bad_split(builder, split, e) from None


def _bad_split(builder, split, error: BaseException) -> TfdsExampleGenError:
  return TfdsExampleGenError(f'{builder.name}: bad split {split!r} (splits: '
                             f'{", ".join(builder.info.splits)}): {one_line(error)}')


def shard_split(split: str, index: int, count: int):
  """The `index`-th of `count` contiguous, even parts of a split expression, in TFDS's order,
  as TFDS's reader takes it (the expression itself when count is 1)."""
  if count == 1:
    return split
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  return tfds.even_splits(split, count)[index]


@dataclasses.dataclass(frozen=True)
class Shard:
  """One output file: part `index` of `count` of a TFDS split expression."""
  split: str
  index: int
  count: int
  path: str


def shards_of(split: str, size: Optional[int], split_uri: str) -> List[Shard]:
  """The shards of a split expression of `size` examples (one when the size is unknown)."""
  count = max(1, -(-(size or 0) // SHARD_EXAMPLES))
  return [Shard(split, index, count, os.path.join(
      split_uri, f'{write_split.DEFAULT_FILE_NAME}-{index:05d}-of-{count:05d}.gz'))
          for index in range(count)]


def write_shard(shard: Shard, dataset: str, data_dir: Optional[str], staging: str) -> int:
  """Reads, serializes and writes one shard (gzipped TFRecords): first under `staging`, then
  renamed to its path. Returns the number of examples written."""
  temporary = os.path.join(staging, f'{uuid.uuid4().hex}.gz')
  written = 0
  with tf.io.TFRecordWriter(temporary, options='GZIP') as writer:
    for record in read_split(dataset, data_dir, shard_split(shard.split, shard.index,
                                                            shard.count)):
      writer.write(record)
      written += 1
  tf.io.gfile.makedirs(os.path.dirname(shard.path))
  tf.io.gfile.rename(temporary, shard.path, overwrite=True)
  beam.metrics.Metrics.counter(write_split.METRICS_NAMESPACE, 'num_instances').inc(written)
  return written


class Executor(base_beam_executor.BaseBeamExecutor):
  """Writes the standard Examples artifact TFX's ExampleGen writes, one output split per TFDS
  split expression, a shard per Beam element (the module's docstring)."""

  def Do(self, input_dict: Dict[str, List[Any]], output_dict: Dict[str, List[Any]],
         exec_properties: Dict[str, Any]) -> None:
    self._log_startup(input_dict, output_dict, exec_properties)
    input_config, output_config = example_gen_pb2.Input(), example_gen_pb2.Output()
    proto_utils.json_to_proto(exec_properties[standard_component_specs.INPUT_CONFIG_KEY],
                              input_config)
    proto_utils.json_to_proto(exec_properties[standard_component_specs.OUTPUT_CONFIG_KEY],
                              output_config)
    if output_config.split_config.splits:
      raise TfdsExampleGenError('TfdsExampleGen writes one output split per TFDS split '
                                'expression; an output split_config is not supported')
    examples = artifact_utils.get_single_instance(
        output_dict[standard_component_specs.EXAMPLES_KEY])
    names = utils.generate_output_split_names(input_config, output_config)
    examples.split_names = artifact_utils.encode_split_names(names)

    dataset, data_dir = exec_properties['dataset'], exec_properties.get('data_dir') or None
    # Prepared here, before any Beam work: a bad name, split or failed download stops the
    # component with its one line and nothing written.
    builder = prepare_builder(dataset, data_dir, exec_properties.get('manual_dir') or None)
    shards = [shard for name, split in zip(names, input_config.splits)
              for shard in shards_of(split.pattern, split_size(builder, split.pattern),
                                     artifact_utils.get_split_uri([examples], name))]
    staging = os.path.join(examples.uri, STAGING_DIR)
    tf.io.gfile.makedirs(staging)
    with self._make_beam_pipeline() as pipeline:
      _ = (pipeline
           | 'Shards' >> beam.Create(shards)
           | 'Spread' >> beam.Reshuffle()  # a shard per worker on a distributed runner
           | 'Write' >> beam.Map(write_shard, dataset, data_dir, staging))
    tf.io.gfile.rmtree(staging)

    payload_format = exec_properties.get(standard_component_specs.OUTPUT_DATA_FORMAT_KEY)
    if payload_format:
      examples_utils.set_payload_format(examples, payload_format)
    file_format = exec_properties.get(standard_component_specs.OUTPUT_FILE_FORMAT_KEY)
    if file_format:
      examples_utils.set_file_format(examples, write_split.to_file_format_str(file_format))
