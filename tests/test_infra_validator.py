"""The InfraValidator's executor on real artifacts: a model exported as the models here export
(models/common/export.save) is infra-blessed; the same model saved the way Keras 3 exports
fail in TF Serving is not, with one line naming the signature and the error; both through
TF Serving's loader in a subprocess and through a model server on a loopback port queried by
TFX's own client (a stand-in binary, tests/fake_model_server.py: the real one cannot be
installed here). Every signature is queried, and the validated model carries the requests as
TF Serving's warm-up file.
"""
from __future__ import annotations

import os
import re
import shutil
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf
from tfx.dsl.components.base import base_executor
from tfx.proto import infra_validator_pb2
from tfx.types import standard_artifacts
from tfx.utils import proto_utils

from components.infra_validator import keys
from components.infra_validator.component import QUERIED_EXAMPLES, TF_SERVING_RELEASE
from components.infra_validator.executor import Executor
from models.common import export

ROWS = [float(x) for x in range(12)]


def _example(x: float) -> bytes:
  return tf.train.Example(features=tf.train.Features(feature={
      'x': tf.train.Feature(float_list=tf.train.FloatList(value=[x]))})).SerializeToString()


def _export(directory: str, servable: bool) -> None:
  """y = 2x + 1 with serving_default (tf.Example) and serving_raw (x as a float tensor)."""
  inputs = keras.Input((1,), name='x')
  model = keras.Model(inputs, keras.layers.Dense(1, name='dense')(inputs))
  model.get_layer('dense').set_weights([np.array([[2.0]], np.float32), np.array([1.0], np.float32)])
  module = tf.Module()
  module.model = model

  def predict(x):
    return {'y': tf.reshape(module.model(tf.reshape(x, [-1, 1])), [-1])}

  by_example = tf.function(lambda examples: predict(tf.io.parse_example(
      examples, {'x': tf.io.FixedLenFeature([], tf.float32)})['x']),
      input_signature=[tf.TensorSpec([None], tf.string, name='examples')])
  raw = tf.function(predict, input_signature=[tf.TensorSpec([None], tf.float32, name='x')])
  signatures = {'serving_default': by_example.get_concrete_function(),
                'serving_raw': raw.get_concrete_function()}
  if servable:
    export.save(module, directory, signatures)
  else:  # what the models here did before export.save: Keras 3 hands the saver copies
    tf.saved_model.save(module, directory, signatures=signatures)


def _artifacts(tmp_path, servable: bool):
  model = standard_artifacts.Model()
  model.uri = str(tmp_path / 'model')
  _export(os.path.join(model.uri, 'Format-Serving'), servable)
  examples = standard_artifacts.Examples()
  examples.uri = str(tmp_path / 'examples')
  examples.split_names = '["train", "eval"]'
  os.makedirs(os.path.join(examples.uri, 'Split-eval'))
  with tf.io.TFRecordWriter(os.path.join(examples.uri, 'Split-eval', 'data.gz'),
                            options='GZIP') as writer:
    for x in ROWS:
      writer.write(_example(x))
  blessing = standard_artifacts.InfraBlessing()
  blessing.uri = str(tmp_path / 'blessing')
  os.makedirs(blessing.uri)
  return model, examples, blessing


def _validate(tmp_path, servable: bool):
  model, examples, blessing = _artifacts(tmp_path, servable)
  exec_properties = {
      'serving_spec': proto_utils.proto_to_json(infra_validator_pb2.ServingSpec(
          tensorflow_serving=infra_validator_pb2.TensorFlowServing(tags=[TF_SERVING_RELEASE]),
          model_name='tiny')),
      'request_spec': proto_utils.proto_to_json(infra_validator_pb2.RequestSpec(
          tensorflow_serving=infra_validator_pb2.TensorFlowServingRequestSpec(),
          split_name='eval', num_examples=QUERIED_EXAMPLES, make_warmup=True)),
      'validation_spec': proto_utils.proto_to_json(infra_validator_pb2.ValidationSpec(
          max_loading_time_seconds=60, num_tries=1)),
  }
  context = base_executor.BaseExecutor.Context(tmp_dir=str(tmp_path / 'tmp'), unique_id='1')
  Executor(context).Do({'model': [model], 'examples': [examples]}, {'blessing': [blessing]},
                       exec_properties)
  properties = {k: v.string_value or v.int_value for k, v in blessing.mlmd_artifact
                .custom_properties.items()}
  return blessing, properties


@pytest.fixture
def fake_server_on_path(tmp_path, monkeypatch):
  bin_dir = tmp_path / 'bin'
  bin_dir.mkdir()
  server = bin_dir / 'tensorflow_model_server'
  script = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'fake_model_server.py')
  server.write_text(f'#!/bin/sh\nexec {sys.executable} {script} "$@"\n')
  server.chmod(0o755)
  monkeypatch.setenv('PATH', f'{bin_dir}{os.pathsep}{os.environ["PATH"]}')


def _warmup_records(blessing) -> list:
  path = os.path.join(blessing.uri, 'stamped_model', 'assets.extra', 'tf_serving_warmup_requests')
  return list(tf.data.TFRecordDataset(path).as_numpy_iterator())


@pytest.mark.parametrize('server', [False, True], ids=['loader', 'model_server'])
def test_a_servable_model_is_infra_blessed_with_every_signature_queried(
    server, tmp_path, request):
  if server:
    request.getfixturevalue('fake_server_on_path')
  else:
    assert shutil.which('tensorflow_model_server') is None  # the loader path is the one tested
  blessing, properties = _validate(tmp_path, servable=True)
  assert properties['blessed'] == 1, properties
  assert os.path.exists(os.path.join(blessing.uri, 'INFRA_BLESSED'))
  assert properties[keys.VALIDATED_WITH] == (keys.VIA_SERVER if server else keys.VIA_LOADER)
  assert properties[keys.SIGNATURES] == 'serving_default,serving_raw'
  # TFX's requests: one per eval example for serving_default; one batched for serving_raw.
  assert properties[keys.REQUESTS] == QUERIED_EXAMPLES + 1
  assert keys.ERROR not in properties
  assert len(_warmup_records(blessing)) == QUERIED_EXAMPLES + 1


@pytest.mark.parametrize('server', [False, True], ids=['loader', 'model_server'])
def test_an_unservable_export_is_not_infra_blessed_and_the_reason_is_one_line(
    server, tmp_path, request):
  if server:
    request.getfixturevalue('fake_server_on_path')
  # tf.saved_model.load, which never runs the restore op, answers this model ...
  model, _, _ = _artifacts(tmp_path / 'probe', servable=False)
  loaded = tf.saved_model.load(os.path.join(model.uri, 'Format-Serving'))
  assert loaded.signatures['serving_raw'](x=tf.constant([5.0]))['y'].numpy().tolist() == [11.0]
  # ... TF Serving's loader does not.
  blessing, properties = _validate(tmp_path, servable=False)
  assert properties['blessed'] == 0, properties
  assert os.path.exists(os.path.join(blessing.uri, 'INFRA_NOT_BLESSED'))
  error = properties[keys.ERROR]
  assert re.match(r'serving_default: FAILED_PRECONDITION: Could not find variable '
                  r'dense/(kernel|bias)\. ', error), error
  assert '\n' not in error and len(error) < 400
  assert not os.path.exists(os.path.join(blessing.uri, 'stamped_model'))
