"""TFX's Tuner executor (the search, best_hyperparameters.txt, tuner_results.json), then every
trial and the choice onto the output artifacts' custom properties."""
from __future__ import annotations

import json
from typing import Any, Dict, List

from tfx import types
from tfx.components.tuner import executor as tuner_executor
from tfx.types import artifact_utils, standard_component_specs
from tfx.utils import json_utils

from components.recorded_tuner import keys


def describe_slice(tune: Dict[str, Any]) -> str:
  """The registry's TuneMode (custom_config['tune']) in words."""
  steps = f'{tune["train_steps"]} steps'
  if tune.get('train_examples') is None:
    return f'{steps} on the whole training split, scored on it (the seed\'s protocol)'
  return (f'{steps} on the first {tune["train_examples"]:,} training examples, scored on the '
          f'{tune["validation_examples"]:,} after them (never on the eval split)')


def trials(tuner) -> List[Dict[str, Any]]:
  """Every trial in the order it ran: its values, score, status and wall time."""
  seconds = getattr(tuner, 'seconds', {})
  oracle = tuner.oracle
  return [{'trial': trial_id, 'values': dict(oracle.trials[trial_id].hyperparameters.values),
           'score': oracle.trials[trial_id].score,
           'status': str(oracle.trials[trial_id].status),
           'seconds': round(seconds.get(trial_id, 0.0), 2)}
          for trial_id in oracle.start_order]


class Executor(tuner_executor.Executor):
  """Runs the search as TFX does, then records it."""

  def Do(self, input_dict: Dict[str, List[types.Artifact]],
         output_dict: Dict[str, List[types.Artifact]],
         exec_properties: Dict[str, Any]) -> None:
    if tuner_executor.get_tune_args(exec_properties):
      raise ValueError("TuneArgs is not supported by this Tuner's Executor.")
    tuner = tuner_executor.search(input_dict, exec_properties, self._get_tmp_dir())
    tuner_executor.write_best_hyperparameters(tuner, output_dict)
    ran = trials(tuner)
    [best] = tuner.oracle.get_best_trials(1)
    custom_config = json_utils.loads(exec_properties.get('custom_config') or 'null') or {}
    chosen = artifact_utils.get_single_instance(
        output_dict[standard_component_specs.BEST_HYPERPARAMETERS_KEY])
    chosen.set_string_custom_property(keys.VALUES, json.dumps(
        dict(best.hyperparameters.values), sort_keys=True))
    chosen.set_string_custom_property(keys.OBJECTIVE, tuner.oracle.objective.name)
    chosen.set_string_custom_property(keys.DIRECTION, tuner.oracle.objective.direction)
    chosen.set_string_custom_property(keys.BEST_SCORE, repr(float(best.score)))
    chosen.set_string_custom_property(keys.BEST_TRIAL, best.trial_id)
    if ran and ran[0]['score'] is not None:
      chosen.set_string_custom_property(keys.SEED_SCORE, repr(float(ran[0]['score'])))
    if 'tune' in custom_config:
      chosen.set_string_custom_property(keys.SLICE, describe_slice(custom_config['tune']))
    results = artifact_utils.get_single_instance(
        output_dict[standard_component_specs.TUNER_RESULTS_KEY])
    results.set_string_custom_property(keys.TRIALS, json.dumps(ran))
    results.set_int_custom_property(keys.TRIAL_COUNT, len(ran))
