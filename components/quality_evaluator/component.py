"""QualityEvaluator component: spec and constructor.

    QualityEvaluator(examples=..., model=..., baseline_model=..., module_file=...,
                     gates=[QualityGate('exact_match', bound=1.0, higher_is_better=True)])

TFMA compares a model's output with a label column, one example at a time. A translation
judged by exact string match, a reconstruction error, or generated images judged by another
model are not such metrics. This component calls the model module's

    evaluate_fn(model, examples, custom_config) -> {'metrics': {name: value},
                                                    'samples': {input: output}}

on the eval split (`model` is the served SavedModel loaded as TF Serving loads it, a
components.infra_validator.session_loader.ServingSession: `model.run(signature, **numpy inputs)
-> {output: numpy}`; `examples` the split's serialized tf.Examples; with a `reference_model`
input — a judge, e.g. the classifier that reads a GAN's digits — evaluate_fn also gets
`reference=` that SavedModel as a ServingSession too), checks each gate — an
absolute bound, and no worse than the baseline model by more than `max_regression`, as TFMA's
value and change thresholds do — and writes:

  evaluation  ModelEvaluation: quality_metrics.json (metrics, gates, samples, baseline metrics);
              every metric and gate also as custom properties in ML Metadata
              (`metric:<name>` = value, `gate:<name>` = threshold and outcome)
  blessing    ModelBlessing: BLESSED / NOT_BLESSED file and the `blessed`, `current_model`,
              `current_model_id` (and baseline) properties TFX's Evaluator writes, so TFX's
              Pusher and the baseline resolver read it exactly like an Evaluator blessing.
"""
from __future__ import annotations

import json
from typing import Any, Mapping, Optional, Sequence

from tfx import types
from tfx.dsl.components.base import base_component, executor_spec
from tfx.types import standard_artifacts
from tfx.types.component_spec import ChannelParameter, ComponentSpec, ExecutionParameter

from components.quality_evaluator import executor


class QualityEvaluatorSpec(ComponentSpec):
  """Inputs: examples, model, optional baseline; parameters: the module and the gates."""
  PARAMETERS = {
      executor.MODULE_FILE_KEY: ExecutionParameter(type=str),
      # Hash of the module's code: TFX keys the cache on parameter values, and the path alone
      # would not change when evaluate_fn does.
      executor.MODULE_FINGERPRINT_KEY: ExecutionParameter(type=str),
      executor.GATES_KEY: ExecutionParameter(type=str),  # JSON list of QualityGate
      executor.CUSTOM_CONFIG_KEY: ExecutionParameter(type=str),  # JSON
      executor.EXAMPLE_SPLIT_KEY: ExecutionParameter(type=str),
  }
  INPUTS = {
      'examples': ChannelParameter(type=standard_artifacts.Examples),
      'model': ChannelParameter(type=standard_artifacts.Model),
      'baseline_model': ChannelParameter(type=standard_artifacts.Model, optional=True),
      # A model the evaluation uses as an instrument (both candidate and baseline are judged
      # by it), e.g. the reference classifier for generated digits.
      'reference_model': ChannelParameter(type=standard_artifacts.Model, optional=True),
  }
  OUTPUTS = {
      'evaluation': ChannelParameter(type=standard_artifacts.ModelEvaluation),
      'blessing': ChannelParameter(type=standard_artifacts.ModelBlessing),
  }


class QualityEvaluator(base_component.BaseComponent):
  """Evaluates a model with its module's evaluate_fn and blesses it if every gate passes."""
  SPEC_CLASS = QualityEvaluatorSpec
  EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)

  def __init__(self, examples: types.BaseChannel, model: types.BaseChannel,
               module_file: str, module_fingerprint: str,
               gates: Sequence[executor.QualityGate],
               baseline_model: Optional[types.BaseChannel] = None,
               reference_model: Optional[types.BaseChannel] = None,
               custom_config: Optional[Mapping[str, Any]] = None,
               example_split: str = 'eval'):
    super().__init__(spec=QualityEvaluatorSpec(
        examples=examples, model=model, baseline_model=baseline_model,
        reference_model=reference_model,
        module_file=module_file, module_fingerprint=module_fingerprint,
        gates=json.dumps([g.to_json() for g in gates]),
        custom_config=json.dumps(dict(custom_config or {}), sort_keys=True),
        example_split=example_split,
        evaluation=types.Channel(type=standard_artifacts.ModelEvaluation),
        blessing=types.Channel(type=standard_artifacts.ModelBlessing)))
