"""Animal classifier: [fur, wings] -> other / mammal / bird, one softmax layer (the seed's 2->3).

No ReLU on the logits and Adam rather than the seed's gradient descent: the table is linearly
separable, and the seed's version stalls for those two reasons, not for having one layer
(docs/models.md; tests/test_models.py reproduces the stall).
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
  """One softmax layer on tabular.model_inputs(features)."""
  probabilities = keras.layers.Dense(n_classes, activation='softmax', name='softmax')(stacked)
  model = keras.Model(inputs, probabilities, name='classifier')
  model.compile(optimizer=keras.optimizers.Adam(LEARNING_RATE),
                loss='sparse_categorical_crossentropy', metrics=['sparse_categorical_accuracy'])
  return model


# Called by run_fn and the tests (the contract: models/common/contract.py).
def build_model(tf_transform_output: tft.TFTransformOutput, config: Mapping[str, Any],
                train_steps: Optional[int] = None) -> keras.Model:
  del train_steps  # a constant rate
  return network(*tabular.model_inputs(config['features']),
                 tabular.class_count(tf_transform_output, config))


# Called by Transform.
preprocessing_fn = tabular.preprocessing_fn


# Called by Trainer.
def run_fn(fn_args) -> None:
  tabular.train_and_export(fn_args, build_model, seed=SEED)
