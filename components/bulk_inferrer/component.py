"""TFX's BulkInferrer with an executor that can write string outputs (see executor.py).

Same inputs, outputs and parameters as TFX's BulkInferrer; use `.with_id('BulkInferrer')`.
"""
from tfx.components.bulk_inferrer.component import BulkInferrer
from tfx.dsl.components.base import executor_spec

from components.bulk_inferrer import executor


class StringOutputBulkInferrer(BulkInferrer):
  EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(executor.Executor)
