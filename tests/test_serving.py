"""The serving side without a server: the model config, the serve command's choice, and the
client's requests for every model kind (what goes on the wire for each signature)."""
from __future__ import annotations

import base64
import json
import os

import numpy as np
import pytest
import tensorflow as tf
from google.protobuf import text_format
from tensorflow_serving.config import model_server_config_pb2

from components.infra_validator.session_loader import ServingSession
from pipelines import registry
from pipelines.serving import client, requests, server


def _push(root, model, version):
  path = os.path.join(root, model, str(version))
  os.makedirs(path)
  open(os.path.join(path, 'saved_model.pb'), 'wb').close()


@pytest.fixture
def serving_root(tmp_path):
  root = str(tmp_path / 'serving')
  _push(root, 'cnn', 1700000000)
  _push(root, 'cnn', 1700000100)
  _push(root, 'classifier', 1700000050)
  os.makedirs(os.path.join(root, 'cnn', '.incoming-1-2'))   # an unfinished push: invisible
  os.makedirs(os.path.join(root, 'linear', '1700000200'))   # no saved_model.pb: not a version
  return root


def test_pushed_models_are_numbered_folders_with_a_graph(serving_root):
  assert server.pushed_models(serving_root) == {
      'classifier': [1700000050], 'cnn': [1700000000, 1700000100]}
  assert server.latest_version_dir(serving_root, 'cnn').endswith('cnn/1700000100')
  with pytest.raises(server.ServingError, match='nothing pushed for linear'):
    server.latest_version_dir(serving_root, 'linear')


def _which(*present):
  return lambda name: f'/usr/bin/{name}' if name in present else None


def test_serve_uses_the_binary_when_on_path(serving_root):
  command = server.serve_command(serving_root, 9001, 9000, which=_which(
      'tensorflow_model_server', 'docker'))
  assert command.kind == 'binary'
  assert command.argv == [
      '/usr/bin/tensorflow_model_server', '--port=9000', '--rest_api_port=9001',
      f'--model_config_file={serving_root}/models.config',
      '--model_config_file_poll_wait_seconds=60']
  config = text_format.Parse(command.config, model_server_config_pb2.ModelServerConfig())
  entries = {c.name: c for c in config.model_config_list.config}
  assert sorted(entries) == ['classifier', 'cnn']
  assert entries['cnn'].base_path == os.path.join(serving_root, 'cnn')
  assert entries['cnn'].model_platform == 'tensorflow'
  assert entries['cnn'].model_version_policy.latest.num_versions == 1
  server.write_config(command)
  with open(command.config_path) as f:
    assert f.read() == command.config


def test_serve_falls_back_to_docker(serving_root):
  command = server.serve_command(serving_root, which=_which('docker'))
  assert command.kind == 'docker'
  assert command.argv[:2] == ['/usr/bin/docker', 'run']
  assert f'{serving_root}:/models:ro' in command.argv
  # Published on loopback only unless asked; an address is an IP, never a name or flags.
  assert '127.0.0.1:8501:8501' in command.argv and '127.0.0.1:8500:8500' in command.argv
  everywhere = server.serve_command(serving_root, which=_which('docker'), address='0.0.0.0')
  assert '0.0.0.0:8501:8501' in everywhere.argv
  v6 = server.serve_command(serving_root, which=_which('docker'), address='::1')
  assert '[::1]:8500:8500' in v6.argv
  for bad in ('localhost', '0.0.0.0:1 -v /:/x', '--privileged'):
    with pytest.raises(server.ServingError, match='is not an IP address'):
      server.serve_command(serving_root, which=_which('docker'), address=bad)
  assert server.DOCKER_IMAGE in command.argv
  assert '--model_config_file=/models/models.config' in command.argv
  config = text_format.Parse(command.config, model_server_config_pb2.ModelServerConfig())
  assert {c.base_path for c in config.model_config_list.config} == {'/models/cnn',
                                                                    '/models/classifier'}


def test_serve_says_what_to_install_when_neither_is_there(serving_root, tmp_path):
  with pytest.raises(server.ServingError, match='neither tensorflow_model_server nor docker'):
    server.serve_command(serving_root, which=_which())
  with pytest.raises(server.ServingError, match='no pushed models'):
    server.serve_command(str(tmp_path / 'empty'), which=_which('docker'))


def _parse(serialized: bytes):
  return tf.train.Example.FromString(serialized).features.feature


@pytest.mark.parametrize('model', ['classifier', 'dnn'])
def test_animal_requests(model):
  spec = registry.get_spec(model)
  request = requests.build_request(spec, 'fur=1, wings=0')
  assert request.signature == 'serving_default' and list(request.tensors) == ['examples']
  feature = _parse(request.tensors['examples'][0])
  assert feature['fur'].int64_list.value == [1] and feature['wings'].int64_list.value == [0]
  assert 'species' not in feature
  # REST carries the same bytes, base64 in {"b64": …}.
  body = request.rest()
  assert body['signature_name'] == 'serving_default'
  [instance] = body['inputs']['examples']
  assert base64.b64decode(instance['b64']) == request.tensors['examples'][0]
  # gRPC: a string tensor named `examples`.
  grpc = request.grpc()
  assert grpc.model_spec.name == model and grpc.model_spec.signature_name == 'serving_default'
  assert tf.make_ndarray(grpc.inputs['examples']).tolist() == [request.tensors['examples'][0]]

  raw = requests.build_request(spec, '1,0', signature='raw')
  assert raw.signature == 'serving_raw'
  assert {k: (v.dtype, v.tolist()) for k, v in raw.tensors.items()} == {
      'fur': (np.float32, [1.0]), 'wings': (np.float32, [0.0])}
  assert json.loads(json.dumps(raw.rest()))['inputs'] == {'fur': [1.0], 'wings': [0.0]}


def test_linear_request_is_a_float_feature():
  spec = registry.get_spec('linear')
  request = requests.build_request(spec, 'x=5')
  assert list(_parse(request.tensors['examples'][0])['x'].float_list.value) == [5.0]
  assert requests.build_request(spec, '2.5', 'raw').tensors['x'].tolist() == [2.5]


@pytest.mark.parametrize('text, message', [
    ('fur=1', 'missing wings'),
    ('fur=1,wings=0,legs=4', 'unknown legs'),
    ('1,0,1', 'expects fur=…,wings=…'),
    ('fur=yes,wings=0', "could not convert string to float: 'yes'"),
    ('fur=0.5,wings=0', 'fur must be a whole number'),
])
def test_bad_tabular_inputs_say_what_is_expected(text, message):
  with pytest.raises(client.ClientError, match=message):
    requests.build_request(registry.get_spec('classifier'), text)


@pytest.mark.parametrize('model, feature, word', [('autocomplete', 'word', 'wor'),
                                                  ('seq2seq', 'english', 'love')])
def test_word_requests(model, feature, word):
  spec = registry.get_spec(model)
  request = requests.build_request(spec, f' {word} ')
  assert _parse(request.tensors['examples'][0])[feature].bytes_list.value == [word.encode()]
  raw = requests.build_request(spec, word, 'raw')
  assert raw.signature == 'serving_raw'
  assert tf.make_ndarray(raw.grpc().inputs[feature]).tolist() == [word.encode()]
  assert raw.rest()['inputs'] == {feature: [{'b64': base64.b64encode(word.encode()).decode()}]}
  with pytest.raises(client.ClientError, match=f'{model} takes one word'):
    requests.build_request(spec, 'fur=1,wings=0')


def test_image_requests(tmp_path):
  spec = registry.get_spec('cnn')
  digit = np.zeros((28, 28), np.uint8)
  digit[4:24, 12:16] = 255  # a light "1" on black, as MNIST
  path = str(tmp_path / 'one.png')
  tf.io.write_file(path, tf.io.encode_png(digit[..., None]))
  request = requests.build_request(spec, path)
  png = _parse(request.tensors['examples'][0])['image'].bytes_list.value[0]
  np.testing.assert_array_equal(tf.io.decode_png(png)[..., 0].numpy(), digit)
  raw = requests.build_request(spec, path, 'raw')
  assert raw.tensors['images'].shape == (1, 28, 28) and raw.tensors['images'].dtype == np.float32
  np.testing.assert_array_equal(raw.tensors['images'][0], digit)

  # Dark ink on white paper, at another size: resized to 28x28 and inverted to MNIST's polarity.
  paper = np.full((56, 56), 255, np.uint8)
  paper[8:48, 24:32] = 0
  path = str(tmp_path / 'paper.png')
  tf.io.write_file(path, tf.io.encode_png(paper[..., None]))
  pixels = requests.build_request(spec, path, 'raw').tensors['images'][0]
  assert pixels.shape == (28, 28) and pixels[14, 14] > 200 and pixels[14, 2] < 30

  with pytest.raises(client.ClientError, match='image file not found'):
    requests.build_request(spec, str(tmp_path / 'missing.png'))
  text = tmp_path / 'notes.txt'
  text.write_text('not an image')
  with pytest.raises(client.ClientError, match='not an image file'):
    requests.build_request(spec, str(text))


def test_generator_requests():
  """gan: a seed; cgan: the digit wanted (and a seed). `noise` carries the 128 numbers drawn
  from the seed (the same seed, the same noise); `seed` lets the model draw them."""
  gan, cgan = registry.get_spec('gan'), registry.get_spec('cgan')
  request = requests.build_request(gan, '3')
  assert request.signature == 'serving_default' and set(request.tensors) == {'noise'}
  noise = request.tensors['noise']
  assert noise.shape == (1, 128) and noise.dtype == np.float32
  np.testing.assert_array_equal(noise, requests.build_request(gan, 'seed=3').tensors['noise'])
  assert np.abs(noise - requests.build_request(gan, '4').tensors['noise']).max() > 0.1
  assert abs(float(noise.mean())) < 0.3 and 0.7 < float(noise.std()) < 1.3

  request = requests.build_request(cgan, 'digit=7,seed=3')
  assert sorted(request.tensors) == ['digit', 'noise']
  assert request.tensors['digit'].tolist() == [7] and request.tensors['digit'].dtype == np.int64
  np.testing.assert_array_equal(request.tensors['noise'], noise)
  assert requests.build_request(cgan, '7').rest()['inputs']['digit'] == [7]
  by_seed = requests.build_request(cgan, '7,seed=5', 'seed')
  assert by_seed.signature == 'from_seed'
  assert by_seed.rest() == {'signature_name': 'from_seed', 'inputs': {'seed': [5], 'digit': [7]}}
  assert tf.make_ndarray(by_seed.grpc().inputs['seed']).dtype == np.int64

  for spec, text, message in [(cgan, '12', 'cgan takes a digit 0-9'),
                              (cgan, 'seed=3', 'cgan takes a digit 0-9'),
                              (cgan, 'seven', 'cgan takes a digit 0-9'),
                              (gan, 'digit=7', 'gan takes a noise seed'),
                              (gan, '-1', 'the seed must be 0 or more')]:
    with pytest.raises(client.ClientError, match=message):
      requests.build_request(spec, text)
  with pytest.raises(client.ClientError, match='signature must be one of noise, seed'):
    requests.build_request(gan, '3', 'examples')
  with pytest.raises(client.ClientError, match='signature must be one of examples, raw'):
    requests.build_request(registry.get_spec('cnn'), 'x.png', 'noise')
  image = np.zeros((1, 28, 28), np.float32)
  image[0, 4:24, 12:16] = 255.0
  assert client.describe(cgan, {'images': image}) == \
      'a 28x28 image, ink on 10% of its pixels (--output FILE.png writes it)'
  assert client.single_output(gan) == 'images'


def test_answers_are_described_readably():
  cnn, classifier, linear = (registry.get_spec(m) for m in ('cnn', 'classifier', 'linear'))
  probabilities = np.array([[0.001, 0.004, 0, 0, 0, 0, 0, 0.995, 0, 0]])
  assert client.describe(cnn, {'classes': np.array([b'7']), 'probabilities': probabilities}) == \
      '7 (probability 0.995; next 1: 0.004)'
  assert client.describe(classifier, {'classes': np.array([b'mammal']),
                                      'probabilities': np.array([[0.01, 0.98, 0.01]])}) == \
      'mammal (probability 0.980)'
  assert client.describe(linear, {'y': np.array([5.0])}) == 'y = 5.0000'
  seq2seq, autocomplete = registry.get_spec('seq2seq'), registry.get_spec('autocomplete')
  assert client.describe(seq2seq, {'translation': np.array(['사랑'.encode()])}) == '사랑'
  assert client.describe(autocomplete, {
      'completion': np.array([b'kiss']), 'classes': np.array([b's']),
      'probabilities': np.array([[0.01, 0.97, 0.02]])}) == 'kiss (letter s, probability 0.970)'


def test_rest_answers_are_read_like_grpc_ones():
  answer = {'outputs': {'classes': ['mammal'], 'class_ids': [1],
                        'probabilities': [[0.01, 0.98, 0.01]]}}
  outputs = client.rest_outputs(answer, single_output='species')
  assert outputs['classes'].tolist() == [b'mammal'] and outputs['class_ids'].tolist() == [1]
  assert client.rest_outputs({'outputs': [5.0]}, single_output='y')['y'].tolist() == [5.0]
  # One output (a translation): TF Serving answers the bare values, UTF-8 text.
  seq2seq = client.single_output(registry.get_spec('seq2seq'))
  assert client.rest_outputs({'outputs': ['사랑']}, seq2seq)['translation'].tolist() == \
      ['사랑'.encode()]
  with pytest.raises(client.ClientError, match='unexpected answer'):
    client.rest_outputs({'error': 'Servable not found'}, single_output='y')


def test_contract_problems_name_the_tensor_dtype_and_shape(tmp_path):
  """What `predict --local` checks before calling a signature: the request's tensors against
  the signature's declared inputs (what TF Serving would refuse)."""
  module = tf.Module()
  module.double = tf.function(lambda x: {'y': x * 2.0}, input_signature=[
      tf.TensorSpec([None], tf.float32, name='x')])
  tf.saved_model.save(module, str(tmp_path), signatures={'serving_raw': module.double})
  with ServingSession(str(tmp_path)) as session:
    signature = session.input_specs('serving_raw')
  assert signature == {'x': ('float32', [None])}
  ok = requests.Request('linear', 'serving_raw', {'x': np.array([5.0], np.float32)})
  assert requests.contract_problems(ok, signature) == []
  as_text = requests.Request('linear', 'serving_raw', {'x': np.array([b'5'], dtype=object)})
  assert requests.contract_problems(as_text, signature) == [
      'x: the request sends string[1], the signature takes float32[None]']
  matrix = requests.Request('linear', 'serving_raw', {'x': np.zeros((1, 2), np.float32)})
  assert requests.contract_problems(matrix, signature) == [
      'x: the request sends float32[1, 2], the signature takes float32[None]']
