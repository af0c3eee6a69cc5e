"""MNIST multilayer perceptron (the seed's): 784 -> 256 -> 256 -> 10 ReLU from He-normal
weights, Adam 1e-3 (cosine decay over the run, models/common/training.py), 8 epochs
(pipelines/registry.py); also the GANs' judge, from the seed's weights (config 'init').

`--tune` searches SPACE (models/common/tuning.py): the rate and the hidden layers' width, the
seed's values first.
"""
from __future__ import annotations

from typing import Any, Mapping, Optional

import keras
import tensorflow_transform as tft
from tfx.components.trainer.fn_args_utils import FnArgs

from models.common import images, networks, tuning

SPACE = {
    'learning_rate': (1e-3, 2e-3, 5e-4),
    'units': (256, 512, 128),  # each hidden layer
}
SEED = 42


# Called by run_fn and the tests (the contract: models/common/contract.py).
def build_model(tf_transform_output: tft.TFTransformOutput, config: Mapping[str, Any],
                train_steps: Optional[int] = None) -> keras.Model:
  del tf_transform_output  # MNIST's images need nothing learned from the data
  return networks.mlp(images.image_input(), name='mlp',
                      learning_rate=tuning.value(config, SPACE, 'learning_rate'),
                      units=tuning.value(config, SPACE, 'units'), decay_steps=train_steps,
                      init=config.get('init', 'he_normal'))


# Called by Transform.
preprocessing_fn = images.preprocessing_fn


# Called by Trainer.
def run_fn(fn_args: FnArgs) -> None:
  images.train_and_export(fn_args, build_model, seed=SEED)


# Called by Tuner (--tune).
def tuner_fn(fn_args: FnArgs):
  return images.tuner_fn_result(fn_args, SPACE, build_model, seed=SEED)
