"""Linear regression y = W*x + b on x = [1, 2, 3] -> y = [1, 2, 3]: MSE, gradient descent lr 0.1.

The registry trains 300 steps rather than the seed's 100, which leave the slow direction of
this regression (mostly b) visibly unfinished (docs/models.md).
"""
from __future__ import annotations

from typing import Any, Dict, Mapping, Optional

import keras
import tensorflow_transform as tft

from models.common import tabular

LEARNING_RATE = 0.1
SEED = 42


def network(inputs: Dict[str, keras.KerasTensor], stacked: keras.KerasTensor,
            n_classes: Optional[int]) -> keras.Model:
  """The seed's y = W*x + b on tabular.model_inputs(features)."""
  del n_classes  # regression
  init = keras.initializers.RandomUniform(-1.0, 1.0)  # the seed's W, b ~ U(-1, 1)
  y = keras.layers.Dense(1, kernel_initializer=init, bias_initializer=init, name='Wx_b')(stacked)
  model = keras.Model(inputs, y, name='linear')
  model.compile(optimizer=keras.optimizers.SGD(LEARNING_RATE), loss='mean_squared_error')
  return model


# Called by run_fn and the tests (the contract: models/common/contract.py).
def build_model(tf_transform_output: tft.TFTransformOutput, config: Mapping[str, Any],
                train_steps: Optional[int] = None) -> keras.Model:
  del train_steps  # the seed's constant rate
  return network(*tabular.model_inputs(config['features']),
                 tabular.class_count(tf_transform_output, config))


# Called by Transform.
preprocessing_fn = tabular.preprocessing_fn


# Called by Trainer.
def run_fn(fn_args) -> None:
  tabular.train_and_export(fn_args, build_model, seed=SEED)
