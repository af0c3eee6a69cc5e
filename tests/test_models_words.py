"""The word models (autocomplete, seq2seq): they learn the seed's words in memory, export,
and answer with words through TF Serving's loader."""
from __future__ import annotations


import keras
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_transform as tft

from components.infra_validator.session_loader import ServingSession
from model_helpers import build, module_of, read_rows, transform_output, transform_rows
from models.common.features import RAW_SIGNATURE, TRANSFORM_SIGNATURE, transformed_name
from pipelines import factory, registry
from serving_helpers import (assert_same_answers, both, every_signature,
                             saved_keras_objects, serialized_examples)


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
  assert saved_keras_objects(export_dir) == []  # no Keras object saved as one (export.save)
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
