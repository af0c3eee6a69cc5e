"""The seed's MLP with batch normalization after each hidden layer."""
from __future__ import annotations

from typing import Any, Mapping, Optional

import keras
import tensorflow_transform as tft
from tfx.components.trainer.fn_args_utils import FnArgs

from models.common import images, networks

LEARNING_RATE = 1e-3
SEED = 42


# Called by run_fn and the tests (the contract: models/common/contract.py).
def build_model(tf_transform_output: tft.TFTransformOutput, config: Mapping[str, Any],
                train_steps: Optional[int] = None) -> keras.Model:
  del tf_transform_output, config  # MNIST's images need nothing learned from the data
  return networks.mlp(images.image_input(), name='mlp_bn', learning_rate=LEARNING_RATE,
                      batch_norm=True, decay_steps=train_steps)


# Called by Transform.
preprocessing_fn = images.preprocessing_fn


# Called by Trainer.
def run_fn(fn_args: FnArgs) -> None:
  images.train_and_export(fn_args, build_model, seed=SEED)
