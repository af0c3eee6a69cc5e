"""TFX Evaluator (TFMA) results read with protobuf alone.

TFMA's own readers (`tfma.load_eval_result`, `load_validation_result`) import the whole of TFMA
and TensorFlow (about 10 s); its result files are TFRecords of three protos
(MetricsForSlice, PlotsForSlice, ValidationResult) and a JSON EvalConfig, which this module
reads directly. The proto modules are loaded from TFMA's package without running its
`__init__`; a later `import tensorflow_model_analysis` in the same process reuses them.
"""
from __future__ import annotations

import dataclasses
import importlib.util
import json
import os
import sys
import types
from typing import Dict, List, Optional, Tuple

from google.protobuf import json_format

from pipelines.artifacts.tfrecord import read_all

_PACKAGE = 'tensorflow_model_analysis'
_PROTOS = ('config_pb2', 'metrics_for_slice_pb2', 'validation_result_pb2')
CONFUSION_MATRIX_PLOT = 'multi_class_confusion_matrix_plot'
OVERALL = ''  # the overall slice's name


def _protos() -> Dict[str, types.ModuleType]:
  """TFMA's proto modules, imported as TFMA names them, without TFMA's package __init__."""
  names = [f'{_PACKAGE}.proto.{name}' for name in _PROTOS]
  if all(name in sys.modules for name in names):
    return {short: sys.modules[name] for short, name in zip(_PROTOS, names)}
  spec = importlib.util.find_spec(_PACKAGE)
  if spec is None or not spec.submodule_search_locations:
    raise ImportError('tensorflow_model_analysis is not installed')
  proto_dir = os.path.join(list(spec.submodule_search_locations)[0], 'proto')
  placeholders = [name for name in (_PACKAGE, f'{_PACKAGE}.proto') if name not in sys.modules]
  for name in placeholders:  # empty parents, so the pb2s import each other by their names
    sys.modules[name] = types.ModuleType(name)
    sys.modules[name].__path__ = []
  try:
    for short, name in zip(_PROTOS, names):
      if name not in sys.modules:
        module_spec = importlib.util.spec_from_file_location(
            name, os.path.join(proto_dir, f'{short}.py'))
        module = importlib.util.module_from_spec(module_spec)
        sys.modules[name] = module
        module_spec.loader.exec_module(module)
  finally:
    for name in placeholders:  # the real packages load as usual when TFMA is imported
      del sys.modules[name]
  return {short: sys.modules[name] for short, name in zip(_PROTOS, names)}


@dataclasses.dataclass
class Gate:
  """One thresholded metric on the overall slice, as the Evaluator judged it."""
  key: str
  value: Optional[float]
  threshold: str  # in words: '>= 0.99, change vs blessed baseline -0.002'
  passed: bool
  baseline: Optional[float] = None  # the blessed baseline's value, when there was one
  lower_bound: Optional[float] = None
  upper_bound: Optional[float] = None
  allowed_change: Optional[float] = None  # candidate - baseline must be >= (or <=) this


@dataclasses.dataclass
class Evaluation:
  metrics: Dict[str, Dict[str, float]]  # slice name -> metric -> the candidate's value
  baseline: Dict[str, Dict[str, float]]  # the same for the baseline model, if any
  gates: List[Gate]
  validation_ok: Optional[bool]
  confusion: Dict[str, Dict[Tuple[int, int], float]]  # slice -> (actual, predicted) -> count
  label_feature: Optional[str] = None  # the feature the per-class slices are on

  def per_class(self, metric: str) -> Dict[str, float]:
    """{label value: metric on that slice}, in the label's order."""
    if not self.label_feature:
      return {}
    prefix = self.label_feature + '='
    found = {name[len(prefix):]: values[metric] for name, values in self.metrics.items()
             if name.startswith(prefix) and metric in values}
    return dict(sorted(found.items(), key=lambda kv: _order(kv[0])))


def _order(value: str):
  return (0, int(value), '') if value.lstrip('-').isdigit() else (1, 0, value)


def slice_name(slice_key) -> str:
  """'' for the overall slice, else 'feature=value' (joined by ', ' when crossed)."""
  parts = []
  for key in slice_key.single_slice_keys:
    kind = key.WhichOneof('kind')
    value = getattr(key, kind) if kind else ''
    if isinstance(value, bytes):
      value = value.decode('utf-8', 'replace')
    elif isinstance(value, float):
      value = f'{value:g}'
    parts.append(f'{key.column}={value}')
  return ', '.join(parts)


def metric_name(class_name: str) -> str:
  """TFMA names a metric by its Keras config name: SparseCategoricalAccuracy ->
  sparse_categorical_accuracy."""
  out = []
  for i, ch in enumerate(class_name):
    if ch.isupper() and i and not class_name[i - 1].isupper():
      out.append('_')
    out.append(ch.lower())
  return ''.join(out)


def load_config(evaluation_uri: str):
  with open(os.path.join(evaluation_uri, 'eval_config.json'), encoding='utf-8') as f:
    written = json.load(f)
  return json_format.ParseDict(written.get('evalConfig', {}), _protos()['config_pb2'].EvalConfig(),
                               ignore_unknown_fields=True)


def _overall_threshold(metric):
  """The threshold gating the overall slice: `threshold`, or a per-slice one on it."""
  if metric.HasField('threshold'):
    return metric.threshold
  for per_slice in metric.per_slice_thresholds:
    if any(not s.feature_keys and not s.feature_values for s in per_slice.slicing_specs):
      return per_slice.threshold
  return None


def _class_threshold(metric) -> Tuple[Optional[str], Optional[float]]:
  """(label feature, lower bound) of a threshold on every label value's slice, if any."""
  for per_slice in metric.per_slice_thresholds:
    for spec in per_slice.slicing_specs:
      bound = per_slice.threshold.value_threshold
      if len(spec.feature_keys) == 1 and not spec.feature_values and bound.HasField(
          'lower_bound'):
        return spec.feature_keys[0], bound.lower_bound.value
  return None, None


def _class_gate(name: str, feature: str, bound: float, metrics, failures) -> Gate:
  """The per-class gate as one check: its worst class, and the classes that failed."""
  prefix = feature + '='
  values = {s: m[name] for s, m in metrics.items() if s.startswith(prefix) and name in m}
  failed = sorted(s for s, key in failures if key == name and s.startswith(prefix))
  worst = min(values, key=values.get) if values else None
  words = f'>= {bound:g} for every {feature}'
  if failed:
    words += f'; below it: {", ".join(f"{s} ({values[s]:.4g})" for s in failed if s in values)}'
  elif worst:
    words += f'; worst {worst}'
  return Gate(key=f'{name} per class', value=values[worst] if worst else None, threshold=words,
              passed=not failed, lower_bound=bound)


def describe(threshold) -> str:
  parts = []
  value = threshold.value_threshold
  if value.HasField('lower_bound'):
    parts.append(f'>= {value.lower_bound.value:g}')
  if value.HasField('upper_bound'):
    parts.append(f'<= {value.upper_bound.value:g}')
  change = threshold.change_threshold
  if change.HasField('absolute'):
    parts.append(f'change vs blessed baseline {change.absolute.value:+g}')
  return ', '.join(parts)


def load(evaluation_uri: str) -> Evaluation:
  """Everything the Evaluator wrote under `evaluation_uri`."""
  protos = _protos()
  config = load_config(evaluation_uri)
  baseline_name = next((m.name for m in config.model_specs if m.is_baseline), None)
  metrics: Dict[str, Dict[str, float]] = {}
  baseline: Dict[str, Dict[str, float]] = {}
  for record in read_all(evaluation_uri, 'metrics'):
    per_slice = protos['metrics_for_slice_pb2'].MetricsForSlice.FromString(record)
    name = slice_name(per_slice.slice_key)
    for item in per_slice.metric_keys_and_values:
      key = item.key
      if key.is_diff or key.HasField('sub_key') or not item.value.HasField('double_value'):
        continue
      into = baseline if baseline_name and key.model_name == baseline_name else metrics
      into.setdefault(name, {})[key.name] = item.value.double_value.value

  confusion: Dict[str, Dict[Tuple[int, int], float]] = {}
  for record in read_all(evaluation_uri, 'plots'):
    per_slice = protos['metrics_for_slice_pb2'].PlotsForSlice.FromString(record)
    for item in per_slice.plot_keys_and_values:
      if (item.key.name != CONFUSION_MATRIX_PLOT or
          (baseline_name and item.key.model_name == baseline_name)):
        continue
      cells = confusion.setdefault(slice_name(per_slice.slice_key), {})
      for matrix in item.value.multi_class_confusion_matrix_at_thresholds.matrices[:1]:
        for entry in matrix.entries:
          cells[(entry.actual_class_id, entry.predicted_class_id)] = entry.num_weighted_examples

  validation_ok, failures = None, set()
  for record in read_all(evaluation_uri, 'validations'):
    result = protos['validation_result_pb2'].ValidationResult.FromString(record)
    validation_ok = result.validation_ok
    for per_slice in result.metric_validations_per_slice:
      for failure in per_slice.failures:
        failures.add((slice_name(per_slice.slice_key), failure.metric_key.name))

  gates = []
  for metrics_spec in config.metrics_specs:
    for metric in metrics_spec.metrics:
      threshold = _overall_threshold(metric)
      if threshold is None:
        continue
      name = metric_name(metric.class_name)
      value_bound, change = threshold.value_threshold, threshold.change_threshold
      gates.append(Gate(
          key=name, value=metrics.get(OVERALL, {}).get(name), threshold=describe(threshold),
          passed=(OVERALL, name) not in failures, baseline=baseline.get(OVERALL, {}).get(name),
          lower_bound=(value_bound.lower_bound.value if value_bound.HasField('lower_bound')
                       else None),
          upper_bound=(value_bound.upper_bound.value if value_bound.HasField('upper_bound')
                       else None),
          allowed_change=change.absolute.value if change.HasField('absolute') else None))
      feature, bound = _class_threshold(metric)
      if feature is not None:
        gates.append(_class_gate(name, feature, bound, metrics, failures))
  label_feature = next((s.feature_keys[0] for s in config.slicing_specs
                        if len(s.feature_keys) == 1), None)
  return Evaluation(metrics=metrics, baseline=baseline, gates=gates,
                    validation_ok=validation_ok, confusion=confusion,
                    label_feature=label_feature)
