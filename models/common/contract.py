"""The contract of a model module: what every models/<name>/<name>_module.py defines.

TFX finds a module's entry points by their well-known names; everything else (the tests, the
shared Trainer helpers) builds a model through `build_model`, which has one signature in every
module. `config` is always the module's custom_config, pipelines.factory.module_config(spec):

  model       the pipeline's name ('cnn', 'cnn_fast')
  task        'classification', 'regression', 'translation', 'reconstruction', 'generation'
  features    the raw feature columns the model reads
  label       the raw label column
  batch_size  the Trainer's batch size (the registry's spec is its one place)
  code        a hash of the model's folder, models/common and the serving loader (a cache key,
              and the key of a killed Trainer's resume state: models/common/resume.py)
  hyperparameters  only after a Tuner (--tune): its best values, {name: value}, which a
              tunable module's build_model reads through models/common/tuning.py:value (the
              seed's value when absent); the Tuner's own config has `tune`, its budget
  init        only where set: mlp's and cnn's first weights, a Keras initializer's name or
              'seed' for the seed's N(0, 0.01) (models/common/networks.py:initializer); the
              GANs' judge sets it (the spec's reference_config), and the bench's levers
  learning_rate, warmup  only where set: the mlp module's (peak) rate and warm-up fraction,
              fixed by the GANs' judge to the seed's 1e-3 without warm-up (a Tuner's value
              still wins: tuning.value)

A module derives everything else from the transform output (class count, vocabulary size)
or from the run's step count (a decaying learning rate).
"""
from __future__ import annotations

from typing import Any, Callable, Dict, List, Mapping, Optional, Protocol

import keras
import tensorflow as tf
import tensorflow_transform as tft
from tfx.components.trainer.fn_args_utils import FnArgs

from components.infra_validator.session_loader import ServingSession

Config = Mapping[str, Any]
BuildModel = Callable[[tft.TFTransformOutput, Config, Optional[int]], keras.Model]
# {'metrics': {name: value}, 'samples': {input: output}}, what the QualityEvaluator records.
Evaluation = Dict[str, Any]


class ModelModule(Protocol):
  """Every model module."""

  def preprocessing_fn(self, inputs: Mapping[str, tf.Tensor],
                       custom_config: Config) -> Dict[str, tf.Tensor]:
    """Called by Transform: raw features -> transformed features (`<name>_xf`), analysers
    included; the graph is embedded in the served model."""

  # A tunable module also defines SPACE ({name: candidates, the seed's first}) and
  # tuner_fn(fn_args) -> TunerFnResult, called by TFX's Tuner (models/common/tuning.py).

  def run_fn(self, fn_args: FnArgs) -> None:
    """Called by Trainer (and ReferenceTrainer): builds with build_model, trains for
    fn_args.train_steps in batches of fn_args.custom_config['batch_size'], exports to
    fn_args.serving_model_dir every signature the served model has."""

  def build_model(self, tf_transform_output: tft.TFTransformOutput, config: Config,
                  train_steps: Optional[int] = None) -> keras.Model:
    """The model, compiled and untrained. train_steps: the run's length, for a learning rate
    that decays over it (None: the base rate, e.g. a unit test of a few steps)."""


class EvaluatedModule(ModelModule, Protocol):
  """A module whose spec gates with the QualityEvaluator (evaluator='quality')."""

  def evaluate_fn(self, model: ServingSession, examples: List[bytes], custom_config: Config,
                  reference: Optional[ServingSession] = None) -> Evaluation:
    """Called by the QualityEvaluator on the eval split's serialized tf.Examples; `model` (and
    `reference`, the judge of a spec with a reference_model) loaded as TF Serving loads
    them. Returns the metrics the spec's gates name."""
