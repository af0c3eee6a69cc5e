"""Validates statistics against the curated schema exactly as TFX does, then refuses the data
if any split has an anomaly, with one line that names each column and its problem."""
from __future__ import annotations

from typing import Any, Dict, List

from tensorflow_metadata.proto.v0 import anomalies_pb2
from tfx.components.example_validator import executor as tfx_executor
from tfx.components.example_validator import labels

from components.strict_example_validator.errors import DataAnomaliesError


def describe(anomalies: anomalies_pb2.Anomalies) -> List[str]:
  """'column "fur": Out-of-range values (Unexpectedly large value: 7.)' for each anomaly."""
  problems = []
  if anomalies.HasField('dataset_anomaly_info'):
    info = anomalies.dataset_anomaly_info
    problems.append(f'dataset: {_reasons(info)}')
  for column, info in sorted(anomalies.anomaly_info.items()):
    problems.append(f'column {column!r}: {_reasons(info)}')
  return problems


# TFDV's wording for a problem a CSV user sees in other terms.
_PLAIN = {
    'SCHEMA_MISSING_COLUMN': 'the column is missing',
    'SCHEMA_NEW_COLUMN': 'the schema has no such column',
    'FEATURE_TYPE_LOW_FRACTION_PRESENT': 'some rows have no value',
    'FEATURE_TYPE_LOW_NUMBER_PRESENT': 'some rows have no value',
    'INVALID_FEATURE_SHAPE': 'some rows have no value',
}
_MAX_DETAIL = 100


def _reasons(info: anomalies_pb2.AnomalyInfo) -> str:
  reasons = []
  for reason in info.reason:
    kind = anomalies_pb2.AnomalyInfo.Type.Name(reason.type)
    detail = reason.description.rstrip('.')
    if kind in _PLAIN:
      text = f'{_PLAIN[kind]} ({reason.short_description})'
    elif detail and len(detail) <= _MAX_DETAIL:
      text = f'{reason.short_description} ({detail})'
    else:
      text = reason.short_description
    if text not in reasons:
      reasons.append(text)
  return '; '.join(reasons) or info.short_description or info.description


class Executor(tfx_executor.Executor):
  """ExampleValidator's executor; raises DataAnomaliesError after writing the anomalies."""

  def Do(self, input_dict: Dict[str, List[Any]], output_dict: Dict[str, List[Any]],
         exec_properties: Dict[str, Any]):
    self._found: Dict[str, anomalies_pb2.Anomalies] = {}
    result = super().Do(input_dict, output_dict, exec_properties)
    problems = []
    for split, anomalies in self._found.items():
      problems += [f'{p} [{split} split]' for p in describe(anomalies)]
    if problems:
      # De-duplicate a problem both splits share (the CSV models read one file twice).
      unique = list(dict.fromkeys(p.rsplit(' [', 1)[0] for p in problems))
      # No path in the message: TFX deletes a failed execution's outputs.
      raise DataAnomaliesError(f'data does not match the schema: {"; ".join(unique)}')
    return result

  def _Validate(self, inputs: Dict[str, Any], outputs: Dict[str, Any]):
    anomalies = super()._Validate(inputs, outputs)
    if anomalies.anomaly_info or anomalies.HasField('dataset_anomaly_info'):
      split = outputs[labels.SCHEMA_DIFF_PATH].rstrip('/').rsplit('Split-', 1)[-1]
      self._found[split] = anomalies
    return anomalies
