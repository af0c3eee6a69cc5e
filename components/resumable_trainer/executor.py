"""TFX's GenericExecutor, then the module's training record onto the ModelRun artifact and,
after a Tuner (--tune), the hyperparameters it was given onto the Model."""
from __future__ import annotations

import json
import os
from typing import Any, Dict, List

from tfx import types
from tfx.components.trainer import executor as trainer_executor
from tfx.dsl.io import fileio
from tfx.types import artifact_utils, standard_component_specs
from tfx.utils import io_utils

from components.recorded_tuner import keys as tuner_keys
from components.resumable_trainer import keys


class Executor(trainer_executor.GenericExecutor):
  """Runs run_fn as TFX does; copies RECORD_FILE's counts and precision to the ModelRun's
  properties."""

  def Do(self, input_dict: Dict[str, List[types.Artifact]],
         output_dict: Dict[str, List[types.Artifact]],
         exec_properties: Dict[str, Any]) -> None:
    super().Do(input_dict, output_dict, exec_properties)
    tuned = input_dict.get(standard_component_specs.HYPERPARAMETERS_KEY)
    if tuned:  # the file GenericExecutor handed run_fn as fn_args.hyperparameters
      path = io_utils.get_only_uri_in_dir(artifact_utils.get_single_uri(tuned))
      values = json.loads(io_utils.read_string_file(path))['values']
      model = artifact_utils.get_single_instance(
          output_dict[standard_component_specs.MODEL_KEY])
      model.set_string_custom_property(tuner_keys.MODEL_HYPERPARAMETERS,
                                       json.dumps(values, sort_keys=True))
    model_run = artifact_utils.get_single_instance(
        output_dict[standard_component_specs.MODEL_RUN_KEY])
    path = os.path.join(model_run.uri, keys.RECORD_FILE)
    if not fileio.exists(path):  # a run_fn that does not train through models/common
      return
    with fileio.open(path) as f:
      record = json.loads(f.read())
    for name in keys.INT_PROPERTIES:
      model_run.set_int_custom_property(name, int(record[name]))
    if keys.PRECISION in record:
      model_run.set_string_custom_property(keys.PRECISION, record[keys.PRECISION])
