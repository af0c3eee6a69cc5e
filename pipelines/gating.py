"""The spec's gates as TFMA's EvalConfig, by which TFX's Evaluator blesses a model
(pipelines/factory.py)."""
from __future__ import annotations

from google.protobuf import text_format
import tensorflow_model_analysis as tfma
from tensorflow_metadata.proto.v0 import schema_pb2

from models.common.features import TRANSFORM_SIGNATURE, transformed_name
from pipelines import registry

# Gate metrics computed by our own TFMA metric rather than TFMA's wrapper of the Keras metric of
# the same name (pipelines/tfma_metrics.py): class name -> module.
OWN_METRICS = {'SparseCategoricalAccuracy': 'pipelines.tfma_metrics'}


def label_slice_key(spec: registry.ModelSpec) -> str:
  """The feature TFMA slices classes on: the raw label column when the examples hold it,
  else Transform's label (autocomplete's `next` is made from the word: `next_xf`, a
  vocabulary id). A slicing spec that matches no slice fails TFMA's validation."""
  with open(spec.source.schema_path, encoding='utf-8') as f:
    schema = text_format.Parse(f.read(), schema_pb2.Schema())
  return spec.label if spec.label in {f.name for f in schema.feature} \
      else transformed_name(spec.label)


def eval_config(spec: registry.ModelSpec) -> tfma.EvalConfig:
  """Gates from the spec: an absolute bound and 'no worse than the last blessed model'."""
  metrics = [tfma.MetricConfig(class_name='ExampleCount')]
  for gate in spec.gates:
    direction = (tfma.MetricDirection.HIGHER_IS_BETTER if gate.higher_is_better
                 else tfma.MetricDirection.LOWER_IS_BETTER)
    bound = {'lower_bound' if gate.higher_is_better else 'upper_bound': {'value': gate.bound}}
    # The change threshold compares candidate - baseline; allow a tiny slack so an identical
    # retrain is not refused for float noise.
    slack = max(gate.max_regression, 1e-9)
    threshold = tfma.MetricThreshold(
        value_threshold=tfma.GenericValueThreshold(**bound),
        change_threshold=tfma.GenericChangeThreshold(
            direction=direction,
            absolute={'value': -slack if gate.higher_is_better else slack}))
    # On the overall slice only: a MetricConfig's plain `threshold` would gate every slice.
    thresholds = [tfma.PerSliceMetricThreshold(slicing_specs=[tfma.SlicingSpec()],
                                               threshold=threshold)]
    if gate.per_class_bound is not None and spec.task == 'classification':
      thresholds.append(tfma.PerSliceMetricThreshold(
          slicing_specs=[tfma.SlicingSpec(feature_keys=[label_slice_key(spec)])],
          threshold=tfma.MetricThreshold(value_threshold=tfma.GenericValueThreshold(
              lower_bound={'value': gate.per_class_bound}))))
    metrics.append(tfma.MetricConfig(class_name=gate.metric,
                                     module=OWN_METRICS.get(gate.metric, ''),
                                     per_slice_thresholds=thresholds))
  prediction_key = 'probabilities' if spec.task == 'classification' else spec.label
  if spec.label_via_transform:
    model_spec = tfma.ModelSpec(
        signature_name='serving_default', label_key=transformed_name(spec.label),
        prediction_key=prediction_key, preprocessing_function_names=[TRANSFORM_SIGNATURE])
  else:
    model_spec = tfma.ModelSpec(signature_name='serving_default', label_key=spec.label,
                                prediction_key=prediction_key)
  slicing_specs = [tfma.SlicingSpec()]
  if spec.task == 'classification':
    # Per class: the gate metrics on each label value's slice (a class's recall), and the
    # confusion matrix the report draws.
    slicing_specs.append(tfma.SlicingSpec(feature_keys=[label_slice_key(spec)]))
    metrics.append(tfma.MetricConfig(class_name='MultiClassConfusionMatrixPlot'))
  return tfma.EvalConfig(
      model_specs=[model_spec],
      slicing_specs=slicing_specs,
      metrics_specs=[tfma.MetricsSpec(metrics=metrics)])
