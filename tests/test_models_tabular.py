"""The CSV models (linear, classifier, dnn): build, a training step, export, and every
signature through TF Serving's loader; an export without the fix fails there; saved_model_cli
answers; the seed's one-layer classifier stalls as its notes say."""
from __future__ import annotations

import os
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_transform as tft

from components.infra_validator.session_loader import ServingLoadError, ServingSession
from model_helpers import CSV_MODELS, batch, build, read_rows, transform_output, transform_rows
from models.common import export, tabular
from models.common.features import RAW_SIGNATURE, TRANSFORM_SIGNATURE, transformed_name
from pipelines import factory, registry
from serving_helpers import (assert_same_answers, every_signature, saved_keras_objects,
                             serialized_examples, through_python)


@pytest.mark.parametrize('name', CSV_MODELS)
def test_build_train_step_and_export(name, tmp_path):
  spec = registry.get_spec(name)
  tf_transform_output = tft.TFTransformOutput(transform_output(name))
  keras.utils.set_random_seed(0)
  model = build(spec, tf_transform_output)
  x, y = batch(spec, tf_transform_output)
  assert len(y) == spec.batch_size  # the whole table is one batch, as in the seed
  before = [w.copy() for w in model.get_weights()]
  loss = model.train_on_batch(x, y, return_dict=True)['loss']
  assert np.isfinite(loss)
  assert any(not np.allclose(a, b) for a, b in zip(before, model.get_weights())), \
      'one training step changed no weight'

  export_dir = str(tmp_path / 'export')
  export.save_serving_model(model, tf_transform_output, factory.module_config(spec), export_dir)
  loaded = tf.saved_model.load(export_dir)
  assert saved_keras_objects(export_dir) == []  # no Keras object saved as one (export.save)
  assert set(loaded.signatures) == {'serving_default', RAW_SIGNATURE, TRANSFORM_SIGNATURE}
  raw_inputs = loaded.signatures[RAW_SIGNATURE].structured_input_signature[1]
  assert sorted(raw_inputs) == sorted(spec.features)
  # The exported graph computes what the in-memory model computes, through the raw signature.
  _, rows = read_rows(spec)
  served = loaded.signatures[RAW_SIGNATURE](
      **{f: tf.constant([float(r[f][0]) for r in rows]) for f in spec.features})
  expected = model(x).numpy()
  if spec.task == 'classification':
    np.testing.assert_allclose(served['probabilities'].numpy(), expected, rtol=1e-5, atol=1e-6)
    vocab = tf_transform_output.vocabulary_by_name(spec.label)
    assert list(served['classes'].numpy()) == [vocab[i] for i in expected.argmax(axis=1)]
  else:
    np.testing.assert_allclose(served[spec.label].numpy(), expected.reshape(-1), rtol=1e-5)

  # Every signature through TF Serving's loader, on the CSV's rows (linear: and x=5, beyond
  # the data), answers as tf.saved_model.load, Keras and Transform do.
  if spec.task == 'regression':
    rows.append({spec.features[0]: [5.0], spec.label: [0.0]})
  with ServingSession(export_dir) as session:
    answers = every_signature(session, loaded, {
        'serving_default': {'examples': serialized_examples(rows, spec.features)},
        RAW_SIGNATURE: {f: np.array([r[f][0] for r in rows], np.float32) for f in spec.features},
        TRANSFORM_SIGNATURE: {'examples': serialized_examples(rows)},
    }, atol=1e-5)
  transformed = transform_rows(tf_transform_output, rows)
  assert_same_answers(answers[TRANSFORM_SIGNATURE], transformed, atol=1e-6)
  expected = model({transformed_name(f): transformed[transformed_name(f)]
                    for f in spec.features}).numpy()
  for signature in ('serving_default', RAW_SIGNATURE):
    served = answers[signature]
    if spec.task == 'classification':
      np.testing.assert_allclose(served['probabilities'], expected, atol=1e-5)
      np.testing.assert_array_equal(served['class_ids'], expected.argmax(axis=1))
      assert list(served['classes']) == [vocab[i] for i in expected.argmax(axis=1)]
    else:
      np.testing.assert_allclose(served[spec.label], expected.reshape(-1), rtol=1e-5)
      assert served[spec.label][-1] == pytest.approx(float(expected[-1, 0]), rel=1e-5)  # x=5


def test_saved_model_cli_runs_a_classifier_export(tmp_path):
  """`saved_model_cli run`, the command TF Serving's documentation checks an export with (a
  TF1 session over the restored variables), answers the classifier's serving_raw."""
  spec = registry.get_spec('classifier')
  tf_transform_output = tft.TFTransformOutput(transform_output('classifier'))
  keras.utils.set_random_seed(0)
  export_dir = str(tmp_path / 'export')
  export.save_serving_model(build(spec, tf_transform_output), tf_transform_output,
                            factory.module_config(spec), export_dir)
  bin_dir = os.path.dirname(sys.executable)
  result = subprocess.run(
      [os.path.join(bin_dir, 'saved_model_cli'), 'run', '--dir', export_dir, '--tag_set',
       'serve', '--signature_def', RAW_SIGNATURE, '--input_exprs', 'fur=[1.0,0.0];wings=[0.0,1.0]'],
      capture_output=True, text=True, timeout=300,
      env=dict(os.environ, PATH=bin_dir + os.pathsep + os.environ.get('PATH', '')))
  assert result.returncode == 0, result.stderr[-3000:]
  assert 'probabilities' in result.stdout, result.stdout[-3000:]


def _tiny_export(model: keras.Model, export_dir: str, save) -> str:
  """The model on a tf.Module with one signature (x -> probabilities), saved by `save`."""
  module = tf.Module()
  module.model = model
  serve = tf.function(lambda x: {'probabilities': module.model(x)},
                      input_signature=[tf.TensorSpec([None, 2], tf.float32, name='x')])
  save(module, export_dir, {'serving_default': serve.get_concrete_function()})
  return export_dir


def test_an_export_without_the_fix_answers_in_python_but_not_in_tf_serving(tmp_path):
  """The old export (the Keras model on a tf.Module, tf.saved_model.save directly): Python's
  loader answers, TF Serving's cannot find the variables the signature reads, and the shared
  check fails on it. The same model through export.save answers like Keras in both."""
  keras.utils.set_random_seed(0)
  model = keras.Sequential([keras.Input((2,), name='x'),
                            keras.layers.Dense(3, activation='softmax')])
  x = np.array([[1, 0], [0, 1], [1, 1]], np.float32)
  expected = model(x).numpy()

  old = _tiny_export(model, str(tmp_path / 'old'),
                     lambda m, d, s: tf.saved_model.save(m, d, signatures=s))
  loaded = tf.saved_model.load(old)
  np.testing.assert_allclose(through_python(loaded, 'serving_default', {'x': x})['probabilities'],
                             expected, atol=1e-6)
  with ServingSession(old) as session:
    with pytest.raises(ServingLoadError) as refused:
      session.run('serving_default', x=x)
    assert 'serving_default' in str(refused.value)
    assert 'Could not find variable' in str(refused.value)
    assert '\n' not in str(refused.value)
    with pytest.raises(ServingLoadError, match='Could not find variable'):
      every_signature(session, loaded, {'serving_default': {'x': x}}, atol=1e-6)

  fixed = _tiny_export(model, str(tmp_path / 'fixed'), export.save)
  with ServingSession(fixed) as session:
    answers = every_signature(session, tf.saved_model.load(fixed),
                              {'serving_default': {'x': x}}, atol=1e-6)
  np.testing.assert_allclose(answers['serving_default']['probabilities'], expected, atol=1e-6)


def seed_one_layer_accuracy(seed: int) -> float:
  """The seed's classifier as written: ReLU on the logits, GD lr 0.01, 100 full-batch steps."""
  keras.utils.set_random_seed(seed)
  x = np.array([[0, 0], [1, 0], [1, 1], [0, 0], [0, 0], [0, 1]], np.float32)
  y = np.array([0, 1, 2, 0, 0, 2])
  model = keras.Sequential([
      keras.Input((2,)),
      keras.layers.Dense(3, activation='relu',
                         kernel_initializer=keras.initializers.RandomUniform(-1, 1)),
      keras.layers.Softmax()])
  model.compile(keras.optimizers.SGD(0.01), 'sparse_categorical_crossentropy')
  model.fit(x, y, batch_size=len(x), epochs=100, shuffle=False, verbose=0)
  return float((model.predict(x, verbose=0).argmax(axis=1) == y).mean())


def test_the_seeds_one_layer_classifier_stalls_as_its_notes_say():
  """The seed reports ~66% for its one-layer classifier; ours (no ReLU on the logits, Adam)
  reaches 100% with the same single layer (checked end to end in test_e2e_csv)."""
  accuracies = [seed_one_layer_accuracy(seed) for seed in range(5)]
  assert max(accuracies) < 1.0, accuracies


def test_tabular_model_inputs_are_one_named_input_per_feature_concatenated():
  """tabular.model_inputs: one [N, 1] input per feature under Transform's name, stacked in the
  order given (a single feature is its own input)."""
  inputs, stacked = tabular.model_inputs(['fur', 'wings'])
  assert list(inputs) == ['fur_xf', 'wings_xf']
  assert [tuple(i.shape) for i in inputs.values()] == [(None, 1), (None, 1)]
  assert tuple(stacked.shape) == (None, 2)
  columns = keras.Model(inputs, stacked)({'fur_xf': np.array([[1.0]]),
                                          'wings_xf': np.array([[0.0]])})
  np.testing.assert_array_equal(columns, [[1.0, 0.0]])
  single, alone = tabular.model_inputs(['x'])
  assert list(single) == ['x_xf'] and alone is single['x_xf']
