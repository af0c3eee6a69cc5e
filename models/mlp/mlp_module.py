"""MNIST multilayer perceptron (the seed's): 784 -> 256 -> 256 -> 10 ReLU, Adam, batches of 100.

Trained for speed to the same accuracy, where the seed's recipe (N(0, 0.01) weights, Adam 1e-3
at a constant rate) first reaches the gate at epoch 19 (docs/benchmarks.md): He-normal weights
and a one-cycle rate (up from 3e-4 to 3e-3 over the first 20% of the steps, then down to zero
along a cosine), 3 epochs (pipelines/registry.py), as cnn trains. Also the GANs' judge, on the
seed's weights and rate (its config: 'init', 'learning_rate', 'warmup').

`--tune` searches SPACE (models/common/tuning.py): the peak rate and the hidden layers' width,
the defaults first.
"""
from __future__ import annotations

from typing import Any, Mapping, Optional

import keras
import tensorflow_transform as tft
from tfx.components.trainer.fn_args_utils import FnArgs

from models.common import images, networks, training, tuning

SPACE = {
    'learning_rate': (3e-3, 1e-3, 5e-3),  # the one-cycle's peak
    'units': (256, 512, 128),  # each hidden layer
}
SEED = 42
WARMUP = training.ONE_CYCLE_WARMUP


# Called by run_fn and the tests (the contract: models/common/contract.py).
def build_model(tf_transform_output: tft.TFTransformOutput, config: Mapping[str, Any],
                train_steps: Optional[int] = None) -> keras.Model:
  del tf_transform_output  # MNIST's images need nothing learned from the data
  return networks.mlp(images.image_input(), name='mlp',
                      learning_rate=tuning.value(config, SPACE, 'learning_rate'),
                      units=tuning.value(config, SPACE, 'units'), decay_steps=train_steps,
                      init=config.get('init', 'he_normal'),
                      warmup=config.get('warmup', WARMUP))


# Called by Transform.
preprocessing_fn = images.preprocessing_fn


# Called by Trainer.
def run_fn(fn_args: FnArgs) -> None:
  images.train_and_export(fn_args, build_model, seed=SEED)


# Called by Tuner (--tune).
def tuner_fn(fn_args: FnArgs):
  return images.tuner_fn_result(fn_args, SPACE, build_model, seed=SEED)
