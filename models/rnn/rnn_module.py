"""MNIST as a sequence (the seed's RNN): 28 rows of 28 pixels as 28 steps, a basic RNN cell of
128 units, its last output -> dense 10; Adam 1e-3 (cosine decay), batch 128, 10 epochs."""
from __future__ import annotations

from typing import Any, Mapping, Optional

import keras
import tensorflow_transform as tft
from tfx.components.trainer.fn_args_utils import FnArgs

from models.common import images, training

LEARNING_RATE = 1e-3
HIDDEN = 128
SEED = 42


# Called by run_fn and the tests (the contract: models/common/contract.py).
def build_model(tf_transform_output: tft.TFTransformOutput, config: Mapping[str, Any],
                train_steps: Optional[int] = None) -> keras.Model:
  del tf_transform_output, config  # MNIST's images need nothing learned from the data
  image = images.image_input()
  rows = keras.layers.Reshape((images.SIDE, images.SIDE), name='rows_as_steps')(image)
  last = keras.layers.SimpleRNN(HIDDEN, name='rnn')(rows)
  probabilities = keras.layers.Dense(images.NUM_CLASSES, activation='softmax', name='output')(last)
  model = keras.Model(image, probabilities, name='rnn')
  model.compile(optimizer=keras.optimizers.Adam(training.learning_rate(LEARNING_RATE,
                                                                       train_steps)),
                loss='sparse_categorical_crossentropy', metrics=['sparse_categorical_accuracy'])
  return model


# Called by Transform.
preprocessing_fn = images.preprocessing_fn


# Called by Trainer.
def run_fn(fn_args: FnArgs) -> None:
  images.train_and_export(fn_args, build_model, seed=SEED)
