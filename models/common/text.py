"""Characters as ids, shared by the word models (autocomplete, seq2seq).

The seed one-hot encoded characters from a fixed list ('S', 'E', 'P', a-z and the Korean
syllables of its data). Here Transform learns the character vocabulary from the data (stored
with the transform graph, so the served model maps characters itself) and ids are laid out as

  0 P (padding)   1 S (start of output)   2 E (end of output)   3.. the vocabulary   last: unknown

A character the training data never had maps to the one `unknown` id: the model still answers.
"""
from __future__ import annotations

from typing import List

import keras
import tensorflow as tf
import tensorflow_transform as tft

CHAR_VOCAB = 'chars'
PAD, START, END = 0, 1, 2
RESERVED = 3
UNKNOWN_CHAR = '?'


def split_chars(words: tf.Tensor) -> tf.RaggedTensor:
  """[batch] or [batch, 1] UTF-8 strings -> ragged [batch, characters] (Korean syllables are
  one character each)."""
  return tf.strings.unicode_split(tf.reshape(words, [-1]), 'UTF-8')


def learn_vocabulary(*columns: tf.RaggedTensor):
  """The characters of every given column, as one vocabulary (a Transform analyzer)."""
  flat = tf.concat([c.flat_values for c in columns], axis=0)
  return tft.vocabulary(flat, vocab_filename=CHAR_VOCAB)


def char_ids(chars: tf.RaggedTensor, vocabulary) -> tf.RaggedTensor:
  """Characters -> ids (RESERVED.. for the vocabulary, the last id for unknown ones)."""
  ids = tft.apply_vocabulary(chars.flat_values, vocabulary, num_oov_buckets=1)
  return chars.with_flat_values(ids + RESERVED)


def pad(ids: tf.RaggedTensor, length: int) -> tf.Tensor:
  """Ragged ids -> [batch, length] int64, padded with P and cut at `length`."""
  return ids.to_tensor(default_value=PAD, shape=[None, length])


def vocabulary_size(tf_transform_output: tft.TFTransformOutput) -> int:
  """How many ids there are: the reserved ones, the vocabulary, and `unknown`."""
  return RESERVED + tf_transform_output.vocabulary_size_by_name(CHAR_VOCAB) + 1


def id_to_char(tf_transform_output: tft.TFTransformOutput) -> List[bytes]:
  """Each id's character (P, S, E as empty strings), for a constant in the served graph."""
  vocabulary = tf_transform_output.vocabulary_by_name(CHAR_VOCAB)
  return [b'', b'', b''] + list(vocabulary) + [UNKNOWN_CHAR.encode()]


class OneHot(keras.layers.Layer):
  """int ids [batch, steps] -> one-hot [batch, steps, depth], as the seed fed its RNNs."""

  def __init__(self, depth: int, **kwargs):
    super().__init__(**kwargs)
    self.depth = depth

  def call(self, ids):
    return keras.ops.one_hot(ids, self.depth)

  def get_config(self):
    return {**super().get_config(), 'depth': self.depth}
