"""MNIST CNN (the seed's): conv3x3x32 -> maxpool2 -> conv3x3x64 -> maxpool2 -> dense 256 +
dropout (keep 0.7) -> 10, Adam 1e-3, batch 100. Weights start as the seed's N(0, 0.01).

8 epochs with the rate decaying to zero along a cosine (models/common/training.py), not the
seed's 15 at a constant rate: those do not fit a whole run's time budget, and fewer epochs at a
constant rate end under the gate (docs/models.md).
"""
from __future__ import annotations

from typing import Any, Mapping, Optional

import keras
import tensorflow_transform as tft
from tfx.components.trainer.fn_args_utils import FnArgs

from models.common import images, training

LEARNING_RATE = 1e-3
DROPOUT = 0.3  # the seed's keep_prob 0.7
SEED = 42


# Called by run_fn and the tests (the contract: models/common/contract.py).
def build_model(tf_transform_output: tft.TFTransformOutput, config: Mapping[str, Any],
                train_steps: Optional[int] = None) -> keras.Model:
  del tf_transform_output, config  # MNIST's images need nothing learned from the data
  init = keras.initializers.RandomNormal(stddev=0.01)
  image = images.image_input()
  x = image
  for i, filters in enumerate((32, 64), start=1):
    x = keras.layers.Conv2D(filters, 3, padding='same', activation='relu',
                            kernel_initializer=init, name=f'conv{i}')(x)
    x = keras.layers.MaxPool2D(2, padding='same', name=f'pool{i}')(x)
  x = keras.layers.Flatten()(x)
  x = keras.layers.Dense(256, activation='relu', kernel_initializer=init, name='dense')(x)
  x = keras.layers.Dropout(DROPOUT, name='dropout')(x)
  probabilities = keras.layers.Dense(images.NUM_CLASSES, activation='softmax',
                                     kernel_initializer=init, name='output')(x)
  model = keras.Model(image, probabilities, name='cnn')
  model.compile(optimizer=keras.optimizers.Adam(training.learning_rate(LEARNING_RATE,
                                                                       train_steps)),
                loss='sparse_categorical_crossentropy', metrics=['sparse_categorical_accuracy'])
  return model


# Called by Transform.
preprocessing_fn = images.preprocessing_fn


# Called by Trainer.
def run_fn(fn_args: FnArgs) -> None:
  images.train_and_export(fn_args, build_model, seed=SEED)
