"""The atomic push itself, without TFX: the Pusher's executor and `tfzoo rollback` share it."""
from __future__ import annotations

import os
import shutil
import time

from absl import logging

# TF Serving only loads directories whose name is a number; these are invisible to it.
INCOMING_PREFIX = '.incoming-'


def push_atomically(model_path: str, base_directory: str) -> tuple[str, str]:
  """Copies `model_path` to `<base>/<version>` atomically; returns (path, version).

  The version is the push time in seconds (TFX's UNIX_TIMESTAMP versioning), moved past every
  version already there: a second push within the same second is a new version rather than a
  silently skipped one, and the new push is always the highest, the one TF Serving's latest
  policy serves (also after a rollback, or a clock set back). Copies left by an interrupted
  push are removed first; a copy that fails (no space, unreadable file) removes its own.
  """
  os.makedirs(base_directory, exist_ok=True)
  for name in os.listdir(base_directory):
    if name.startswith(INCOMING_PREFIX):
      logging.warning('Removing %s, left by an interrupted push.', name)
      shutil.rmtree(os.path.join(base_directory, name), ignore_errors=True)
  incoming = os.path.join(base_directory, f'{INCOMING_PREFIX}{os.getpid()}-{time.time_ns()}')
  try:
    shutil.copytree(model_path, incoming)
  except Exception:
    shutil.rmtree(incoming, ignore_errors=True)
    raise
  taken = [int(name) for name in os.listdir(base_directory) if name.isascii() and name.isdigit()]
  version = max([int(time.time())] + [v + 1 for v in taken])
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
