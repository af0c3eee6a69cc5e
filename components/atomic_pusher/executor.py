"""Pushes a blessed model to `<base>/<version>/` with a single rename."""
from __future__ import annotations

import os
import shutil
import time
from typing import Any, Dict, List

from absl import logging
from tfx.components.pusher import executor as tfx_executor
from tfx.proto import pusher_pb2
from tfx.types import artifact_utils, standard_component_specs
from tfx.utils import io_utils, path_utils, proto_utils

# TF Serving only loads directories whose name is a number; these are invisible to it.
INCOMING_PREFIX = '.incoming-'
# Set on an InfraBlessing whose folder holds the validated model with its warm-up requests.
WARMUP_MODEL_FLAG = 'has_model'


def push_atomically(model_path: str, base_directory: str) -> tuple[str, str]:
  """Copies `model_path` to `<base>/<version>` atomically; returns (path, version).

  The version is the push time in seconds (TFX's UNIX_TIMESTAMP versioning), moved forward if
  that number is taken, so a second push within the same second is a new version rather than
  a silently skipped one. Copies left by an interrupted push are removed first.
  """
  os.makedirs(base_directory, exist_ok=True)
  for name in os.listdir(base_directory):
    if name.startswith(INCOMING_PREFIX):
      logging.warning('Removing %s, left by an interrupted push.', name)
      shutil.rmtree(os.path.join(base_directory, name), ignore_errors=True)
  incoming = os.path.join(base_directory, f'{INCOMING_PREFIX}{os.getpid()}-{time.time_ns()}')
  shutil.copytree(model_path, incoming)
  version = int(time.time())
  while True:
    serving_path = os.path.join(base_directory, str(version))
    try:
      os.rename(incoming, serving_path)  # atomic; fails if the version exists and isn't empty
    except OSError:
      if not os.path.exists(serving_path):
        shutil.rmtree(incoming, ignore_errors=True)
        raise
      version += 1
      continue
    return serving_path, str(version)


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
