"""StatisticsGen's statistics, the curated schema and ExampleValidator's anomalies, read with
tensorflow_metadata's protos (no TFDV, no TensorFlow)."""
from __future__ import annotations

import dataclasses
import os
from typing import Dict, List, Optional, Tuple

from google.protobuf import text_format
from tensorflow_metadata.proto.v0 import anomalies_pb2, schema_pb2, statistics_pb2

SPLIT_PREFIX = 'Split-'
BYTES_PLACEHOLDER = '__BYTES_VALUE__'  # TFDV's top value for a value it does not decode


@dataclasses.dataclass
class FeatureStats:
  name: str
  kind: str  # 'numeric', 'categorical' or 'bytes'
  missing: float  # examples without the feature
  # numeric: (low, high, count) per equal-width bucket; categorical: (value, count), most first
  buckets: List[Tuple[float, float, float]] = dataclasses.field(default_factory=list)
  values: List[Tuple[str, float]] = dataclasses.field(default_factory=list)
  summary: Dict[str, float] = dataclasses.field(default_factory=dict)  # mean, min, max, ...


@dataclasses.dataclass
class SplitStats:
  split: str
  examples: int
  features: List[FeatureStats]


def _splits(uri: str) -> List[Tuple[str, str]]:
  if not os.path.isdir(uri):
    return []
  return [(name[len(SPLIT_PREFIX):], os.path.join(uri, name)) for name in sorted(os.listdir(uri))
          if name.startswith(SPLIT_PREFIX)]


def _feature(feature) -> FeatureStats:
  name = '.'.join(feature.path.step) or feature.name
  if feature.HasField('num_stats'):
    stats = feature.num_stats
    standard = next((h for h in stats.histograms
                     if h.type == statistics_pb2.Histogram.STANDARD), None)
    return FeatureStats(
        name=name, kind='numeric', missing=stats.common_stats.num_missing,
        buckets=[(b.low_value, b.high_value, b.sample_count) for b in standard.buckets]
        if standard else [],
        summary={'mean': stats.mean, 'std dev': stats.std_dev, 'min': stats.min,
                 'median': stats.median, 'max': stats.max, 'zeros': stats.num_zeros})
  if feature.HasField('string_stats'):
    stats = feature.string_stats
    values = [(v.value, v.frequency) for v in stats.top_values]
    if values and all(v == BYTES_PLACEHOLDER for v, _ in values):  # raw bytes (images)
      return FeatureStats(name=name, kind='bytes', missing=stats.common_stats.num_missing,
                          summary={'unique': stats.unique,
                                   'mean length': stats.avg_length})
    if not values:
      values = [(b.label, b.sample_count) for b in stats.rank_histogram.buckets]
    return FeatureStats(name=name, kind='categorical', missing=stats.common_stats.num_missing,
                        values=values, summary={'unique': stats.unique})
  stats = feature.bytes_stats  # an image domain's: sizes (TFDV counts no distinct values)
  summary = {'unique': stats.unique} if stats.unique else {}
  return FeatureStats(name=name, kind='bytes', missing=stats.common_stats.num_missing,
                      summary=dict(summary, **{'mean bytes': stats.avg_num_bytes,
                                               'min bytes': stats.min_num_bytes,
                                               'max bytes': stats.max_num_bytes}))


def statistics(uri: str) -> List[SplitStats]:
  """Per split of a StatisticsGen artifact: the row count and each feature's distribution."""
  found = []
  for split, path in _splits(uri):
    with open(os.path.join(path, 'FeatureStats.pb'), 'rb') as f:
      stats = statistics_pb2.DatasetFeatureStatisticsList.FromString(f.read())
    for dataset in stats.datasets[:1]:
      found.append(SplitStats(split=split, examples=dataset.num_examples,
                              features=[_feature(f) for f in dataset.features]))
  return found


@dataclasses.dataclass
class SchemaFeature:
  name: str
  type: str
  domain: str  # in words: 'integers 0 to 9', 'one of: other, mammal, bird', ''
  required: bool
  shape: str


def _domain(feature, schema) -> str:
  kind = feature.WhichOneof('domain_info')
  if kind == 'int_domain':
    d = feature.int_domain
    words = f'integers {d.min} to {d.max}' if d.HasField('min') and d.HasField('max') else ''
    return words + (' (categorical)' if d.is_categorical else '')
  if kind == 'float_domain':
    d = feature.float_domain
    bounds = [f'>= {d.min:g}'] if d.HasField('min') else []
    bounds += [f'<= {d.max:g}'] if d.HasField('max') else []
    return ' and '.join(bounds) or 'any float'
  if kind in ('string_domain', 'domain'):
    d = feature.string_domain if kind == 'string_domain' else next(
        (s for s in schema.string_domain if s.name == feature.domain), None)
    return 'one of: ' + ', '.join(d.value) if d is not None else feature.domain
  if kind == 'image_domain':
    return 'an encoded image'
  return ''


def schema(uri: str) -> List[SchemaFeature]:
  """The schema an ImportSchemaGen artifact (`schema.pbtxt`) holds, feature by feature."""
  with open(os.path.join(uri, 'schema.pbtxt'), encoding='utf-8') as f:
    parsed = text_format.Parse(f.read(), schema_pb2.Schema())
  features = []
  for feature in parsed.feature:
    required = feature.presence.min_fraction >= 1.0
    shape = ' x '.join(str(d.size) for d in feature.shape.dim) if feature.HasField('shape') \
        else ''
    features.append(SchemaFeature(
        name=feature.name, type=schema_pb2.FeatureType.Name(feature.type).lower(),
        domain=_domain(feature, parsed), required=required, shape=shape))
  return features


def anomalies(uri: Optional[str]) -> Dict[str, List[str]]:
  """{split: ['feature: what is wrong', ...]} from an ExampleValidator artifact; [] when clean."""
  found = {}
  for split, path in _splits(uri or ''):
    with open(os.path.join(path, 'SchemaDiff.pb'), 'rb') as f:
      diff = anomalies_pb2.Anomalies.FromString(f.read())
    lines = [f'{feature}: {info.description or info.short_description}'
             for feature, info in sorted(diff.anomaly_info.items())]
    if diff.HasField('dataset_anomaly_info'):
      info = diff.dataset_anomaly_info
      lines.append(f'the dataset: {info.description or info.short_description}')
    found[split] = lines
  return found
