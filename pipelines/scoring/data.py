"""What `tfzoo score` reads and writes around the pipeline: the user's CSV checked against the
model's features and staged for CsvExampleGen, and BulkInferrer's PredictionLogs turned into
predictions.csv. Checks import no TensorFlow, so bad input is refused in about a second.
"""
from __future__ import annotations

import collections
import csv
import dataclasses
import glob
import math
import os
from typing import Dict, List, Sequence

from components.image_example_gen import images as digit_images
from pipelines import datafile, registry

# Staged CSVs carry each row's number, so predictions come back in the file's order (Beam does
# not keep it); serving_default parses only the model's features and ignores it.
ROW_KEY = 'tfzoo_row'
FILENAME_KEY = digit_images.FILENAME_KEY
PREDICTIONS_FILE = 'predictions.csv'


def feature_types(spec: registry.ModelSpec) -> Dict[str, str]:
  """{feature: 'INT' | 'FLOAT' | 'BYTES'} as the model's curated schema declares them."""
  from google.protobuf import text_format  # pylint: disable=g-import-not-at-top
  from tensorflow_metadata.proto.v0 import schema_pb2  # pylint: disable=g-import-not-at-top
  with open(spec.source.schema_path, encoding='utf-8') as f:
    schema = text_format.Parse(f.read(), schema_pb2.Schema())
  declared = {f.name: schema_pb2.FeatureType.Name(f.type) for f in schema.feature}
  return {name: declared[name] for name in spec.features}


def _value_problem(value: str, kind: str) -> str:
  """'' when `value` is a valid `kind` value, else what is wrong, in words."""
  if not value.strip():
    return 'is empty'
  if kind == 'INT':
    try:
      int(value)
    except ValueError:
      return 'is not a whole number'
  if kind == 'FLOAT':
    try:
      if not math.isfinite(float(value)):
        return 'is not a finite number'
    except ValueError:
      return 'is not a number'
  return ''


def read_csv(spec: registry.ModelSpec, path: str) -> List[Dict[str, str]]:
  """The rows of a CSV to score; DataFileError unless its columns are exactly the model's
  features (the label is what is predicted, so a label column is refused, not ignored) and
  every value has the schema's type."""
  # The training rules' letters, not their lengths: the served word models take a shorter
  # word too (autocomplete completes three letters), as `tfzoo predict` sends them.
  datafile.check_csv(path, [dataclasses.replace(r, min_length=1) for r in spec.source.rules])
  with open(path, encoding='utf-8', newline='') as f:
    rows = [r for r in csv.reader(f) if r]
  header, expected = rows[0], list(spec.features)
  extra = [c for c in header if c not in expected]
  missing = [c for c in expected if c not in header]
  if extra or missing:
    what = '; '.join(part for part in (
        f'unexpected column{"s" * (len(extra) > 1)} {", ".join(extra)}' if extra else '',
        f'missing column{"s" * (len(missing) > 1)} {", ".join(missing)}' if missing else '')
        if part)
    raise datafile.DataFileError(
        f'{path}: {what}; {spec.name} scores rows of exactly {", ".join(expected)} '
        f'(without the label {spec.label})')
  types = feature_types(spec)
  result = []
  for number, row in enumerate(rows[1:], start=2):
    values = dict(zip(header, row))
    for name in expected:
      problem = _value_problem(values[name], types[name])
      if problem:
        raise datafile.DataFileError(f'{path}: line {number}, column {name!r}: '
                                     f'{values[name]!r} {problem}')
    result.append(values)
  return result


def stage_csv(spec: registry.ModelSpec, rows: Sequence[Dict[str, str]], path: str) -> None:
  """Writes `rows` for CsvExampleGen, which infers each column's type from its values: floats
  written with a decimal point (or `1` would arrive as an integer the model cannot parse), and
  the row number in ROW_KEY."""
  types = feature_types(spec)
  os.makedirs(os.path.dirname(path), exist_ok=True)
  partial = f'{path}.partial'
  with open(partial, 'w', encoding='utf-8', newline='') as f:
    writer = csv.writer(f)
    writer.writerow([ROW_KEY, *spec.features])
    for number, row in enumerate(rows, start=1):
      writer.writerow([number] + [repr(float(row[n])) if types[n] == 'FLOAT' else row[n].strip()
                                  for n in spec.features])
  os.replace(partial, path)


@dataclasses.dataclass
class Predictions:
  columns: List[str]
  rows: List[List[str]]
  classes: List[str]  # each row's class, for classifiers; [] otherwise

  def histogram(self) -> str:
    counts = collections.Counter(self.classes)
    return ', '.join(f'{name}: {counts[name]}' for name in sorted(counts))


def _feature_value(feature) -> str:
  kind = feature.WhichOneof('kind')
  values = list(getattr(feature, kind).value) if kind else []
  if not values:
    return ''
  value = values[0]
  return value.decode('utf-8', 'replace') if isinstance(value, bytes) else str(value)


def _prediction_columns(spec: registry.ModelSpec, outputs) -> List[str]:
  """The served outputs worth a column: the word (autocomplete, seq2seq), else the class and
  its probability, else the predicted value (named after the label)."""
  if 'translation' in outputs:
    return ['translation']
  if 'completion' in outputs:
    return ['completion', 'probability']
  if 'classes' in outputs:
    return ['class', 'probability']
  return [spec.label]


def read_predictions(spec: registry.ModelSpec, inference_uri: str, images: bool) -> Predictions:
  """BulkInferrer's PredictionLogs as rows: what was scored (the file's name, or the
  feature values), then the prediction; in the input's order."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from tensorflow_serving.apis import prediction_log_pb2  # pylint: disable=g-import-not-at-top
  files = sorted(glob.glob(os.path.join(inference_uri, 'prediction_logs*')))
  keyed, columns = [], None
  for record in tf.data.TFRecordDataset(files, compression_type='GZIP').as_numpy_iterator():
    log = prediction_log_pb2.PredictionLog.FromString(record).predict_log
    [request] = log.request.inputs.values()
    example = tf.train.Example.FromString(request.string_val[0]).features.feature
    outputs = {k: tf.make_ndarray(v)[0] for k, v in log.response.outputs.items()}
    columns = columns or _prediction_columns(spec, outputs)
    given = ([_feature_value(example[FILENAME_KEY])] if images
             else [_feature_value(example[n]) for n in spec.features])
    answer = []
    for column in columns:
      if column == 'probability':
        answer.append(f'{float(outputs["probabilities"].max()):.6f}')
      else:
        value = outputs[{'class': 'classes'}.get(column, column)]
        answer.append(value.decode('utf-8') if isinstance(value, bytes) else f'{float(value):.6g}')
    klass = outputs['classes'].decode('utf-8') if 'classes' in outputs else None
    order = given[0] if images else int(_feature_value(example[ROW_KEY]))
    keyed.append((order, given + answer, klass))
  keyed.sort(key=lambda item: item[0])
  return Predictions(
      columns=([FILENAME_KEY] if images else list(spec.features)) + (columns or []),
      rows=[row for _, row, _ in keyed],
      classes=[klass for _, _, klass in keyed if klass is not None])


def write_predictions(predictions: Predictions, path: str) -> None:
  """predictions.csv, complete or not at all."""
  partial = f'{path}.partial'
  with open(partial, 'w', encoding='utf-8', newline='') as f:
    writer = csv.writer(f)
    writer.writerow(predictions.columns)
    writer.writerows(predictions.rows)
  os.replace(partial, path)
