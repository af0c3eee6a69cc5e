"""TFX's StatisticsGen with an executor that computes the statistics in its own process when
Beam would run them there anyway (the default local runner, in memory, one worker), and on
Beam otherwise. Same inputs, outputs and parameters as TFX's component; only the executor
differs (executor.py says when each path runs and why their results are the same).
"""
from tfx.components.statistics_gen.component import StatisticsGen
from tfx.dsl.components.base import executor_spec

from components.local_statistics_gen import executor


class LocalStatisticsGen(StatisticsGen):
  EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(executor.Executor)
