"""The Trainer with our executor (components/resumable_trainer/executor.py)."""
from tfx.components import Trainer
from tfx.dsl.components.base import executor_spec

from components.resumable_trainer import executor


class ResumableTrainer(Trainer):
  """TFX's Trainer; its executor records what the training resumed and trained."""
  EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)
