"""Word translation English -> Korean (the seed's Seq2Seq): an encoder RNN of 128 units reads the
English letters; its final state starts a decoder RNN of 128 that writes the Korean syllables
after the start symbol S and stops with E (P pads), characters one-hot as in the seed, dropout
0.5 on the decoder's outputs, Adam 0.01, the six pairs as one batch (the registry's batch
size).

The served model decodes greedily, one syllable at a time, each fed back as the next input
(what a decoder is for; the seed read every position at once), and returns the Korean word as
a string. TFMA compares
one output with one label; exact match of a generated word is not such a metric, so the
pipeline's QualityEvaluator calls `evaluate_fn` below.

The RNNs carry no `dropout=` argument (TFX's IMDB example notes it broke tf.saved_model.save);
dropout is a separate layer, and tests/test_models.py exports this model.
"""
from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional

import keras
import numpy as np
import tensorflow as tf
import tensorflow_transform as tft
from tfx.components.trainer.fn_args_utils import FnArgs

from components.infra_validator.session_loader import ServingSession
from models.common import export, text, training
from models.common.features import RAW_SIGNATURE, TRANSFORM_SIGNATURE, transformed_name

SOURCE, TARGET = 'english', 'korean'
MAX_SOURCE = 8  # letters read; longer words are cut (the pre-flight refuses them in data)
MAX_TARGET = 8  # syllables written at most, before E
HIDDEN = 128
LEARNING_RATE = 0.01
DROPOUT = 0.5
SEED = 42
# Reported with every evaluation, not gated: the seed's typos, and words it never saw.
PROBES = ['wodr', 'loev', 'gmae', 'lvoe', 'wor', 'kisses', 'game', 'zebra', 'abcd']

DECODER_INPUT, DECODER_TARGET = 'decoder_input', 'decoder_target'


def preprocessing_fn(inputs: Mapping[str, tf.Tensor],
                     custom_config: Mapping[str, Any]) -> Dict[str, tf.Tensor]:
  """english -> ids [batch, MAX_SOURCE]; korean -> decoder input (S + syllables) and target
  (syllables + E), [batch, MAX_TARGET + 1] each; one character vocabulary for both."""
  del custom_config
  source = text.split_chars(inputs[SOURCE])
  target = text.split_chars(inputs[TARGET])
  vocabulary = text.learn_vocabulary(source, target)
  target_ids = text.char_ids(target, vocabulary)
  batch = target_ids.nrows()
  start = tf.RaggedTensor.from_tensor(tf.fill([batch, 1], tf.constant(text.START, tf.int64)))
  end = tf.RaggedTensor.from_tensor(tf.fill([batch, 1], tf.constant(text.END, tf.int64)))
  return {
      transformed_name(SOURCE): text.pad(text.char_ids(source, vocabulary), MAX_SOURCE),
      transformed_name(DECODER_INPUT): text.pad(tf.concat([start, target_ids], 1), MAX_TARGET + 1),
      transformed_name(DECODER_TARGET): text.pad(tf.concat([target_ids, end], 1), MAX_TARGET + 1),
  }


# Called by run_fn and the tests (the contract: models/common/contract.py).
def build_model(tf_transform_output: tft.TFTransformOutput, config: Mapping[str, Any],
                train_steps: Optional[int] = None) -> keras.Model:
  """Character ids as Transform lays them out (models/common/text.py), one vocabulary for
  both languages -> a softmax over it at every decoder position."""
  del config, train_steps  # the columns are SOURCE and TARGET; a constant rate
  vocabulary_size = text.vocabulary_size(tf_transform_output)
  source = keras.Input((MAX_SOURCE,), dtype='int64', name=transformed_name(SOURCE))
  decoder_input = keras.Input((MAX_TARGET + 1,), dtype='int64',
                              name=transformed_name(DECODER_INPUT))
  _, state = keras.layers.SimpleRNN(HIDDEN, return_state=True, name='encoder')(
      text.OneHot(vocabulary_size, name='source_one_hot')(source))
  decoded = keras.layers.SimpleRNN(HIDDEN, return_sequences=True, name='decoder')(
      text.OneHot(vocabulary_size, name='decoder_one_hot')(decoder_input), initial_state=state)
  decoded = keras.layers.Dropout(DROPOUT, name='dropout')(decoded)
  probabilities = keras.layers.Dense(vocabulary_size, activation='softmax', name='output')(decoded)
  # Inputs by name: the training data arrives as a dict of Transform's outputs.
  model = keras.Model({transformed_name(SOURCE): source,
                       transformed_name(DECODER_INPUT): decoder_input}, probabilities,
                      name='seq2seq')
  model.compile(optimizer=keras.optimizers.Adam(LEARNING_RATE),
                loss='sparse_categorical_crossentropy', metrics=['sparse_categorical_accuracy'])
  return model


def greedy_decode(model: keras.Model, source_ids: tf.Tensor) -> tf.Tensor:
  """[batch, MAX_SOURCE] ids -> [batch, MAX_TARGET + 1] output ids: S, then at each step the
  most likely syllable, fed back as the next decoder input. The decoder is a forward RNN, so
  the padding after position t cannot change its output at t."""
  batch = tf.shape(source_ids)[0]
  decoder_input = tf.concat([tf.fill([batch, 1], tf.constant(text.START, tf.int64)),
                             tf.fill([batch, MAX_TARGET], tf.constant(text.PAD, tf.int64))], 1)
  written = []
  for step in range(MAX_TARGET + 1):
    probabilities = model({transformed_name(SOURCE): source_ids,
                           transformed_name(DECODER_INPUT): decoder_input}, training=False)
    written.append(tf.argmax(probabilities[:, step], axis=-1))
    if step < MAX_TARGET:
      decoder_input = tf.concat([decoder_input[:, :step + 1], written[-1][:, tf.newaxis],
                                 decoder_input[:, step + 2:]], 1)
  return tf.stack(written, axis=1)


def ids_to_words(ids: tf.Tensor, chars: tf.Tensor) -> tf.Tensor:
  """Output ids -> strings, up to the first E (P, S, E themselves are empty strings)."""
  before_end = tf.cumsum(tf.cast(tf.equal(ids, text.END), tf.int32), axis=1) == 0
  return tf.strings.reduce_join(tf.where(before_end, tf.gather(chars, ids), ''), axis=1)


def export_model(model: keras.Model, tf_transform_output: tft.TFTransformOutput,
                 export_dir: str) -> None:
  """Signatures: serving_default (tf.Example with `english`) and serving_raw (`english`
  strings) -> `translation`; transform_features as for every model."""
  module = tf.Module()
  module.model = model
  module.tft_layer = tf_transform_output.transform_features_layer()
  chars = tf.constant(text.id_to_char(tf_transform_output))
  raw_spec = tf_transform_output.raw_feature_spec()

  def translate(words: tf.Tensor) -> Dict[str, tf.Tensor]:
    source_ids = module.tft_layer({SOURCE: tf.reshape(words, [-1, 1])})[transformed_name(SOURCE)]
    return {'translation': ids_to_words(greedy_decode(module.model, source_ids), chars)}

  def serve_examples(examples):
    return translate(tf.io.parse_example(examples, {SOURCE: raw_spec[SOURCE]})[SOURCE])

  export.save(module, export_dir, {
      'serving_default': export.serving_function(serve_examples,
                                                 export.EXAMPLES).get_concrete_function(),
      RAW_SIGNATURE: export.serving_function(
          translate, tf.TensorSpec([None], tf.string, name=SOURCE)).get_concrete_function(),
      TRANSFORM_SIGNATURE: export.transform_signature(module, raw_spec),
  })


# Called by Trainer.
def run_fn(fn_args: FnArgs) -> None:
  training.seed_everything(SEED)
  tf_transform_output = tft.TFTransformOutput(fn_args.transform_output)
  model = build_model(tf_transform_output, fn_args.custom_config, fn_args.train_steps)
  batch_size = fn_args.custom_config['batch_size']

  def dataset(files, shuffle):  # (source, decoder input) -> decoder target
    return training.dataset(fn_args, files, tf_transform_output, DECODER_TARGET, batch_size,
                            SEED, shuffle=shuffle)

  training.fit(model, fn_args, dataset(fn_args.train_files, True),
               dataset(fn_args.eval_files, False))
  export_model(model, tf_transform_output, fn_args.serving_model_dir)


# Called by the QualityEvaluator (components/quality_evaluator).
def evaluate_fn(model: ServingSession, examples: List[bytes], custom_config: Mapping[str, Any],
                reference: Optional[ServingSession] = None) -> Dict[str, Any]:
  """exact_match: the fraction of eval pairs translated exactly, through serving_default of
  `model`, the export loaded as TF Serving loads it. Samples: every eval pair and the PROBES,
  through serving_raw."""
  del custom_config, reference  # no judge: the eval pairs hold the right answers
  batch = np.array(examples, dtype=object)
  wanted = tf.io.parse_example(batch, {
      SOURCE: tf.io.FixedLenFeature([], tf.string), TARGET: tf.io.FixedLenFeature([], tf.string)})
  got = model.run('serving_default', examples=batch)['translation']
  right = got == wanted[TARGET].numpy()
  probes = model.run(RAW_SIGNATURE, english=np.array([p.encode() for p in PROBES],
                                                     dtype=object))['translation']
  samples = {w.decode(): t.decode() for w, t in zip(wanted[SOURCE].numpy(), got)}
  samples.update({w: t.decode() for w, t in zip(PROBES, probes)})
  return {'metrics': {'exact_match': float(np.mean(right)), 'pairs': float(len(examples))},
          'samples': samples}
