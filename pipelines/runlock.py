"""One run of a pipeline at a time, and no execution left 'running' by a killed run.

Two runs of the same pipeline would share its ML Metadata store and pipeline root; the second
one waits for the first (and says so). Different pipelines have their own stores and run side
by side. Once the lock is held, any execution still marked RUNNING in the store belongs to a
run that was killed (SIGKILL, power loss): it is marked CANCELED, so the store tells the truth
and later runs and tools never mistake it for a live one.
"""
from __future__ import annotations

import contextlib
import fcntl
import os
from typing import Callable, Iterator, List


@contextlib.contextmanager
def pipeline_lock(lock_path: str, on_wait: Callable[[str], None]) -> Iterator[None]:
  """Exclusive lock on `lock_path`; calls on_wait(holder pid) once if it has to wait."""
  os.makedirs(os.path.dirname(lock_path), exist_ok=True)
  with open(lock_path, 'a+') as lock:
    try:
      fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
      lock.seek(0)
      on_wait(lock.read().strip() or '?')
      fcntl.flock(lock, fcntl.LOCK_EX)
    lock.seek(0)
    lock.truncate()
    lock.write(str(os.getpid()))
    lock.flush()
    try:
      yield
    finally:
      lock.seek(0)
      lock.truncate()
      fcntl.flock(lock, fcntl.LOCK_UN)


def cancel_stale_executions(metadata_path: str) -> List[str]:
  """Marks executions left RUNNING by a killed run CANCELED; returns their node names.
  Call only while holding the pipeline's lock (then nothing else can be running)."""
  if not os.path.exists(metadata_path):
    return []
  from ml_metadata.proto import metadata_store_pb2  # pylint: disable=g-import-not-at-top
  from pipelines import summary  # pylint: disable=g-import-not-at-top

  store = summary.open_store(metadata_path, read_only=False)
  stale = [e for e in store.get_executions()
           if e.last_known_state == metadata_store_pb2.Execution.RUNNING]
  if not stale:
    return []
  node_type = store.get_context_type('node')
  names = [summary.node_name(store, e.id, node_type.id) for e in stale]
  for execution in stale:
    execution.last_known_state = metadata_store_pb2.Execution.CANCELED
    execution.custom_properties['tfzoo_note'].string_value = (
        'left running by an interrupted run; canceled by the next run')
  store.put_executions(stale)
  return names
