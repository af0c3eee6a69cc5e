"""MNIST CNN (the seed's network): conv3x3x32 -> maxpool2 -> conv3x3x64 -> maxpool2 -> dense
256 + dropout (keep 0.7) -> 10, Adam.

Trained for speed to the same accuracy, where the seed's recipe (N(0, 0.01) weights, Adam 1e-3
at a constant rate, batch 100, 15 epochs) needs 8 epochs to reach the gate (docs/benchmarks.md):
He-normal weights, batches of 250, a one-cycle rate (up from 3e-4 to 3e-3 over the first 20% of
the steps, then down to zero along a cosine), 4 epochs, in mixed bfloat16 on a CPU that has it
natively (the export stays float32; models/common/training.py).

`--tune` searches SPACE (models/common/tuning.py): the peak rate, the dense layer's width and
its dropout, the defaults first.
"""
from __future__ import annotations

from typing import Any, Mapping, Optional

import keras
import tensorflow_transform as tft
from tfx.components.trainer.fn_args_utils import FnArgs

from models.common import images, networks, training, tuning

SPACE = {
    'learning_rate': (3e-3, 1e-3, 5e-3),  # the one-cycle's peak
    'units': (256, 512, 128),  # the dense layer
    'dropout': (0.3, 0.5, 0.2),  # the seed's keep_prob 0.7 first
}
SEED = 42
WARMUP = training.ONE_CYCLE_WARMUP
BFLOAT16 = True  # may train in mixed bfloat16 (training.training_precision; the bench's too)


# Called by run_fn and the tests (the contract: models/common/contract.py).
def build_model(tf_transform_output: tft.TFTransformOutput, config: Mapping[str, Any],
                train_steps: Optional[int] = None) -> keras.Model:
  del tf_transform_output  # MNIST's images need nothing learned from the data
  # He-normal: the seed's N(0, 0.01) took a whole epoch more to reach 0.98 ('init': the bench's
  # A/B rows).
  init = networks.initializer(config.get('init', 'he_normal'))
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
  # float32 under mixed precision too: the softmax and the loss need its range.
  probabilities = keras.layers.Dense(images.NUM_CLASSES, activation='softmax',
                                     kernel_initializer=init, dtype='float32', name='output')(x)
  model = keras.Model(image, probabilities, name='cnn')
  rate = training.learning_rate(tuning.value(config, SPACE, 'learning_rate'), train_steps,
                                warmup=WARMUP)
  model.compile(optimizer=keras.optimizers.Adam(rate),
                loss='sparse_categorical_crossentropy', metrics=['sparse_categorical_accuracy'])
  return model


# Called by Transform.
preprocessing_fn = images.preprocessing_fn


# Called by Trainer.
def run_fn(fn_args: FnArgs) -> None:
  images.train_and_export(fn_args, build_model, seed=SEED, bfloat16=BFLOAT16)


# Called by Tuner (--tune).
def tuner_fn(fn_args: FnArgs):
  return images.tuner_fn_result(fn_args, SPACE, build_model, seed=SEED)
