"""TFMA metrics of our own, named like the Keras metrics they replace (pipelines/gating.py).

`SparseCategoricalAccuracy`: the share of examples whose top class is the label, read off the
multi-class confusion matrix the Evaluator computes anyway for the report's plot. TFMA runs the
two as one pass (identical computations are de-duplicated), where TFMA's wrapper of the Keras
metric of the same name ran a second one: a TensorFlow call per batch of each slice and an
autograph conversion of Keras's update code in every run, half of mlp's Evaluator run alone
(16.3 s against 8.0 s, docs/benchmarks.md). Same value: argmax of the probabilities against the
label, ties to the lower class, each example counted once.
"""
from __future__ import annotations

from typing import Dict, List, Optional

from tensorflow_model_analysis.metrics import metric_types, metric_util
from tensorflow_model_analysis.metrics import multi_class_confusion_matrix_metrics as matrices
from tensorflow_model_analysis.proto import config_pb2

SPARSE_CATEGORICAL_ACCURACY = 'sparse_categorical_accuracy'
# The confusion matrix's only threshold: an example counts as predicted when its top
# probability is over 0 (always, for a softmax), as MultiClassConfusionMatrixPlot's default.
_THRESHOLD = 0.0


class SparseCategoricalAccuracy(metric_types.Metric):
  """Top-1 accuracy of a classifier's probabilities against an integer label."""

  def __init__(self, name: str = SPARSE_CATEGORICAL_ACCURACY):
    super().__init__(metric_util.merge_per_key_computations(_accuracy_computations), name=name)


def accuracy_of(matrix: Dict[matrices.MatrixEntryKey, float]) -> Optional[float]:
  """Correct / all of one confusion matrix ({(actual, predicted): weight}); None when empty."""
  total = sum(matrix.values())
  if not total:
    return None
  return sum(weight for key, weight in matrix.items()
             if key.actual_class_id == key.predicted_class_id) / total


def _accuracy_computations(
    name: str = SPARSE_CATEGORICAL_ACCURACY,
    eval_config: Optional[config_pb2.EvalConfig] = None,
    model_name: str = '',
    output_name: str = '',
    example_weighted: bool = False) -> metric_types.MetricComputations:
  key = metric_types.MetricKey(name=name, model_name=model_name, output_name=output_name,
                               example_weighted=example_weighted)
  computations: List = matrices.multi_class_confusion_matrices(
      thresholds=[_THRESHOLD], eval_config=eval_config, model_name=model_name,
      output_name=output_name, example_weighted=example_weighted)
  matrices_key = computations[-1].keys[-1]

  def result(metrics: Dict[metric_types.MetricKey, matrices.Matrices]
             ) -> Dict[metric_types.MetricKey, float]:
    value = accuracy_of(metrics[matrices_key].get(_THRESHOLD, {}))
    return {key: float('nan') if value is None else value}

  computations.append(metric_types.DerivedMetricComputation(keys=[key], result=result))
  return computations
