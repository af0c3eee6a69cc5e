"""What the model modules' unit tests share: the models' data read as rows, Transform run on
them with each module's own preprocessing_fn (as the Transform component does), and one
builder for any model through the contract."""
from __future__ import annotations

import csv
import functools
import importlib
import os
import tempfile
import types
from typing import Optional

import apache_beam as beam
import keras
import numpy as np
import tensorflow as tf
import tensorflow_data_validation as tfdv
import tensorflow_transform as tft
import tensorflow_transform.beam as tft_beam
from tensorflow_transform.tf_metadata import dataset_metadata, metadata_io

from components.tfds_example_gen import executor
from models.common import contract
from models.common.features import transformed_name
from pipelines import factory, registry


CSV_MODELS = ['linear', 'classifier', 'dnn']
MNIST_MODELS = ['mlp', 'mlp_dropout', 'mlp_bn', 'cnn', 'rnn']


def read_rows(spec: registry.ModelSpec):
  schema = tfdv.load_schema_text(spec.source.schema_path)
  types = {f.name: f.type for f in schema.feature}
  with open(spec.source.resolve(), newline='', encoding='utf-8') as f:
    rows = list(csv.DictReader(f))
  cast = {1: lambda v: v.encode(), 2: int, 3: float}  # BYTES, INT, FLOAT
  return schema, [{k: [cast[types[k]](v)] for k, v in row.items()} for row in rows]


def module_of(spec: registry.ModelSpec) -> contract.ModelModule:
  return importlib.import_module(f'models.{spec.name}.{spec.name}_module')


def read_mnist_rows(spec: registry.ModelSpec, count: int = 20):
  """`count` real MNIST examples from the files TfdsExampleGen writes (PNG image, label)."""
  data_dir = os.environ['TFDS_DATA_DIR']
  rows = []
  for record in executor.read_split('mnist:3.0.1', data_dir, f'train[:{count}]'):
    feature = tf.train.Example.FromString(record).features.feature
    rows.append({'image': list(feature['image'].bytes_list.value),
                 'label': list(feature['label'].int64_list.value)})
  return tfdv.load_schema_text(spec.source.schema_path), rows


@functools.lru_cache(maxsize=None)
def transform_output(name: str) -> str:
  """Runs the module's preprocessing_fn through TFT on Beam; returns the transform_fn dir."""
  spec = registry.get_spec(name)
  schema, rows = (read_rows(spec) if isinstance(spec.source, registry.CsvSource)
                  else read_mnist_rows(spec))
  out_dir = tempfile.mkdtemp(prefix=f'tft-{name}-')
  fn = functools.partial(module_of(spec).preprocessing_fn,
                         custom_config=factory.module_config(spec))
  with beam.Pipeline() as pipeline, tft_beam.Context(temp_dir=os.path.join(out_dir, 'tmp')):
    data = pipeline | beam.Create(rows)
    transform_fn = ((data, dataset_metadata.DatasetMetadata(schema))
                    | tft_beam.AnalyzeDataset(fn))
    _ = transform_fn | tft_beam.WriteTransformFn(out_dir)
  # Transform also stores the raw schema beside the graph (raw_feature_spec() reads it).
  metadata_io.write_metadata(dataset_metadata.DatasetMetadata(schema),
                             os.path.join(out_dir, tft.TFTransformOutput.RAW_METADATA_DIR))
  return out_dir


def build(spec: registry.ModelSpec, tf_transform_output: tft.TFTransformOutput,
          train_steps: Optional[int] = None) -> keras.Model:
  """Any model, as its run_fn builds it: through the contract (models/common/contract.py)."""
  return module_of(spec).build_model(tf_transform_output, factory.module_config(spec),
                                     train_steps)


def batch(spec, tf_transform_output):
  """The whole CSV, transformed by the real transform graph."""
  _, rows = read_rows(spec)
  raw_spec = tf_transform_output.raw_feature_spec()
  raw = {k: tf.constant([r[k] for r in rows], dtype=raw_spec[k].dtype) for k in rows[0]}
  transformed = tf_transform_output.transform_raw_features(raw)
  x = {transformed_name(f): transformed[transformed_name(f)] for f in spec.features}
  return x, transformed[transformed_name(spec.label)]


def transform_rows(tf_transform_output: tft.TFTransformOutput, rows) -> dict:
  """The rows through Transform's graph in Python (transform_raw_features), as NumPy: what the
  served transform_features must answer for the same rows as tf.Examples."""
  raw_spec = tf_transform_output.raw_feature_spec()
  raw = {k: tf.constant(np.reshape([r[k] for r in rows], [len(rows)] + list(raw_spec[k].shape)),
                        dtype=raw_spec[k].dtype) for k in rows[0]}
  return {k: v.numpy() for k, v in tf_transform_output.transform_raw_features(raw).items()}


def examples_split(tmp_path, rows):
  """The rows as TfdsExampleGen writes a split (a gzipped TFRecord of tf.Examples); returns a
  stand-in for the Trainer's fn_args with TFX's data accessor, and the split's file pattern."""
  from tfx.components.util import tfxio_utils  # pylint: disable=g-import-not-at-top
  from tfx.types import standard_artifacts  # pylint: disable=g-import-not-at-top
  from serving_helpers import serialized_examples  # pylint: disable=g-import-not-at-top
  split = tmp_path / 'examples' / 'Split-train'
  split.mkdir(parents=True)
  with tf.io.TFRecordWriter(str(split / 'data_tfrecord-00000-of-00001.gz'),
                            options='GZIP') as writer:
    for serialized in serialized_examples(rows):
      writer.write(serialized)
  artifact = standard_artifacts.Examples()
  artifact.uri = str(tmp_path / 'examples')
  artifact.split_names = '["train"]'
  fn_args = types.SimpleNamespace(data_accessor=types.SimpleNamespace(
      tf_dataset_factory=tfxio_utils.get_tf_dataset_factory_from_artifact([artifact], [])))
  return fn_args, [str(split / '*')]
