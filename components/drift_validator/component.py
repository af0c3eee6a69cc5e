"""TFX's DistributionValidator with an executor that stops the run on drift, and one more
parameter: `accept_drift` (--accept-drift), recorded on the execution in ML Metadata.

Why DistributionValidator and not ExampleValidator's drift comparators: ExampleValidator takes
the statistics and the schema only, so its comparators have nothing to compare with in a TFX
pipeline (TFDV's `previous_statistics` is never passed); DistributionValidator takes the
baseline statistics as an input, which a resolver finds through ML Metadata.
"""
from __future__ import annotations

from google.protobuf import text_format
from tfx import types
from tfx.components.distribution_validator.component import DistributionValidator
from tfx.dsl.components.base import base_component, executor_spec
from tfx.proto import distribution_validator_pb2
from tfx.types import component_spec, standard_artifacts, standard_component_specs
from tfx.utils import json_utils

from components.drift_validator import executor, keys


class DriftValidatorSpec(standard_component_specs.DistributionValidatorSpec):
  PARAMETERS = {
      **standard_component_specs.DistributionValidatorSpec.PARAMETERS,
      keys.ACCEPT_DRIFT: component_spec.ExecutionParameter(type=int, optional=True),
  }
  # No baseline (no served model yet) is a valid input: the validator says so and passes.
  INPUTS = {
      **standard_component_specs.DistributionValidatorSpec.INPUTS,
      standard_component_specs.BASELINE_STATISTICS_KEY: component_spec.ChannelParameter(
          type=standard_artifacts.ExampleStatistics, optional=True),
  }


class DriftValidator(DistributionValidator):
  SPEC_CLASS = DriftValidatorSpec
  EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)

  def __init__(self, statistics, baseline_statistics,
               config: distribution_validator_pb2.DistributionValidatorConfig,
               accept_drift: bool = False):
    specs = standard_component_specs
    spec = DriftValidatorSpec(**{
        specs.STATISTICS_KEY: statistics,
        specs.BASELINE_STATISTICS_KEY: baseline_statistics,
        specs.DISTRIBUTION_VALIDATOR_CONFIG_KEY: config,
        specs.INCLUDE_SPLIT_PAIRS_KEY: json_utils.dumps(None),  # each split with its own
        # Only when set: a run without the flag keeps the cache key it always had.
        keys.ACCEPT_DRIFT: 1 if accept_drift else None,
        specs.ANOMALIES_KEY: types.Channel(type=standard_artifacts.ExampleAnomalies)})
    base_component.BaseComponent.__init__(self, spec=spec)


def load_config(path: str) -> distribution_validator_pb2.DistributionValidatorConfig:
  """A dataset's drift thresholds (data/schemas/<dataset>/drift.pbtxt, text format)."""
  with open(path, encoding='utf-8') as f:
    return text_format.Parse(f.read(), distribution_validator_pb2.DistributionValidatorConfig())
