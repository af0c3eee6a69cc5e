"""Hyperparameter search for TFX's Tuner (`tfzoo run MODEL --tune`, docs/pipeline.md).

A tunable module names its search space (each hyperparameter's candidates, the seed's value
first) and defines `tuner_fn`, which TFX's Tuner calls. Its build_model reads the values it
builds with through `value()`: the Tuner's best, which reach the Trainer as its
`hyperparameters` input and are merged into custom_config by `trainer_config()`, or, in an
untuned run, the seed's. An untuned run's config has no HYPERPARAMETERS key, so its Trainer
is the same as before and stays cached.

The search is KerasTuner's random search over the space, with the seed's values as its first
trial: whatever is chosen scored at least as well as the seed's configuration on the Tuner's
validation slice (a tie keeps the earlier trial). Each trial trains `fn_args.train_steps`
steps (the Tuner's train_args: the registry's TuneMode) on a slice of the training split and
is scored on another slice of it; the eval split, which the Evaluator gates on, never chooses.
"""
from __future__ import annotations

import time
from typing import Any, Callable, Dict, Mapping, Sequence

import keras
import keras_tuner
from tfx.components.trainer.fn_args_utils import FnArgs
from tfx.components.tuner.component import TunerFnResult

from models.common import training

HYPERPARAMETERS = 'hyperparameters'  # custom_config: {name: value}, the Tuner's best
TUNE = 'tune'  # the Tuner's custom_config: the registry's TuneMode (pipelines/specs.py)

Space = Mapping[str, Sequence[Any]]  # name -> candidates, the seed's value first
# (config with HYPERPARAMETERS, steps the run trains) -> a compiled model
Build = Callable[[Mapping[str, Any], int], keras.Model]


def value(config: Mapping[str, Any], space: Space, name: str) -> Any:
  """The value of hyperparameter `name` a model is built with: the Tuner's, else one the
  config fixes (the GANs' judge: the spec's reference_config), else the space's first."""
  return config.get(HYPERPARAMETERS, {}).get(name, config.get(name, space[name][0]))


def trainer_config(fn_args: FnArgs) -> Dict[str, Any]:
  """The Trainer's custom_config, with the Tuner's best values when it has that input
  (fn_args.hyperparameters: KerasTuner's HyperParameters.get_config())."""
  config = dict(fn_args.custom_config)
  if fn_args.hyperparameters:
    config[HYPERPARAMETERS] = dict(fn_args.hyperparameters['values'])
  return config


def hyperparameters(space: Space) -> keras_tuner.HyperParameters:
  """The space as KerasTuner's: one Choice per name, its default the seed's value."""
  hp = keras_tuner.HyperParameters()
  for name, candidates in space.items():
    hp.Choice(name, list(candidates), default=candidates[0])
  return hp


class SeedFirstRandomSearch(keras_tuner.oracles.RandomSearchOracle):
  """Random search whose first trial is every hyperparameter's default (the seed's values)."""

  def populate_space(self, trial_id):
    if not self.trials:
      return {'status': keras_tuner.engine.trial.TrialStatus.RUNNING,
              'values': {hp.name: hp.default for hp in self.hyperparameters.space}}
    return super().populate_space(trial_id)


class TimedTuner(keras_tuner.Tuner):
  """KerasTuner's Tuner, keeping each trial's wall time (components/recorded_tuner records it)."""

  def __init__(self, *args, **kwargs):
    super().__init__(*args, **kwargs)
    self.seconds: Dict[str, float] = {}

  def run_trial(self, trial, *args, **kwargs):
    started = time.time()
    try:
      return super().run_trial(trial, *args, **kwargs)
    finally:
      self.seconds[trial.trial_id] = time.time() - started


def tuner_fn_result(fn_args: FnArgs, space: Space, build: Build, train, validation,
                    objective: str, seed: int) -> TunerFnResult:
  """What tuner_fn returns: the search over `space` with the budget in custom_config['tune'],
  trials of fn_args.train_steps steps on `train`, each scored by `objective` ('val_…', the
  best epoch's) on fn_args.eval_steps batches of `validation`; `seed` (the module's) seeds
  the search and every trial's weights."""
  budget = fn_args.custom_config[TUNE]
  config = dict(fn_args.custom_config)
  epochs, steps_per_epoch = training.epochs_for(fn_args.train_steps, max_epochs=2)

  def build_trial(hp: keras_tuner.HyperParameters) -> keras.Model:
    training.seed_everything(seed)  # every trial starts from the same seeded weights
    return build(dict(config, **{HYPERPARAMETERS: dict(hp.values)}), fn_args.train_steps)

  direction = 'min' if objective.endswith('loss') else 'max'
  oracle = SeedFirstRandomSearch(
      objective=keras_tuner.Objective(objective, direction), max_trials=budget['trials'],
      seed=seed, hyperparameters=hyperparameters(space), allow_new_entries=False)
  tuner = TimedTuner(oracle=oracle, hypermodel=build_trial, directory=fn_args.working_dir,
                     project_name='search', overwrite=True)
  return TunerFnResult(tuner=tuner, fit_kwargs={
      'x': train, 'validation_data': validation, 'epochs': epochs,
      'steps_per_epoch': steps_per_epoch, 'validation_steps': fn_args.eval_steps,
      'verbose': 2})
