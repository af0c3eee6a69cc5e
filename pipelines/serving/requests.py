"""A TF Serving request built from a readable input, in both wire forms (gRPC's PredictRequest,
REST's JSON), and checked against a signature's declared inputs.

Inputs, by model kind:
  MNIST models   an image file (PNG, JPEG, …): converted to 28x28 grayscale; a dark digit on a
                 light background is inverted to MNIST's light-on-dark
  animal models  `fur=1,wings=0` (or `1,0` in the model's feature order)
  linear         `x=5` (or `5`)
  autocomplete   three letters (`wor`); seq2seq: an English word (`love`)
  gan            a noise seed (`3` or `seed=3`); cgan: the digit wanted (`7`, `digit=7,seed=3`)

Each request exists for both signatures: `examples` (serving_default: one serialized
tf.Example, sent as `{"b64": …}` over REST) and `raw` (serving_raw: plain tensors); for the
GANs `noise` (serving_default: 128 standard-normal numbers drawn here from the seed, + digit)
and `seed` (from_seed: the seed itself, the model draws the noise).
"""
from __future__ import annotations

import base64
import dataclasses
from typing import Dict, List, Mapping, Optional, Tuple

import numpy as np

from components.image_example_gen import images as digit_images
from models.common.features import FROM_SEED_SIGNATURE, NOISE_SIZE, RAW_SIGNATURE
from pipelines import registry

SIGNATURES = {'examples': 'serving_default', 'raw': RAW_SIGNATURE}
GENERATIVE_SIGNATURES = {'noise': 'serving_default', 'seed': FROM_SEED_SIGNATURE}


class ClientError(ValueError):
  """One line: what in the input or the answer is wrong."""


@dataclasses.dataclass
class Request:
  """One prediction request in both wire forms."""
  model: str
  signature: str                  # 'serving_default' or 'serving_raw'
  tensors: Dict[str, np.ndarray]  # input name -> value, with the dtype the signature expects

  def grpc(self):
    """A tensorflow_serving PredictRequest."""
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    from tensorflow_serving.apis import predict_pb2  # pylint: disable=g-import-not-at-top
    request = predict_pb2.PredictRequest()
    request.model_spec.name = self.model
    request.model_spec.signature_name = self.signature
    for name, value in self.tensors.items():
      request.inputs[name].CopyFrom(tf.make_tensor_proto(value))
    return request

  def rest(self) -> dict:
    """The JSON body for POST /v1/models/<model>:predict (columnar `inputs` form; strings as
    {"b64": …}, which TF Serving decodes to bytes)."""
    def encode(value: np.ndarray):
      if value.dtype.kind in ('S', 'O'):
        return [{'b64': base64.b64encode(v).decode('ascii')} for v in value.tolist()]
      return value.tolist()
    return {'signature_name': self.signature,
            'inputs': {name: encode(value) for name, value in self.tensors.items()}}


def _example(features: Dict[str, object]) -> bytes:
  from tensorflow.core.example import example_pb2  # pylint: disable=g-import-not-at-top
  example = example_pb2.Example()
  for name, value in features.items():
    feature = example.features.feature[name]
    if isinstance(value, bytes):
      feature.bytes_list.value.append(value)
    elif isinstance(value, int):
      feature.int64_list.value.append(value)
    else:
      feature.float_list.value.append(float(value))
  return example.SerializeToString()


def read_digit(path: str) -> np.ndarray:
  """An image file -> uint8 [28, 28], light digit on dark as MNIST (converted as `score`
  converts a folder's files: components/image_example_gen/images.py)."""
  try:
    return digit_images.read_digit(path)
  except digit_images.ImageFolderError as e:
    raise ClientError(str(e)) from None


def _tabular_values(spec: registry.ModelSpec, text: str) -> Dict[str, float]:
  parts = [p.strip() for p in text.split(',') if p.strip()]
  if parts and all('=' in p for p in parts):
    values = dict(p.split('=', 1) for p in parts)
  elif len(parts) == len(spec.features) and not any('=' in p for p in parts):
    values = dict(zip(spec.features, parts))
  else:
    raise ClientError(f'{spec.name} expects {",".join(f"{f}=…" for f in spec.features)} '
                      f'(or {len(spec.features)} comma-separated values), got {text!r}')
  unknown = sorted(set(values) - set(spec.features))
  missing = [f for f in spec.features if f not in values]
  if unknown or missing:
    raise ClientError(f'{spec.name} takes {", ".join(spec.features)}; '
                      + (f'unknown {", ".join(unknown)}' if unknown else
                         f'missing {", ".join(missing)}'))
  try:
    return {k: float(values[k]) for k in spec.features}
  except ValueError as e:
    raise ClientError(f'{spec.name}: {e}') from None


def default_signature(spec: registry.ModelSpec) -> str:
  return 'noise' if spec.generative else 'examples'


def _generative_request(spec: registry.ModelSpec, text: str, signature: str) -> Request:
  """gan: `3` / `seed=3`; cgan: `7` / `digit=7` / `digit=7,seed=3` (seed 0 unless given)."""
  if signature not in GENERATIVE_SIGNATURES:
    raise ClientError(f'{spec.name}: signature must be one of '
                      f'{", ".join(GENERATIVE_SIGNATURES)}, got {signature!r}')
  conditional = 'label' in spec.features
  keys = ('digit', 'seed') if conditional else ('seed',)
  usage = ('a digit 0-9 (`7`, or `digit=7,seed=3`)' if conditional
           else 'a noise seed (`3`, or `seed=3`)')
  parts = [p.strip() for p in text.split(',') if p.strip()]
  values: Dict[str, str] = {}
  for i, part in enumerate(parts):
    key, value = part.split('=', 1) if '=' in part else (keys[0] if i == 0 else '', part)
    if key not in keys or key in values:
      raise ClientError(f'{spec.name} takes {usage}, got {text!r}')
    values[key] = value.strip()
  try:
    numbers = {k: int(v) for k, v in values.items()}
  except ValueError:
    raise ClientError(f'{spec.name} takes {usage}, got {text!r}') from None
  if conditional and not 0 <= numbers.get('digit', -1) <= 9:
    raise ClientError(f'{spec.name} takes {usage}, got {text!r}')
  seed = numbers.get('seed', 0)
  if seed < 0:
    raise ClientError(f'{spec.name}: the seed must be 0 or more, got {seed}')
  if signature == 'seed':
    tensors = {'seed': np.array([seed], dtype=np.int64)}
  else:
    tensors = {'noise': np.random.default_rng(seed).standard_normal(
        (1, NOISE_SIZE)).astype(np.float32)}
  if conditional:
    tensors['digit'] = np.array([numbers['digit']], dtype=np.int64)
  return Request(spec.name, GENERATIVE_SIGNATURES[signature], tensors)


def build_request(spec: registry.ModelSpec, text: str, signature: Optional[str] = None,
                  int_features: Optional[List[str]] = None) -> Request:
  """The request for `text` (see the module docstring). int_features: the features the schema
  declares INT (they travel as int64 in a tf.Example)."""
  signature = signature or default_signature(spec)
  if spec.generative:
    return _generative_request(spec, text, signature)
  if signature not in SIGNATURES:
    raise ClientError(f'signature must be one of {", ".join(SIGNATURES)}, got {signature!r}')
  name = SIGNATURES[signature]
  if isinstance(spec.source, registry.TfdsSource):
    pixels = read_digit(text)
    if signature == 'examples':
      return Request(spec.name, name, {'examples': np.array([_example({'image': digit_images.png(pixels)})],
                                                            dtype=object)})
    return Request(spec.name, name, {'images': pixels[np.newaxis].astype(np.float32)})
  if spec.word_input:
    [feature] = spec.features
    word = text.strip()
    if not word or ',' in word or '=' in word:
      raise ClientError(f'{spec.name} takes one word, got {text!r}')
    if signature == 'examples':
      return Request(spec.name, name, {'examples': np.array(
          [_example({feature: word.encode()})], dtype=object)})
    return Request(spec.name, name, {feature: np.array([word.encode()], dtype=object)})
  values = _tabular_values(spec, text)
  if signature == 'examples':
    ints = set(int_features if int_features is not None else schema_int_features(spec))
    for feature in ints:
      if not float(values[feature]).is_integer():
        raise ClientError(f'{spec.name}: {feature} must be a whole number, got {values[feature]}')
    features = {k: (int(v) if k in ints else v) for k, v in values.items()}
    return Request(spec.name, name, {'examples': np.array([_example(features)], dtype=object)})
  return Request(spec.name, name,
                 {k: np.array([v], dtype=np.float32) for k, v in values.items()})


def schema_int_features(spec: registry.ModelSpec) -> List[str]:
  """Features the curated schema declares INT (read from the text proto, no TFDV import)."""
  ints, current = [], None
  with open(spec.source.schema_path, encoding='utf-8') as f:
    for line in f:
      line = line.strip()
      if line.startswith('name:'):
        current = line.split('"')[1]
      elif line == 'type: INT' and current:
        ints.append(current)
  return ints


def contract_problems(request: Request,
                      declared: Mapping[str, Tuple[str, Optional[List[Optional[int]]]]]
                      ) -> List[str]:
  """How the request's tensors differ from what the signature declares — its inputs as
  ServingSession.input_specs gives them, {name: (dtype, shape)}, as `saved_model_cli show`
  lists them; [] when TF Serving would take the request."""
  problems = []
  if sorted(declared) != sorted(request.tensors):
    problems.append(f'the request sends {", ".join(sorted(request.tensors))}; the signature '
                    f'takes {", ".join(sorted(declared))}')
  for name, value in request.tensors.items():
    if name not in declared:
      continue
    dtype, shape = declared[name]
    sent = 'string' if value.dtype.kind in 'OSU' else value.dtype.name
    fits = shape is None or (len(shape) == value.ndim and
                             all(d is None or d == n for d, n in zip(shape, value.shape)))
    if sent != dtype or not fits:
      problems.append(f'{name}: the request sends {sent}{list(value.shape)}, the signature '
                      f'takes {dtype}{shape}')
  return problems
