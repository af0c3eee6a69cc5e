"""TFX's Pusher with an executor whose filesystem push is atomic.

TFX's Pusher copies the SavedModel file by file into `<base>/<version>/` (saved_model.pb
last). TF Serving polls that directory, and a push interrupted half-way leaves a numbered
version without its graph behind, which the server keeps trying to load. Here the copy goes
to a hidden sibling directory first and is renamed into place in one step. Same inputs,
outputs and parameters as TFX's Pusher (its `model_blessing` may come from any evaluator).
"""
from tfx.components.pusher.component import Pusher
from tfx.dsl.components.base import executor_spec

from components.atomic_pusher import executor


class AtomicPusher(Pusher):
  EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)
