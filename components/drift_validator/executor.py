"""Compares the statistics with the served model's training statistics exactly as TFX's
DistributionValidator does, then refuses drifted data with one line naming each feature, its
distance and its threshold, unless `accept_drift` says to train on it anyway. The verdict and
the distances are recorded on the anomalies artifact."""
from __future__ import annotations

import dataclasses
import os
from typing import Any, Dict, Iterator, List, Tuple

from tensorflow_metadata.proto.v0 import anomalies_pb2
from tfx.components.distribution_validator import executor as tfx_executor
from tfx.types import standard_component_specs

from components.drift_validator import keys
from components.drift_validator.errors import DataDriftError

_DISTANCE = {
    anomalies_pb2.DriftSkewInfo.Measurement.L_INFTY: 'L-infinity distance',
    anomalies_pb2.DriftSkewInfo.Measurement.JENSEN_SHANNON_DIVERGENCE:
        'Jensen-Shannon divergence',
    anomalies_pb2.DriftSkewInfo.Measurement.NORMALIZED_ABSOLUTE_DIFFERENCE:
        'normalized absolute difference',
}


@dataclasses.dataclass(frozen=True)
class Measurement:
  split: str  # the split pair's first split (each split is compared with the same split)
  feature: str
  distance: str
  value: float
  threshold: float

  @property
  def drifted(self) -> bool:
    return self.value > self.threshold

  def format(self) -> str:
    return (f"feature {self.feature!r}: {self.distance} {self.value:.3g} "
            f"{'>' if self.drifted else '<='} {self.threshold:g}")


def _split_pairs(anomalies_uri: str) -> Iterator[Tuple[str, anomalies_pb2.Anomalies]]:
  """(the split pair's first split, its SchemaDiff.pb) for each pair, each file read once."""
  for name in sorted(os.listdir(anomalies_uri)):
    if name.startswith('SplitPair-'):
      with open(os.path.join(anomalies_uri, name, tfx_executor.DEFAULT_FILE_NAME), 'rb') as f:
        yield name[len('SplitPair-'):].split('_', 1)[0], anomalies_pb2.Anomalies.FromString(
            f.read())


def _measurements(diffs) -> List[Measurement]:
  """Every distance TFDV measured, per split pair."""
  return [Measurement(split=split, feature='.'.join(info.path.step),
                      distance=_DISTANCE.get(m.type, 'distance'), value=m.value,
                      threshold=m.threshold)
          for split, diff in diffs for info in diff.drift_skew_info
          for m in info.drift_measurements]


def _uncompared(diffs) -> List[str]:
  """Configured features TFDV could not compare (absent, or the wrong kind of statistics)."""
  return sorted({feature for _, diff in diffs for feature, info in diff.anomaly_info.items()
                 if any(r.type == anomalies_pb2.AnomalyInfo.STATS_NOT_AVAILABLE
                        for r in info.reason)})


def _one_line(found: List[Measurement]) -> str:
  """Each feature once, its largest distance (the CSV models' two splits are the same rows);
  drifted features first, and the splits named when the drift is in some of them only."""
  splits = sorted({m.split for m in found})
  parts = []
  for feature in sorted({m.feature for m in found},
                        key=lambda f: (not any(m.drifted for m in found if m.feature == f), f)):
    mine = [m for m in found if m.feature == feature]
    drifted_in = sorted({m.split for m in mine if m.drifted})
    where = (f' [{", ".join(drifted_in)} split]'
             if drifted_in and drifted_in != splits else '')
    parts.append(max(mine, key=lambda m: m.value).format() + where)
  return '; '.join(parts)


class Executor(tfx_executor.Executor):
  """DistributionValidator's executor; raises DataDriftError after writing the anomalies."""

  def Do(self, input_dict: Dict[str, List[Any]], output_dict: Dict[str, List[Any]],
         exec_properties: Dict[str, Any]):
    accept = bool(exec_properties.get(keys.ACCEPT_DRIFT))
    result = super().Do(input_dict, output_dict, exec_properties)
    [recorded] = result.output_artifacts[standard_component_specs.ANOMALIES_KEY].artifacts
    baseline = input_dict.get(standard_component_specs.BASELINE_STATISTICS_KEY) or []
    properties = recorded.custom_properties
    properties[keys.BASELINE].string_value = baseline[0].uri if baseline else ''
    if not baseline:
      properties[keys.VERDICT].string_value = keys.NO_BASELINE
      properties[keys.DETAILS].string_value = ''
      return result
    diffs = list(_split_pairs(output_dict[standard_component_specs.ANOMALIES_KEY][0].uri))
    uncompared = _uncompared(diffs)
    if uncompared:
      # A threshold that measures nothing would pass everything: a config error, not a pass.
      raise DataDriftError(f'drift could not be measured for {", ".join(map(repr, uncompared))}'
                           ' (no such feature, or no statistics of the kind its comparator '
                           'needs); fix the drift thresholds')
    found = _measurements(diffs)
    line = _one_line(found)
    if any(m.drifted for m in found) and not accept:
      raise DataDriftError(f"data drifted from the served model's training data: {line}; "
                           'ARGS=--accept-drift (tfzoo run --accept-drift) trains on it anyway')
    properties[keys.VERDICT].string_value = (
        keys.ACCEPTED if any(m.drifted for m in found) else keys.PASSED)
    properties[keys.DETAILS].string_value = line
    return result
