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
from typing import Callable, Iterator, List, Optional

from ml_metadata.proto import metadata_store_pb2

from pipelines.mlmd import summary


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


def cancel_stale_executions(config, pipeline: Optional[str] = None,
                            cancel: bool = True) -> List[str]:
  """Marks executions left RUNNING by a killed run CANCELED; returns their node names.
  Call only while holding the pipeline's lock (then nothing else can be running).

  `config`: the store's ConnectionConfig, writable (metadata.connection_config(...,
  read_only=False)); `pipeline`: only that pipeline's executions (a store shared by several).
  cancel=False only names them: in a store shared by several machines (MySQL) the lock is
  this machine's, and a RUNNING execution may be another machine's live run.
  """
  if config.HasField('sqlite') and not os.path.exists(config.sqlite.filename_uri):
    return []  # nothing recorded yet (and no empty store made before the pipeline makes one)
  store = summary.open_store(config)
  if pipeline is None:
    executions = store.get_executions()
  else:
    context = summary.pipeline_context(store, pipeline)
    executions = store.get_executions_by_context(context.id) if context else []
  stale = [e for e in executions
           if e.last_known_state == metadata_store_pb2.Execution.RUNNING]
  if not stale:
    return []
  node_type = store.get_context_type('node')
  names = [summary.node_name(store, e.id, node_type.id) for e in stale]
  if not cancel:
    return names
  for execution in stale:
    execution.last_known_state = metadata_store_pb2.Execution.CANCELED
    execution.custom_properties['tfzoo_note'].string_value = (
        'left running by an interrupted run; canceled by the next run')
  store.put_executions(stale)
  return names
