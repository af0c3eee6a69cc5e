"""Deep network on the animals CSV: [fur, wings] -> 10 -> 20 -> 3, ReLU, Adam 0.01 (the seed's).

`--tune` searches SPACE (models/common/tuning.py): the rate and the first layer's width (the
second is twice as wide, as the seed's), the seed's values first.

The biases the seed's last version dropped stay: without them the row [0, 0] gets all-zero
logits and is "other" only by argmax's tie-break (docs/models.md).
"""
from __future__ import annotations

from typing import Any, Dict, Mapping, Optional

import keras
import tensorflow_transform as tft

from models.common import tabular, tuning

SPACE = {
    'learning_rate': (0.01, 0.03, 0.003),
    'units': (10, 20, 5),  # the first hidden layer; the second has twice as many
}
SEED = 42


def network(inputs: Dict[str, keras.KerasTensor], stacked: keras.KerasTensor,
            n_classes: Optional[int], units: int = 10,
            learning_rate: float = 0.01) -> keras.Model:
  """The seed's 10 -> 20 -> n_classes (units -> 2 units) on tabular.model_inputs(features)."""
  init = keras.initializers.RandomUniform(-1.0, 1.0)  # the seed's tf.random_uniform(-1, 1)
  x = stacked
  for i, width in enumerate((units, 2 * units), start=1):
    x = keras.layers.Dense(width, activation='relu', kernel_initializer=init, name=f'layer{i}')(x)
  logits = keras.layers.Dense(n_classes, kernel_initializer=init, name='output')(x)
  probabilities = keras.layers.Softmax(name='probabilities')(logits)
  model = keras.Model(inputs, probabilities, name='dnn')
  model.compile(optimizer=keras.optimizers.Adam(learning_rate),
                loss='sparse_categorical_crossentropy', metrics=['sparse_categorical_accuracy'])
  return model


# Called by run_fn and the tests (the contract: models/common/contract.py).
def build_model(tf_transform_output: tft.TFTransformOutput, config: Mapping[str, Any],
                train_steps: Optional[int] = None) -> keras.Model:
  del train_steps  # a constant rate
  return network(*tabular.model_inputs(config['features']),
                 tabular.class_count(tf_transform_output, config),
                 units=tuning.value(config, SPACE, 'units'),
                 learning_rate=tuning.value(config, SPACE, 'learning_rate'))


# Called by Transform.
preprocessing_fn = tabular.preprocessing_fn


# Called by Trainer.
def run_fn(fn_args) -> None:
  tabular.train_and_export(fn_args, build_model, seed=SEED)


# Called by Tuner (--tune).
def tuner_fn(fn_args):
  return tabular.tuner_fn_result(fn_args, SPACE, build_model, seed=SEED)
