"""Pushes a blessed model to `<base>/<version>/` with a single rename."""
from __future__ import annotations

from typing import Any, Dict, List

from absl import logging
from tfx.components.pusher import executor as tfx_executor
from tfx.proto import pusher_pb2
from tfx.types import artifact_utils, standard_component_specs
from tfx.utils import io_utils, path_utils, proto_utils

from components.atomic_pusher.atomic import push_atomically

# Set on an InfraBlessing whose folder holds the validated model with its warm-up requests.
WARMUP_MODEL_FLAG = 'has_model'


class Executor(tfx_executor.Executor):
  """TFX's Pusher executor with push_atomically() for filesystem destinations."""

  def GetModelPath(self, input_dict: Dict[str, List[Any]]) -> str:
    """The InfraValidator's copy of the model when it made one (the same SavedModel plus TF
    Serving's warm-up requests, assets.extra/tf_serving_warmup_requests), else the model.
    TFX's Pusher takes the `model` input first and would push the model without them."""
    infra = input_dict.get(standard_component_specs.INFRA_BLESSING_KEY)
    if infra:
      blessing = artifact_utils.get_single_instance(infra)
      if blessing.get_int_custom_property(WARMUP_MODEL_FLAG):
        return path_utils.stamped_model_path(blessing.uri)
    return super().GetModelPath(input_dict)

  def Do(self, input_dict: Dict[str, List[Any]], output_dict: Dict[str, List[Any]],
         exec_properties: Dict[str, Any]) -> None:
    destination = pusher_pb2.PushDestination()
    proto_utils.json_to_proto(exec_properties[standard_component_specs.PUSH_DESTINATION_KEY],
                              destination)
    if (destination.WhichOneof('destination') != 'filesystem'
        or '://' in destination.filesystem.base_directory):
      # Object stores (gs://, s3://) have no atomic rename; TFX's copy writes saved_model.pb
      # last, which is what TF Serving waits for there.
      return super().Do(input_dict, output_dict, exec_properties)
    self._log_startup(input_dict, output_dict, exec_properties)
    model_push = artifact_utils.get_single_instance(
        output_dict[standard_component_specs.PUSHED_MODEL_KEY])
    if not self.CheckBlessing(input_dict):
      self._MarkNotPushed(model_push)
      return
    model_path = self.GetModelPath(input_dict)
    serving_path, version = push_atomically(model_path, destination.filesystem.base_directory)
    logging.info('Model written to serving path %s.', serving_path)
    io_utils.copy_dir(model_path, model_push.uri)  # TFX's archive copy, as its Pusher does
    self._MarkPushed(model_push, pushed_destination=serving_path, pushed_version=version)
