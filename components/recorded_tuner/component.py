"""The Tuner with our executor (components/recorded_tuner/executor.py)."""
from tfx.components import Tuner
from tfx.dsl.components.base import executor_spec

from components.recorded_tuner import executor


class RecordedTuner(Tuner):
  """TFX's Tuner; its executor records each trial and the choice in ML Metadata."""
  EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)
