"""TfdsExampleGen's executor: TFDS split -> serialized tf.Examples, on Beam.

The dataset is prepared once (downloaded, or read from a manual directory of its original
files), then each split expression is read with TFDS's own reader, images kept encoded, and
written by TFX's ExampleGen machinery (split folders, gzipped TFRecords, payload format).
"""
from __future__ import annotations

import contextlib
import fcntl
import os
from typing import Any, Dict, Iterator, Optional

import apache_beam as beam
import numpy as np
import tensorflow as tf
from tfx.components.example_gen import base_example_gen_executor

from components.tfds_example_gen import download
from components.tfds_example_gen.errors import TfdsExampleGenError

READ_BATCH = 1000


def _one_line(error: BaseException) -> str:
  text = ' '.join(str(error).split())
  return text[:300] + ('...' if len(text) > 300 else '')


def prepare_builder(dataset: str, data_dir: Optional[str], manual_dir: Optional[str]):
  """Returns a TFDS builder whose data is prepared, or raises TfdsExampleGenError."""
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top

  if manual_dir is not None:
    if not os.path.isdir(manual_dir):
      raise TfdsExampleGenError(f'TFDS manual directory does not exist: {manual_dir}')
    if not os.listdir(manual_dir):
      raise TfdsExampleGenError(f'TFDS manual directory is empty: {manual_dir}')
  probed = False
  if not manual_dir and data_dir:
    # Before the builder: for a dataset not prepared yet it asks TFDS's bucket for the
    # dataset's info, which takes minutes of retries behind an unreachable proxy.
    files = download.needs_download(dataset, data_dir)
    if files:
      download.check_reachable(dataset, files)
      probed = True
  try:
    builder = tfds.builder(dataset, data_dir=data_dir)
  except tfds.core.registered.DatasetNotFoundError:
    raise TfdsExampleGenError(f'unknown TFDS dataset {dataset!r}') from None
  except Exception as e:  # pylint: disable=broad-except  (bad version strings and the like)
    raise TfdsExampleGenError(f'cannot load TFDS dataset {dataset!r}: {_one_line(e)}') from None
  if manual_dir and not _is_prepared(builder):
    # TFDS looks for each original file by name in the manual directory and silently falls
    # back to downloading it (minutes of retries offline); name the missing ones instead.
    missing = sorted(info.filename for info in (builder.url_infos or {}).values()
                     if info.filename and not os.path.exists(os.path.join(manual_dir, info.filename)))
    if missing:
      raise TfdsExampleGenError(
          f'TFDS manual directory {manual_dir} lacks files of {dataset!r}: {", ".join(missing)}')
  if not manual_dir and not probed and not _is_prepared(builder):
    _check_reachable(builder)
  config = tfds.download.DownloadConfig(manual_dir=manual_dir) if manual_dir else None
  try:
    with _prepare_lock(builder.data_dir):  # two pipelines preparing the same dataset at once
      builder.download_and_prepare(download_config=config)
  except Exception as e:  # pylint: disable=broad-except
    if manual_dir:
      raise TfdsExampleGenError(
          f'TFDS could not prepare {dataset!r} from manual directory {manual_dir} (is every '
          f'original file of the dataset there?): {_one_line(e)}') from None
    files = ', '.join(sorted(set(download.file_names(builder.url_infos).values())))
    raise TfdsExampleGenError(
        f'TFDS could not download {dataset!r} ({_one_line(e)}); put '
        f'{files or "its original files"} in a folder and {download.COMPONENT_REMEDY}') from None
  return builder


def _check_reachable(builder) -> None:
  """Before TFDS downloads (minutes of retries when offline): one short probe of the hosts of
  the files not yet in TFDS's download folder. Nothing is written before it, so a failed probe
  leaves the data dir as it was; the error names the files a manual directory needs."""
  from tensorflow_datasets.core.download import resource  # pylint: disable=g-import-not-at-top

  url_infos = builder.url_infos or {}
  downloads = os.path.join(os.fspath(builder.data_dir_root), 'downloads')
  pending = [url for url, info in url_infos.items()
             if not resource.Resource.exists_locally(
                 os.path.join(downloads, resource.get_dl_fname(url, info.checksum)))]
  try:
    download.check_reachable(builder.name, download.file_names(url_infos), pending)
  except TfdsExampleGenError:
    if not _prepared_meanwhile(builder):
      raise


def _prepared_meanwhile(builder) -> bool:
  """Whether another pipeline holding the prepare lock (e.g. from its manual directory) has
  prepared the dataset by the time it lets go; False at once when no lock file exists."""
  if '://' in builder.data_dir or not os.path.exists(download.lock_path(builder.data_dir)):
    return False
  with _prepare_lock(builder.data_dir):
    return _is_prepared(builder)


@contextlib.contextmanager
def _prepare_lock(dataset_dir: str):
  """Holds an exclusive lock beside `dataset_dir` (local data dirs only): a second pipeline
  waits for the first to finish preparing instead of preparing into the same folder."""
  if '://' in dataset_dir:
    yield
    return
  os.makedirs(os.path.dirname(dataset_dir), exist_ok=True)
  with open(download.lock_path(dataset_dir), 'a') as lock:
    fcntl.flock(lock, fcntl.LOCK_EX)
    try:
      yield
    finally:
      fcntl.flock(lock, fcntl.LOCK_UN)


def _is_prepared(builder) -> bool:
  return os.path.exists(os.path.join(builder.data_dir, 'dataset_info.json'))


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


def read_split(dataset: str, data_dir: Optional[str], split: str) -> Iterator[bytes]:
  """Serialized tf.Examples of one TFDS split expression of a prepared dataset, images still
  encoded. Takes names, not a builder, so Beam workers can run it."""
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top

  builder = tfds.builder(dataset, data_dir=data_dir)
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
    raise TfdsExampleGenError(
        f'{builder.name}: bad split {split!r} (splits: {", ".join(builder.info.splits)}): '
        f'{_one_line(e)}') from None
  yield from examples_of(dataset)


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


@beam.ptransform_fn
@beam.typehints.with_input_types(beam.Pipeline)
@beam.typehints.with_output_types(bytes)
def _TfdsToExample(pipeline: beam.Pipeline, exec_properties: Dict[str, Any],
                   split_pattern: str) -> beam.pvalue.PCollection:
  dataset, data_dir = exec_properties['dataset'], exec_properties.get('data_dir') or None
  # Prepared here, in the executor, so a bad name or a failed download stops the component
  # before any Beam work starts.
  prepare_builder(dataset, data_dir, exec_properties.get('manual_dir') or None)
  # No Reshuffle here: TFX's WriteSplit reshuffles before writing, which also spreads one
  # FlatMap's examples over a distributed runner's workers (a second one took 4.2 s of 11 on
  # MNIST's 70,000 examples in process, docs/benchmarks.md).
  return (pipeline
          | 'Split' >> beam.Create([split_pattern])
          | 'Read' >> beam.FlatMap(lambda split: read_split(dataset, data_dir, split)))


class Executor(base_example_gen_executor.BaseExampleGenExecutor):
  """BaseExampleGenExecutor does the splitting and writing; this supplies the records."""

  def GetInputSourceToExamplePTransform(self) -> beam.PTransform:
    return _TfdsToExample
