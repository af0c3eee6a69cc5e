"""TfdsExampleGen: its executor against a TFDS mock and against the real MNIST files, and the
one-line errors a user can cause."""
from __future__ import annotations

import collections
import glob
import json
import os
import types

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds
from tfx.proto import example_gen_pb2
from tfx.types import artifact_utils, standard_artifacts

from components.tfds_example_gen import TfdsExampleGen, TfdsExampleGenError
from components.tfds_example_gen import download, executor, prepare


def count_records(pattern: str) -> int:
  return sum(1 for _ in tf.data.TFRecordDataset(glob.glob(pattern), compression_type='GZIP'))


def run_executor(tmp_path, component: TfdsExampleGen):
  examples = standard_artifacts.Examples()
  examples.uri = str(tmp_path / 'examples')
  props = dict(component.exec_properties)
  for key in ('input_config', 'output_config'):
    props[key] = component.exec_properties[key]
  executor.Executor().Do({}, {'examples': [examples]}, props)
  return examples


def test_component_parameters():
  gen = TfdsExampleGen('fashion_mnist', splits={'train[:10%]': 'train', 'test': 'eval'},
                       data_dir='/d', manual_dir='/m')
  props = gen.exec_properties
  assert props['dataset'] == 'fashion_mnist'
  assert (props['data_dir'], props['manual_dir']) == ('/d', '/m')
  splits = json.loads(props['input_config'])['splits']
  assert [(s['pattern'], s['name']) for s in splits] == [('train[:10%]', 'train'),
                                                          ('test', 'eval')]
  assert props['output_data_format'] == example_gen_pb2.FORMAT_TF_EXAMPLE
  assert gen.outputs['examples'].type == standard_artifacts.Examples


def test_executor_on_a_tfds_mock(tmp_path, monkeypatch):
  """Any image-classification dataset: here fashion_mnist, mocked (nothing read or fetched)."""
  # Mocked data needs no network: every host the probe asks "answers".
  monkeypatch.setattr(download, 'probe', lambda *args, **kwargs: {})
  with tfds.testing.mock_data(num_examples=12):
    examples = run_executor(tmp_path, TfdsExampleGen(
        'fashion_mnist', splits={'train': 'train', 'test': 'eval'},
        data_dir=str(tmp_path / 'tfds')))
  assert artifact_utils.decode_split_names(examples.split_names) == ['train', 'eval']
  assert examples.get_string_custom_property('payload_format') == 'FORMAT_TF_EXAMPLE'
  for split in ('train', 'eval'):
    pattern = os.path.join(examples.uri, f'Split-{split}', '*')
    assert count_records(pattern) == 12
  record = next(iter(tf.data.TFRecordDataset(
      glob.glob(os.path.join(examples.uri, 'Split-train', '*')), compression_type='GZIP')))
  features = tf.train.Example.FromString(record.numpy()).features.feature
  assert set(features) == {'image', 'label'}
  assert tf.io.decode_png(features['image'].bytes_list.value[0]).shape == (28, 28, 1)


def test_executor_on_real_mnist(tmp_path, tfds_data_dir, mnist_manual_dir, monkeypatch):
  """TFDS's examples exactly (as TFDS's reader reads them), in TFDS's order, a split in shards
  of at most SHARD_EXAMPLES (here 120: the 300 training examples in three files, the 200 eval
  ones in two), nothing left in the staging folder."""
  monkeypatch.setattr(executor, 'SHARD_EXAMPLES', 120)
  examples = run_executor(tmp_path, TfdsExampleGen(
      'mnist:3.0.1', splits={'train[:300]': 'train', 'test[:200]': 'eval'},
      data_dir=tfds_data_dir, manual_dir=mnist_manual_dir))
  def contents(records):  # map fields serialize in no fixed order: compare the values
    return [(f['image'].bytes_list.value[0], f['label'].int64_list.value[0])
            for f in (tf.train.Example.FromString(r).features.feature for r in records)]
  for split, expression, count in (('train', 'train[:300]', 3), ('eval', 'test[:200]', 2)):
    files = sorted(glob.glob(os.path.join(examples.uri, f'Split-{split}', '*')))
    assert [os.path.basename(f) for f in files] == [
        f'data_tfrecord-{i:05d}-of-{count:05d}.gz' for i in range(count)]
    written = tf.data.TFRecordDataset(files, compression_type='GZIP').as_numpy_iterator()
    assert contents(written) == contents(executor.read_split('mnist:3.0.1', tfds_data_dir,
                                                             expression, copy_stored=False))
  assert sorted(os.listdir(examples.uri)) == ['Split-eval', 'Split-train']
  # The real test split: its label histogram is the published one of the t10k files.
  labels = collections.Counter()
  for record in executor.read_split('mnist:3.0.1', tfds_data_dir, 'test'):
    features = tf.train.Example.FromString(record).features.feature
    labels[features['label'].int64_list.value[0]] += 1
  assert [labels[d] for d in range(10)] == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974,
                                            1009]
  image = tf.io.decode_png(features['image'].bytes_list.value[0])
  assert image.shape == (28, 28, 1) and int(tf.reduce_max(image)) == 255


@pytest.mark.parametrize('split', ['train', 'test[:1000]', 'train[10:20%]', 'test[-300:]',
                                   executor.shard_split('train', 1, 3)])
def test_mnists_stored_records_are_the_examples_tfds_reader_gives(tfds_data_dir, split):
  """MNIST's stored records (an encoded image and a class id) are copied as they are: the same
  tf.Example messages, in the same order, as TFDS's reader parsed and serialized again."""
  builder = tfds.builder('mnist:3.0.1', data_dir=tfds_data_dir)
  assert executor.stored_as_written(builder)
  copied = list(executor.read_split('mnist:3.0.1', tfds_data_dir, split))
  read = list(executor.read_split('mnist:3.0.1', tfds_data_dir, split, copy_stored=False))
  assert len(copied) == builder.info.splits[split].num_examples == len(read)
  assert [tf.train.Example.FromString(r) for r in copied] == [
      tf.train.Example.FromString(r) for r in read]


def _builder(features, file_format='tfrecord'):
  info = types.SimpleNamespace(features=tfds.features.FeaturesDict(features),
                               file_format=tfds.core.file_adapters.FileFormat(file_format))
  return types.SimpleNamespace(info=info)


@pytest.mark.parametrize('features, file_format, copied', [
    ({'image': tfds.features.Image(shape=(28, 28, 1)), 'label': tfds.features.ClassLabel(
        num_classes=10), 'text': tfds.features.Text(), 'size': tfds.features.Scalar(np.float32),
      'box': tfds.features.Tensor(shape=(4,), dtype=np.float32)}, 'tfrecord', True),
    ({'label': tfds.features.ClassLabel(num_classes=10)}, 'array_record', False),
    ({'points': tfds.features.Tensor(shape=(None, 2), dtype=np.float32)}, 'tfrecord', False),
    ({'mask': tfds.features.Tensor(shape=(4,), dtype=np.uint8,
                                   encoding=tfds.features.Encoding.ZLIB)}, 'tfrecord', False),
    ({'boxes': tfds.features.BBoxFeature()}, 'tfrecord', False),
    ({'frames': tfds.features.Sequence(tfds.features.Scalar(np.int64))}, 'tfrecord', False),
])
def test_stored_records_are_copied_only_where_reading_changes_nothing(features, file_format,
                                                                      copied):
  assert executor.stored_as_written(_builder(features, file_format)) == copied


@pytest.mark.parametrize('args, message', [
    (('mnisst', None, None), "unknown TFDS dataset 'mnisst'"),
    (('mnist', None, '/nonexistent/mnist'), 'TFDS manual directory does not exist: '
                                           '/nonexistent/mnist'),
])
def test_errors_are_one_line(args, message):
  with pytest.raises(TfdsExampleGenError) as error:
    prepare.prepare_builder(*args)
  assert str(error.value) == message


def test_empty_and_incomplete_manual_dirs_are_named(tmp_path):
  empty = tmp_path / 'empty'
  empty.mkdir()
  with pytest.raises(TfdsExampleGenError, match=f'TFDS manual directory is empty: {empty}$'):
    prepare.prepare_builder('mnist', str(tmp_path / 'data'), str(empty))
  partial = tmp_path / 'partial'
  partial.mkdir()
  (partial / 'train-images-idx3-ubyte.gz').write_bytes(b'')
  with pytest.raises(TfdsExampleGenError) as error:
    prepare.prepare_builder('mnist', str(tmp_path / 'data'), str(partial))
  assert str(error.value) == (
      f"TFDS manual directory {partial} lacks files of 'mnist': t10k-images-idx3-ubyte.gz, "
      't10k-labels-idx1-ubyte.gz, train-labels-idx1-ubyte.gz')


def test_bad_split_is_named(tmp_path, tfds_data_dir, mnist_manual_dir):
  """By the reader, and by the executor before it writes anything."""
  with pytest.raises(TfdsExampleGenError, match=r"mnist: bad split 'validation' \(splits: "):
    list(executor.read_split('mnist:3.0.1', tfds_data_dir, 'validation'))
  with pytest.raises(TfdsExampleGenError, match=r"mnist: bad split 'validation' \(splits: "):
    run_executor(tmp_path, TfdsExampleGen(
        'mnist:3.0.1', splits={'train[:10]': 'train', 'validation': 'eval'},
        data_dir=tfds_data_dir, manual_dir=mnist_manual_dir))
  assert not (tmp_path / 'examples').exists()


def test_examples_of_batches_fixed_shapes_and_keeps_varying_ones():
  """Fixed-shape features are read a batch at a time (more than one batch here), features of
  varying shape one element at a time; both give every element, in order, value for value."""
  count = executor.READ_BATCH + 7
  fixed = tf.data.Dataset.from_tensor_slices({
      'image': [f'png{i}'.encode() for i in range(count)],
      'label': list(range(count)),
      'xy': [[i * 0.5, -i] for i in range(count)]})
  parsed = [tf.train.Example.FromString(r).features.feature for r in executor.examples_of(fixed)]
  assert len(parsed) == count
  assert [f['label'].int64_list.value[0] for f in parsed] == list(range(count))
  assert parsed[-1]['image'].bytes_list.value == [f'png{count - 1}'.encode()]
  assert list(parsed[3]['xy'].float_list.value) == [1.5, -3.0]
  # Each refilled message is the example built from scratch, nothing left from the one before.
  def built(i):
    return tf.train.Example(features=tf.train.Features(feature={
        'image': tf.train.Feature(bytes_list=tf.train.BytesList(value=[f'png{i}'.encode()])),
        'label': tf.train.Feature(int64_list=tf.train.Int64List(value=[i])),
        'xy': tf.train.Feature(float_list=tf.train.FloatList(value=[i * 0.5, -i]))}))
  assert [tf.train.Example.FromString(r) for r in executor.examples_of(fixed)] == [
      built(i) for i in range(count)]

  varying = tf.data.Dataset.from_generator(
      lambda: ({'tokens': list(range(n)), 'label': n} for n in (1, 3, 2)),
      output_signature={'tokens': tf.TensorSpec([None], tf.int64),
                        'label': tf.TensorSpec([], tf.int64)})
  parsed = [tf.train.Example.FromString(r).features.feature
            for r in executor.examples_of(varying)]
  assert [list(f['tokens'].int64_list.value) for f in parsed] == [[0], [0, 1, 2], [0, 1]]
  assert [f['label'].int64_list.value[0] for f in parsed] == [1, 3, 2]
