"""Unit tests of each model module: build, train a step (or a few), export with its signatures.

The transform graph comes from the module's own preprocessing_fn, analysed with TFT on Beam
over the model's data (what Transform does in the pipeline, without the pipeline). Every export
is loaded as TF Serving loads it (ServingSession: the restore op, Session::Run) and every
signature is called there, its answers compared with tf.saved_model.load's, the in-memory
Keras model's and Transform's.
"""
from __future__ import annotations

import csv
import functools
import importlib
import os
import subprocess
import sys
import tempfile
import types
from typing import Optional

import apache_beam as beam
import keras
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_data_validation as tfdv
import tensorflow_transform as tft
import tensorflow_transform.beam as tft_beam
from tensorflow_transform.tf_metadata import dataset_metadata, metadata_io

from components.infra_validator.session_loader import ServingLoadError, ServingSession
from components.tfds_example_gen import executor
from models.common import contract, drawing, export, images, judging, tabular
from models.common.features import (NOISE_SIZE, RAW_SIGNATURE, TRANSFORM_SIGNATURE,
                                    transformed_name)
from pipelines import factory, registry
from serving_helpers import (assert_same_answers, both, every_signature, serialized_examples,
                             through_python)

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



@pytest.fixture
def mnist_data(tfds_data_dir, monkeypatch):
  monkeypatch.setenv('TFDS_DATA_DIR', tfds_data_dir)


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


@pytest.mark.parametrize('name', sorted(registry.REGISTRY))
def test_every_module_builds_through_the_one_contract(name, mnist_data):
  """build_model(tf_transform_output, config, train_steps) in every module: a compiled Keras
  model; the MNIST classifiers decay their rate over exactly the run's steps,
  the others keep a constant one; no module holds a batch size of its own (the spec's is)."""
  spec = registry.get_spec(name)
  module = module_of(spec)
  tf_transform_output = tft.TFTransformOutput(transform_output(name))
  model = build(spec, tf_transform_output, train_steps=spec.train_steps)
  assert isinstance(model, keras.Model) and model.compiled
  # The GANs' own two optimizers (compile() gives Keras' unused default a place too).
  optimizers = ([model.d_optimizer, model.g_optimizer] if spec.generative
                else [model.optimizer])
  rates = [o.get_config()['learning_rate'] for o in optimizers]
  for rate in rates:
    if name in MNIST_MODELS:  # the classifiers
      assert rate['class_name'] == 'CosineDecay', rate
      assert rate['config']['decay_steps'] == spec.train_steps
    else:
      assert isinstance(rate, float), rate
  assert not hasattr(module, 'BATCH_SIZE')
  assert factory.module_config(spec)['batch_size'] == spec.batch_size


@pytest.mark.parametrize('name', MNIST_MODELS)
def test_mnist_model_build_train_step_and_export(name, tmp_path, mnist_data):
  """Every MNIST model, the recurrent one included, trains a step and exports a SavedModel
  whose every signature answers through TF Serving's loader as through tf.saved_model.load,
  the serving ones like the in-memory model, transform_features like Transform."""
  spec = registry.get_spec(name)
  tf_transform_output = tft.TFTransformOutput(transform_output(name))
  _, rows = read_mnist_rows(spec)
  raw = {'image': tf.constant([r['image'] for r in rows]),
         'label': tf.constant([r['label'] for r in rows], tf.int64)}
  transformed = tf_transform_output.transform_raw_features(raw)
  x = transformed[transformed_name('image')]
  y = transformed[transformed_name('label')]
  assert x.shape == (len(rows), 28, 28, 1) and float(tf.reduce_max(x)) <= 1.0

  keras.utils.set_random_seed(0)
  model = build(spec, tf_transform_output)
  before = [w.copy() for w in model.get_weights()]
  assert np.isfinite(model.train_on_batch(x, y, return_dict=True)['loss'])
  assert any(not np.allclose(a, b) for a, b in zip(before, model.get_weights()))

  export_dir = str(tmp_path / 'export')
  config = dict(factory.module_config(spec), class_names=[str(d) for d in range(10)])
  export.save_serving_model(model, tf_transform_output, config, export_dir,
                            raw_inputs=images.raw_image_inputs())
  loaded = tf.saved_model.load(export_dir)
  expected = model(x, training=False).numpy()
  examples = serialized_examples(rows)
  pixels = (x[..., 0] * 255.0).numpy()
  with ServingSession(export_dir) as session:
    answers = every_signature(session, loaded, {
        'serving_default': {'examples': serialized_examples(rows, ['image'])},
        RAW_SIGNATURE: {'images': pixels},
        TRANSFORM_SIGNATURE: {'examples': examples},
    }, atol=1e-5)
  by_example, by_pixels = answers['serving_default'], answers[RAW_SIGNATURE]
  np.testing.assert_allclose(by_example['probabilities'], expected, atol=1e-5)
  np.testing.assert_allclose(by_pixels['probabilities'], expected, atol=1e-5)
  digits = [str(d) for d in expected.argmax(axis=1)]
  assert [c.decode() for c in by_pixels['classes']] == digits
  assert [c.decode() for c in by_example['classes']] == digits
  assert_same_answers(answers[TRANSFORM_SIGNATURE], transform_rows(tf_transform_output, rows),
                      atol=1e-6)

  # The seed's picture, drawn from the exported model's answers on eval examples.
  eval_dir = tmp_path / 'Split-eval'
  eval_dir.mkdir()
  with tf.io.TFRecordWriter(str(eval_dir / 'data.gz'), options='GZIP') as writer:
    for serialized in examples:
      writer.write(serialized)
  fn_args = types.SimpleNamespace(eval_files=[str(eval_dir / '*')], serving_model_dir=export_dir,
                                  model_run_dir=str(tmp_path / 'run'))
  path = images.write_prediction_picture(fn_args, title=name)
  picture = tf.io.decode_png(tf.io.read_file(path))
  assert path == str(tmp_path / 'run' / 'pictures' / 'predictions.png')
  assert picture.shape[1] > 5 * picture.shape[0] / 2 and picture.shape[0] >= 80  # one row of 10
  summaries = [v for f in tf.io.gfile.glob(str(tmp_path / 'run' / 'pictures' / 'events.*'))
               for e in tf.compat.v1.train.summary_iterator(f) for v in e.summary.value]
  assert [v.tag for v in summaries] == ['predictions']
  assert tf.io.decode_png(tf.make_ndarray(summaries[0].tensor)[2]).shape == picture.shape


WORD_MODELS = ['autocomplete', 'seq2seq']


def word_batch(spec: registry.ModelSpec, tf_transform_output: tft.TFTransformOutput):
  """The whole CSV through the real transform graph: (model inputs, label)."""
  _, rows = read_rows(spec)
  raw = {k: tf.constant([r[k] for r in rows]) for k in rows[0]}
  transformed = tf_transform_output.transform_raw_features(raw)
  label = {'autocomplete': 'next', 'seq2seq': 'decoder_target'}[spec.name]
  x = {k: v for k, v in transformed.items() if k != transformed_name(label)}
  return rows, x, transformed[transformed_name(label)]


@pytest.mark.parametrize('name', WORD_MODELS)
def test_word_model_learns_the_seeds_words_and_exports(name, tmp_path):
  """The recurrent word models train in memory on the seed's words, export (no LSTM/RNN
  `dropout=` to break tf.saved_model.save) and answer through every signature, loaded as TF
  Serving loads them, with words: all nine completed, all six translated."""
  spec = registry.get_spec(name)
  module = module_of(spec)
  tf_transform_output = tft.TFTransformOutput(transform_output(name))
  rows, x, y = word_batch(spec, tf_transform_output)
  keras.utils.set_random_seed(module.SEED)
  from models.common import text  # pylint: disable=g-import-not-at-top
  model = build(spec, tf_transform_output)
  assert spec.batch_size == len(rows)  # the seed's words are one batch, in the pipeline too
  model.fit(x, y, batch_size=spec.batch_size, epochs=spec.train_steps, verbose=0)

  export_dir = str(tmp_path / 'export')
  if name == 'autocomplete':
    module.export_model(model, tf_transform_output, factory.module_config(spec), export_dir)
  else:
    module.export_model(model, tf_transform_output, export_dir)
  loaded = tf.saved_model.load(export_dir)
  assert set(loaded.signatures) == {'serving_default', RAW_SIGNATURE, TRANSFORM_SIGNATURE}
  source = spec.features[0]
  words = [r[source][0] for r in rows]
  with ServingSession(export_dir) as session:
    answers = every_signature(session, loaded, {
        'serving_default': {'examples': serialized_examples(rows, [source])},
        RAW_SIGNATURE: {source: np.array(words, dtype=object)},
        TRANSFORM_SIGNATURE: {'examples': serialized_examples(rows)},
    }, atol=1e-5)
    by_example, by_raw = answers['serving_default'], answers[RAW_SIGNATURE]
    assert_same_answers(answers[TRANSFORM_SIGNATURE], transform_rows(tf_transform_output, rows),
                        atol=0)
    if name == 'autocomplete':
      # Served with the whole word or its first three letters: the same completion.
      prefixes = both(session, loaded, RAW_SIGNATURE, atol=1e-5,
                      word=np.array([w[:3] for w in words], dtype=object))
      assert list(by_example['completion']) == words
      assert list(by_raw['completion']) == words
      assert list(prefixes['completion']) == words
      in_memory = model(x, training=False).numpy()
      for answer in (prefixes, by_example, by_raw):
        np.testing.assert_allclose(answer['probabilities'], in_memory, atol=1e-5)
      assert [c.decode() for c in by_raw['classes']] == [w.decode()[3] for w in words]
    else:
      wanted = [r['korean'][0] for r in rows]
      chars = tf.constant(text.id_to_char(tf_transform_output))
      in_memory = module.ids_to_words(
          module.greedy_decode(model, x[transformed_name(source)]), chars).numpy()
      assert list(in_memory) == wanted
      assert list(by_example['translation']) == wanted
      assert list(by_raw['translation']) == wanted
      # What the QualityEvaluator gates on, from the same exported model as it loads it.
      result = module.evaluate_fn(session, list(serialized_examples(rows)), {})
      assert result['metrics']['exact_match'] == 1.0
      assert result['samples']['love'] == '사랑' and 'wodr' in result['samples']
      # A letter it never saw maps to the unknown id: still a (Korean) answer, no error.
      unseen = both(session, loaded, RAW_SIGNATURE, atol=0,
                    english=np.array([b'zebra'], dtype=object))['translation']
      assert all('가' <= ch <= '힣' for ch in unseen[0].decode())
      assert result['samples']['zebra'] == unseen[0].decode()


def test_autoencoder_trains_exports_and_evaluates(tmp_path, mnist_data):
  """The autoencoder learns (its error falls), exports with every signature agreeing, through
  TF Serving's loader, with Keras and Transform on real MNIST, the evaluate_fn the
  QualityEvaluator gates on reports the error, and the seed's picture of digits over their
  reconstructions is written."""
  spec = registry.get_spec('autoencoder')
  module = module_of(spec)
  tf_transform_output = tft.TFTransformOutput(transform_output('autoencoder'))
  _, rows = read_mnist_rows(spec)
  raw = {'image': tf.constant([r['image'] for r in rows]),
         'label': tf.constant([r['label'] for r in rows], tf.int64)}
  x = tf_transform_output.transform_raw_features(raw)[transformed_name('image')]
  keras.utils.set_random_seed(0)
  model = build(spec, tf_transform_output)
  history = model.fit(x, x, batch_size=len(rows), epochs=30, verbose=0).history['loss']
  assert history[-1] < 0.5 * history[0], history

  export_dir = str(tmp_path / 'export')
  module.export_model(model, tf_transform_output, export_dir)
  loaded = tf.saved_model.load(export_dir)
  assert set(loaded.signatures) == {'serving_default', RAW_SIGNATURE, TRANSFORM_SIGNATURE}
  examples = serialized_examples(rows)
  with ServingSession(export_dir) as session:
    answers = every_signature(session, loaded, {
        'serving_default': {'examples': serialized_examples(rows, ['image'])},
        RAW_SIGNATURE: {'images': np.round(x.numpy()[..., 0] * 255.0)},
        TRANSFORM_SIGNATURE: {'examples': examples},
    }, atol=1e-3)
    result = module.evaluate_fn(session, list(examples), {})
  assert_same_answers(answers[TRANSFORM_SIGNATURE], transform_rows(tf_transform_output, rows),
                      atol=1e-6)
  by_example, by_pixels = answers['serving_default'], answers[RAW_SIGNATURE]
  expected = model(x, training=False).numpy()[..., 0]
  errors = ((expected - x.numpy()[..., 0]) ** 2).mean(axis=(1, 2))
  for answer in (by_example, by_pixels):
    assert answer['reconstruction'].shape == (len(rows), 28, 28)
    np.testing.assert_allclose(answer['reconstruction'], expected * 255.0, atol=1e-3)
    np.testing.assert_allclose(answer['error'], errors, rtol=1e-4)
  np.testing.assert_allclose(by_pixels['reconstruction'], by_example['reconstruction'],
                             atol=1e-3)

  assert result['metrics']['mse'] == pytest.approx(float(by_example['error'].mean()), rel=1e-5)
  assert result['metrics']['images'] == len(rows)
  assert 0.03 < result['metrics']['mean_image_mse'] < 0.12

  eval_dir = tmp_path / 'Split-eval'
  eval_dir.mkdir()
  with tf.io.TFRecordWriter(str(eval_dir / 'data.gz'), options='GZIP') as writer:
    for example in examples:
      writer.write(example)
  fn_args = types.SimpleNamespace(eval_files=[str(eval_dir / '*')], serving_model_dir=export_dir,
                                  model_run_dir=str(tmp_path / 'run'))
  path = module.write_reconstruction_picture(fn_args)
  assert path == str(tmp_path / 'run' / 'pictures' / 'reconstructions.png')
  assert tf.io.decode_png(tf.io.read_file(path)).shape[0] >= 150  # two rows


class _LinearJudge:
  """A stand-in reference classifier with a ServingSession's interface and the signatures the
  GAN evaluation calls: softmax of a fixed random linear map of the pixels (so the test can
  compute its answers itself)."""

  def __init__(self, seed: int = 0):
    self.weights = (np.random.default_rng(seed).normal(size=(784, 10)) / 300.0).astype(np.float32)

  def probabilities(self, pixels: np.ndarray) -> np.ndarray:  # pixels 0-255, [N, 28, 28]
    logits = np.reshape(pixels, [-1, 784]) @ self.weights
    exp = np.exp(logits - logits.max(axis=1, keepdims=True))
    return exp / exp.sum(axis=1, keepdims=True)

  def run(self, signature: str, **inputs: np.ndarray):
    # As strict as TF Serving's Session::Run: the declared inputs, of the declared dtypes.
    declared = {'serving_raw': ('images', np.float32), 'serving_default': ('examples', object)}
    name, dtype = declared.get(signature, (None, None))
    if name is None or set(inputs) != {name} or inputs[name].dtype != dtype:
      raise ServingLoadError('judge', f'takes {name} of {dtype}, got '
                                      f'{ {k: v.dtype for k, v in inputs.items()} }', signature)
    if signature == 'serving_raw':
      return {'probabilities': self.probabilities(inputs[name])}
    parsed = tf.io.parse_example(inputs[name], {'image': tf.io.FixedLenFeature([], tf.string)})
    pixels = images.decode_images(parsed['image']).numpy()[..., 0].astype(np.float32)
    return {'class_ids': self.probabilities(pixels).argmax(axis=1)}


@pytest.mark.parametrize('name', ['gan', 'cgan'])
def test_gan_trains_exports_and_is_judged(name, tmp_path, mnist_data):
  """Adversarial training steps move both networks; the export's two signatures, through TF
  Serving's loader as through tf.saved_model.load, draw what the in-memory averaged generator
  draws (one seed, one picture; a digit outside 0-9 is refused); evaluate_fn's metrics are
  what the judge says about the samples; the seed's sample grid is written."""
  spec = registry.get_spec(name)
  conditional = name == 'cgan'
  module = module_of(spec)
  tf_transform_output = tft.TFTransformOutput(transform_output(name))
  _, rows = read_mnist_rows(spec)
  raw = {'image': tf.constant([r['image'] for r in rows]),
         'label': tf.constant([r['label'] for r in rows], tf.int64)}
  transformed = tf_transform_output.transform_raw_features(raw)
  data = tf.data.Dataset.from_tensors(
      ({transformed_name('image'): transformed[transformed_name('image')]},
       transformed[transformed_name('label')])).repeat()

  keras.utils.set_random_seed(0)
  gan = build(spec, tf_transform_output)
  # Conditional: what the generator draws depends on the digit asked for.
  probe = judging.evaluation_noise(4)
  zeros, ones = (np.full(len(probe), d, np.int32) for d in (0, 1))
  draws_the_digit = not np.allclose(gan.generator([probe, zeros]), gan.generator([probe, ones]))
  assert draws_the_digit == conditional
  before = {'generator': gan.generator.get_weights(), 'averaged': gan.averaged.get_weights(),
            'discriminator': gan.discriminator.get_weights()}
  history = gan.fit(data, epochs=1, steps_per_epoch=5, verbose=0).history
  assert all(np.isfinite(history[k][-1]) for k in ('d_loss', 'g_loss')), history
  for part, weights in before.items():
    now = getattr(gan, part).get_weights()
    assert any(not np.allclose(a, b) for a, b in zip(weights, now)), part
  # The averaged generator moves by (1 - 0.999) of each step: it trails the generator.
  drift = [np.abs(a - g).max() for a, g in zip(gan.averaged.get_weights(),
                                                 gan.generator.get_weights())]
  assert max(drift) > 0

  export_dir = str(tmp_path / 'export')
  drawing.export_generator(gan.averaged, export_dir, takes_digit=conditional)
  loaded = tf.saved_model.load(export_dir)
  assert set(loaded.signatures) == {'serving_default', 'from_seed'}
  noise = judging.evaluation_noise(6)
  digits = np.array([0, 1, 2, 7, 8, 9])
  seeds, seeded_digits = np.array([5, 5, 6], np.int64), np.array([7, 7, 3], np.int64)
  conditions = {'digit': digits} if conditional else {}
  seeded_conditions = {'digit': seeded_digits} if conditional else {}
  session = ServingSession(export_dir)
  answers = every_signature(session, loaded, {
      'serving_default': dict(noise=noise, **conditions),
      'from_seed': dict(seed=seeds, **seeded_conditions),
  }, atol=1e-3)
  for answer in answers.values():
    assert answer['images'].ndim == 3 and answer['images'].shape[1:] == (28, 28)
    assert answer['images'].min() >= 0.0 and answer['images'].max() <= 255.0
  assert drawing.takes_digit(session) == conditional
  drawn = drawing.generate(session, digits, noise)
  assert drawn.shape == (6, 28, 28)
  np.testing.assert_allclose(drawn, gan.averaged([noise, digits])[..., 0].numpy(), atol=1e-5)
  np.testing.assert_allclose(answers['serving_default']['images'], drawn * 255.0, atol=1e-3)
  by_seed = answers['from_seed']['images']
  seed_noise = np.stack([tf.random.stateless_normal([NOISE_SIZE], [s, 0]).numpy()
                         for s in seeds])  # what from_seed draws in-graph
  np.testing.assert_allclose(
      by_seed, gan.averaged([seed_noise, seeded_digits])[..., 0].numpy() * 255.0, atol=1e-3)
  np.testing.assert_array_equal(by_seed[0], by_seed[1])
  assert np.abs(by_seed[0] - by_seed[2]).max() > 1.0
  if conditional:
    with pytest.raises(tf.errors.InvalidArgumentError, match='digit must be 0-9'):
      loaded.signatures['serving_default'](noise=tf.constant(noise[:1]),
                                           digit=tf.constant([10], tf.int64))
    with pytest.raises(ServingLoadError, match='digit must be 0-9'):
      session.run('serving_default', noise=noise[:1], digit=np.array([10], np.int64))
    with pytest.raises(ServingLoadError, match='digit must be 0-9'):
      session.run('from_seed', seed=seeds[:1], digit=np.array([-1], np.int64))

  judge = _LinearJudge()
  examples = list(serialized_examples(rows))
  metrics = module.evaluate_fn(session, examples, {}, reference=judge)['metrics']
  every = np.repeat(np.arange(10), judging.SAMPLES_PER_DIGIT)
  samples = drawing.generate(session, every, judging.evaluation_noise(len(every)))
  probabilities = judge.probabilities((samples * 255.0).astype(np.float32))
  read_as = probabilities.argmax(axis=1)
  pixels = (transformed[transformed_name('image')].numpy()[..., 0] * 255.0).astype(np.float32)
  truth = np.array([r['label'][0] for r in rows])
  assert metrics['reference_accuracy'] == pytest.approx(
      np.mean(judge.probabilities(pixels).argmax(axis=1) == truth))
  assert metrics['mean_confidence'] == pytest.approx(probabilities.max(axis=1).mean(), rel=1e-5)
  if conditional:
    agreement = [np.mean(read_as[every == d] == d) for d in range(10)]
    assert metrics['min_digit_agreement'] == pytest.approx(min(agreement))
    assert metrics['digit_3_agreement'] == pytest.approx(agreement[3])
  else:
    shares = np.bincount(read_as, minlength=10) / len(read_as)
    assert metrics['min_digit_share'] == pytest.approx(shares.min())
    assert sum(metrics[f'digit_{d}_share'] for d in range(10)) == pytest.approx(1.0)
  with pytest.raises(ValueError, match='reference classifier'):
    module.evaluate_fn(session, examples, {})
  session.close()

  fn_args = types.SimpleNamespace(serving_model_dir=export_dir,
                                  model_run_dir=str(tmp_path / 'run'))
  path = drawing.write_samples_picture(fn_args, title=name)
  assert path == str(tmp_path / 'run' / 'pictures' / 'samples.png')
  picture = tf.io.decode_png(tf.io.read_file(path))
  assert picture.shape[0] >= 500  # ten rows


def test_gan_latent_code_is_read_off_the_noise():
  """The gan's categorical code: one-hot of the largest of the first ten noise values, so
  standard normal noise gives each code ~10% of the samples; the generator takes it beside
  the noise, and the discriminator's second head reads one code per image of a pack."""
  from models.gan import networks  # pylint: disable=g-import-not-at-top
  noise = judging.evaluation_noise(10_000)
  codes = networks.latent_code(tf.constant(noise)).numpy()
  np.testing.assert_array_equal(codes, noise[:, :10].argmax(axis=1))
  np.testing.assert_array_equal(networks.LatentCode(10)(tf.constant(noise[:5])).numpy(),
                                np.eye(10)[codes[:5]])
  shares = np.bincount(codes, minlength=10) / len(codes)
  assert shares.min() > 0.09 and shares.max() < 0.11, shares

  generator = networks.build_generator('generator')
  first_dense = next(l for l in generator.layers if isinstance(l, keras.layers.Dense))
  assert first_dense.kernel.shape == (NOISE_SIZE + 10, 256)  # noise and its code

  discriminator = networks.build_discriminator()
  count = 3 * networks.PACK
  logits, code_logits = discriminator([tf.zeros([count, 28, 28, 1]), tf.zeros([count], tf.int32)])
  assert logits.shape == (3,) and code_logits.shape == (count, 10)


def test_image_input_pipeline_gives_every_example_each_epoch_reshuffled(tmp_path, mnist_data):
  """The MNIST Trainers' input (images.dataset): Transform's decoding of real examples read
  from a gzipped TFRecord file as TfdsExampleGen writes it; every epoch holds every example
  exactly once; shuffled, each epoch in a new order, the same for the same seed; unshuffled,
  the file's order every time."""
  from tfx.components.util import tfxio_utils  # pylint: disable=g-import-not-at-top
  from tfx.types import standard_artifacts  # pylint: disable=g-import-not-at-top
  spec = registry.get_spec('mlp')
  _, rows = read_mnist_rows(spec, count=25)
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
  tf_transform_output = tft.TFTransformOutput(transform_output('mlp'))
  files = [str(split / '*')]
  labels = [r['label'][0] for r in rows]
  pixels = [tf.io.decode_png(r['image'][0]).numpy() / 255.0 for r in rows]

  def epochs(shuffle, seed=7, count=3):
    batches = iter(images.dataset(fn_args, files, tf_transform_output, 5, seed, shuffle))
    order = []
    for _ in range(count):
      epoch = [next(batches) for _ in range(5)]  # 25 examples in batches of 5
      images_seen = np.concatenate([b[0][transformed_name('image')].numpy() for b in epoch])
      labels_seen = np.concatenate([b[1].numpy() for b in epoch])
      # which example each image is (MNIST images are distinct)
      index = [next(i for i, p in enumerate(pixels) if np.allclose(p, image, atol=1e-6))
               for image in images_seen]
      assert sorted(index) == list(range(25))
      assert [labels[i] for i in index] == list(labels_seen)
      order.append(index)
    return order

  shuffled = epochs(shuffle=True)
  assert shuffled[0] != shuffled[1] != shuffled[2]
  assert epochs(shuffle=True) == shuffled
  assert epochs(shuffle=True, seed=8) != shuffled
  assert epochs(shuffle=False) == [list(range(25))] * 3
