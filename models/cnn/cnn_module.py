"""MNIST CNN (the seed's): conv3x3x32 -> maxpool2 -> conv3x3x64 -> maxpool2 -> dense 256 +
dropout (keep 0.7) -> 10, Adam 1e-3, batch 100. Weights start as the seed's N(0, 0.01).

8 epochs with the rate decaying to zero along a cosine (models/common/training.py), not the
seed's 15 at a constant rate: those do not fit a whole run's time budget, and fewer epochs at a
constant rate end under the gate (docs/models.md).

`--tune` searches SPACE (models/common/tuning.py): the rate, the dense layer's width and its
dropout, the seed's values first.
"""
from __future__ import annotations

from typing import Any, Mapping, Optional

import keras
import tensorflow_transform as tft
from tfx.components.trainer.fn_args_utils import FnArgs

from models.common import images, training, tuning

SPACE = {
    'learning_rate': (1e-3, 2e-3, 5e-4),
    'units': (256, 512, 128),  # the dense layer
    'dropout': (0.3, 0.5, 0.2),  # the seed's keep_prob 0.7 first
}
SEED = 42


# Called by run_fn and the tests (the contract: models/common/contract.py).
def build_model(tf_transform_output: tft.TFTransformOutput, config: Mapping[str, Any],
                train_steps: Optional[int] = None) -> keras.Model:
  del tf_transform_output  # MNIST's images need nothing learned from the data
  init = keras.initializers.RandomNormal(stddev=0.01)
  image = images.image_input()
  x = image
  for i, filters in enumerate((32, 64), start=1):
    x = keras.layers.Conv2D(filters, 3, padding='same', activation='relu',
                            kernel_initializer=init, name=f'conv{i}')(x)
    x = keras.layers.MaxPool2D(2, padding='same', name=f'pool{i}')(x)
  x = keras.layers.Flatten()(x)
  x = keras.layers.Dense(tuning.value(config, SPACE, 'units'), activation='relu',
                         kernel_initializer=init, name='dense')(x)
  x = keras.layers.Dropout(tuning.value(config, SPACE, 'dropout'), name='dropout')(x)
  probabilities = keras.layers.Dense(images.NUM_CLASSES, activation='softmax',
                                     kernel_initializer=init, name='output')(x)
  model = keras.Model(image, probabilities, name='cnn')
  rate = training.learning_rate(tuning.value(config, SPACE, 'learning_rate'), train_steps)
  model.compile(optimizer=keras.optimizers.Adam(rate),
                loss='sparse_categorical_crossentropy', metrics=['sparse_categorical_accuracy'])
  return model


# Called by Transform.
preprocessing_fn = images.preprocessing_fn


# Called by Trainer.
def run_fn(fn_args: FnArgs) -> None:
  images.train_and_export(fn_args, build_model, seed=SEED)


# Called by Tuner (--tune).
def tuner_fn(fn_args: FnArgs):
  return images.tuner_fn_result(fn_args, SPACE, build_model, seed=SEED)
