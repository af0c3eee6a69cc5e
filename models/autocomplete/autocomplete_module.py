"""Word autocomplete (the seed's LSTM): the first three letters of a word -> its fourth.

Two stacked LSTMs of 128 units (dropout 0.5 on the first one's outputs, as the seed's
DropoutWrapper), letters one-hot, softmax over the letters Transform found in the data; Adam
0.01 on the nine words as one batch (the registry's batch size). The gate is TFMA's accuracy
on the nine words (= 1: all nine completed); the served model returns the letter (`classes`,
with `probabilities`) and the completed word (`completion`).

`--tune` searches SPACE (models/common/tuning.py): the rate, the LSTMs' width and the dropout,
the seed's values first.

No `dropout=` argument on the LSTMs (TFX's IMDB example notes it broke tf.saved_model.save);
dropout is its own layer, and tests/test_models.py exports this model.
"""
from __future__ import annotations

from typing import Any, Dict, Mapping, Optional

import keras
import tensorflow as tf
import tensorflow_transform as tft
from tfx.components.trainer.fn_args_utils import FnArgs

from models.common import export, tabular, text, training, tuning
from models.common.features import transformed_name

WORD, NEXT = 'word', 'next'
PREFIX = 3  # letters given
SPACE = {
    'learning_rate': (0.01, 0.003, 0.03),
    'units': (128, 64, 256),  # each LSTM
    'dropout': (0.5, 0.3),
}
SEED = 42


def preprocessing_fn(inputs: Mapping[str, tf.Tensor],
                     custom_config: Mapping[str, Any]) -> Dict[str, tf.Tensor]:
  """word -> its first three letters as ids (`word_xf`, [batch, 3]) and the fourth letter's
  vocabulary id (`next_xf`, the label; -3 for a word without a fourth letter, as at serving)."""
  del custom_config
  chars = text.split_chars(inputs[WORD])
  ids = text.char_ids(chars, text.learn_vocabulary(chars))
  return {
      transformed_name(WORD): text.pad(ids[:, :PREFIX], PREFIX),
      transformed_name(NEXT): text.pad(ids[:, PREFIX:PREFIX + 1], 1)[:, 0] - text.RESERVED,
  }


# Called by run_fn and the tests (the contract: models/common/contract.py).
def build_model(tf_transform_output: tft.TFTransformOutput, config: Mapping[str, Any],
                train_steps: Optional[int] = None) -> keras.Model:
  """Letter ids as Transform lays them out (models/common/text.py) -> a softmax over the
  letters of Transform's vocabulary."""
  del train_steps  # a constant rate
  units = tuning.value(config, SPACE, 'units')
  letters = tf_transform_output.vocabulary_size_by_name(text.CHAR_VOCAB)
  prefix = keras.Input((PREFIX,), dtype='int64', name=transformed_name(WORD))
  x = text.OneHot(text.vocabulary_size(tf_transform_output), name='one_hot')(prefix)
  x = keras.layers.LSTM(units, return_sequences=True, name='lstm_1')(x)
  x = keras.layers.Dropout(tuning.value(config, SPACE, 'dropout'), name='dropout')(x)
  x = keras.layers.LSTM(units, name='lstm_2')(x)
  probabilities = keras.layers.Dense(letters, activation='softmax', name='output')(x)
  model = keras.Model(prefix, probabilities, name='autocomplete')
  model.compile(optimizer=keras.optimizers.Adam(tuning.value(config, SPACE, 'learning_rate')),
                loss='sparse_categorical_crossentropy', metrics=['sparse_categorical_accuracy'])
  return model


def completion(raw: Dict[str, tf.Tensor], outputs: Dict[str, tf.Tensor]) -> Dict[str, tf.Tensor]:
  """The served word: the three letters given, then the predicted one."""
  given = tf.strings.substr(tf.reshape(raw[WORD], [-1]), 0, PREFIX, unit='UTF8_CHAR')
  return {'completion': given + outputs['classes']}


def export_model(model: keras.Model, tf_transform_output: tft.TFTransformOutput,
                 config: Mapping[str, Any], export_dir: str) -> None:
  """serving_default (tf.Example with `word`) and serving_raw (`word` strings): the first
  three letters are read, longer words cut -> classes (the letter), class_ids, probabilities,
  completion (the word)."""
  letters = tf_transform_output.vocabulary_by_name(text.CHAR_VOCAB)
  export.save_serving_model(
      model, tf_transform_output, dict(config, class_names=letters), export_dir,
      raw_inputs=([tf.TensorSpec([None], tf.string, name=WORD)],
                  lambda words: {WORD: tf.reshape(words, [-1, 1])}),
      extra_outputs=completion)


# Called by Trainer.
def run_fn(fn_args: FnArgs) -> None:
  training.seed_everything(SEED)
  tf_transform_output = tft.TFTransformOutput(fn_args.transform_output)
  config = tuning.trainer_config(fn_args)
  model = build_model(tf_transform_output, config, fn_args.train_steps)

  def dataset(files, shuffle):  # letters 1-3 -> letter 4
    return training.dataset(fn_args, files, tf_transform_output, NEXT, config['batch_size'],
                            SEED, shuffle=shuffle)

  training.fit(model, fn_args, dataset(fn_args.train_files, True),
               dataset(fn_args.eval_files, False))
  export_model(model, tf_transform_output, config, fn_args.serving_model_dir)


# Called by Tuner (--tune): each trial on the nine words, scored on them (by loss), as the seed.
def tuner_fn(fn_args: FnArgs):
  return tabular.tuner_fn_result(fn_args, SPACE, build_model, seed=SEED)
