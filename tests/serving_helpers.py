"""Calling an export as TF Serving does (ServingSession) and as Python does (tf.saved_model.load),
and comparing the two: the helpers tests share so that each checks every signature in a line.

Rows are dicts {feature: [values]}, as the tests read CSVs and MNIST examples.
"""
from __future__ import annotations

import os
from typing import Dict, Mapping, Sequence

import numpy as np
import tensorflow as tf
from tensorflow.core.framework import types_pb2
from tensorflow.core.protobuf import saved_model_pb2

from components.infra_validator.session_loader import ServingSession

Answers = Dict[str, np.ndarray]


def example(row: Mapping[str, Sequence]) -> bytes:
  """One serialized tf.Example: bytes values as bytes_list, integers as int64_list, other
  numbers as float_list."""
  feature = {}
  for name, values in row.items():
    values = list(values)
    if all(isinstance(v, bytes) for v in values):
      feature[name] = tf.train.Feature(bytes_list=tf.train.BytesList(value=values))
    elif all(isinstance(v, (int, np.integer)) for v in values):
      feature[name] = tf.train.Feature(int64_list=tf.train.Int64List(value=values))
    else:
      feature[name] = tf.train.Feature(float_list=tf.train.FloatList(value=values))
  return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()


def serialized_examples(rows: Sequence[Mapping[str, Sequence]],
                        features: Sequence[str] | None = None) -> np.ndarray:
  """The rows (only `features` of each, if given) as serialized tf.Examples in a NumPy object
  array: what ServingSession.run takes for a string input."""
  return np.array([example({k: v for k, v in row.items() if features is None or k in features})
                   for row in rows], dtype=object)


def assert_same_answers(served: Mapping[str, np.ndarray], expected: Mapping[str, object],
                        atol: float, where: str = '') -> None:
  """Same output names, shapes and values: strings and integers exactly, floats within atol."""
  assert sorted(served) == sorted(expected), where
  for name in served:
    got, want = np.asarray(served[name]), np.asarray(expected[name])
    message = f'{where} {name}'
    assert got.shape == want.shape, (message, got.shape, want.shape)
    if got.dtype == object or want.dtype == object or got.dtype.kind in 'iub':
      np.testing.assert_array_equal(got, want, err_msg=message)
    else:
      np.testing.assert_allclose(got, want, rtol=0, atol=atol, err_msg=message)


def through_python(loaded, signature: str, inputs: Mapping[str, np.ndarray]) -> Answers:
  """The signature called through tf.saved_model.load's object, answers as NumPy."""
  answer = loaded.signatures[signature](**{k: tf.constant(v) for k, v in inputs.items()})
  return {k: v.numpy() for k, v in answer.items()}


def both(session: ServingSession, loaded, signature: str, atol: float,
         **inputs: np.ndarray) -> Answers:
  """One call of `signature` through TF Serving's loader, asserted to answer as the same call
  through tf.saved_model.load does; returns the session's answer."""
  answer = session.run(signature, **inputs)
  assert_same_answers(answer, through_python(loaded, signature, inputs), atol,
                      where=f'{session.export_dir} {signature}')
  return answer


def every_signature(session: ServingSession, loaded,
                    inputs: Mapping[str, Mapping[str, np.ndarray]],
                    atol: float) -> Dict[str, Answers]:
  """Calls every signature of the export with inputs[signature], through TF Serving's loader
  and through tf.saved_model.load; asserts that both loaders list exactly these signatures
  and answer alike. Returns the session's answers by signature."""
  assert set(session.signatures) == set(inputs), sorted(session.signatures)
  assert set(loaded.signatures) == set(inputs), sorted(loaded.signatures)
  return {signature: both(session, loaded, signature, atol, **values)
          for signature, values in inputs.items()}


# data/animals.csv's rows: every classifier (and dnn) push must name each one's species.
ANIMALS = [(0, 0, b'other'), (1, 0, b'mammal'), (1, 1, b'bird'),
           (0, 0, b'other'), (0, 0, b'other'), (0, 1, b'bird')]


def check_animals_served(version_dir: str) -> None:
  """Every signature, called through TF Serving's loader as TF Serving calls it (and answering
  as tf.saved_model.load does), names every seed row's species."""
  rows = [{'fur': [f], 'wings': [w], 'species': [s]} for f, w, s in ANIMALS]
  expected = [species for _, _, species in ANIMALS]
  with ServingSession(version_dir) as session:
    answers = every_signature(session, tf.saved_model.load(version_dir), {
        'serving_default': {'examples': serialized_examples(rows, ['fur', 'wings'])},
        'serving_raw': {'fur': np.array([f for f, _, _ in ANIMALS], np.float32),
                        'wings': np.array([w for _, w, _ in ANIMALS], np.float32)},
        'transform_features': {'examples': serialized_examples(rows)},
    }, atol=1e-5)
  by_example, raw = answers['serving_default'], answers['serving_raw']
  assert list(by_example['classes']) == expected
  probabilities = by_example['probabilities']
  np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
  assert (probabilities.max(axis=1) > 0.5).all()
  assert list(raw['classes']) == expected
  np.testing.assert_allclose(raw['probabilities'], probabilities, rtol=1e-5)
  # TFMA reads the label through transform_features: the vocabulary ids the model predicts.
  np.testing.assert_array_equal(
      answers['transform_features']['species_xf'].reshape(-1), by_example['class_ids'])


def saved_model_proto(export_dir: str) -> saved_model_pb2.SavedModel:
  saved = saved_model_pb2.SavedModel()
  with open(os.path.join(export_dir, 'saved_model.pb'), 'rb') as f:
    saved.ParseFromString(f.read())
  return saved


def saved_keras_objects(export_dir: str) -> list:
  """The Keras objects an export stores (the object graph's tf_keras identifiers): none, since
  a Keras object saved as one makes tf.saved_model.save trace signatures nobody serves
  (models/common/export.save)."""
  nodes = saved_model_proto(export_dir).meta_graphs[0].object_graph_def.nodes
  return sorted(node.user_object.identifier for node in nodes
                if node.WhichOneof('kind') == 'user_object'
                and 'keras' in node.user_object.identifier)


def has_bfloat16_ops(export_dir: str) -> bool:
  """Whether any op of the export's graph or functions computes in bfloat16 (a type attribute;
  the op list's allowed types name it in every export)."""
  graph = saved_model_proto(export_dir).meta_graphs[0].graph_def
  nodes = list(graph.node) + [n for f in graph.library.function for n in f.node_def]
  return any(value.type == types_pb2.DT_BFLOAT16 or types_pb2.DT_BFLOAT16 in value.list.type
             for node in nodes for value in node.attr.values())
