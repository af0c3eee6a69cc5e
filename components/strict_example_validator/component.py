"""TFX's ExampleValidator with an executor that fails the execution on any anomaly.

TFX's ExampleValidator records anomalies (and a per-split `blessed` property) but nothing
downstream reads them: Transform and Trainer run on bad data all the same. Same inputs, same
outputs, same parameters as TFX's component; only the executor differs.
"""
from tfx.components.example_validator.component import ExampleValidator
from tfx.dsl.components.base import executor_spec

from components.strict_example_validator import executor


class StrictExampleValidator(ExampleValidator):
  EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)
