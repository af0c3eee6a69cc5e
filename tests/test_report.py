"""The report's readers and views, each on small inputs made here: the readers on files written
by TensorFlow's own writers and by tensorflow_metadata's protos, the views on hand-made
pipeline views (a pushed pipeline, one whose latest run failed, one never run). The whole
report, from real pipeline runs and in a browser, is tested in test_e2e_csv / test_e2e_mnist."""
from __future__ import annotations

import os
import re

import pytest
from tensorflow_metadata.proto.v0 import anomalies_pb2, statistics_pb2

from pipelines import registry
from pipelines.artifacts import data, evaluation, tfrecord, training
from pipelines.mlmd import pushes, summary
from pipelines.report import charts, collect, index, model_sections, pipeline_page, run_sections

MANIFEST = {'git_commit': '0123456789abcdef', 'git_dirty': True, 'seed': 42,
            'requirements_lock_sha256': 'f' * 64,
            'versions': {'tensorflow': '2.16.2', 'tfx': '1.16.0', 'python': '3.10.13'}}


def test_tfrecord_reader_reads_what_tensorflow_writes(tmp_path):
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  path = str(tmp_path / 'metrics-00000-of-00001.tfrecord')
  records = [b'', b'one', bytes(range(256)) * 40]
  with tf.io.TFRecordWriter(path) as writer:
    for record in records:
      writer.write(record)
  assert list(tfrecord.read_records(path)) == records
  assert list(tfrecord.read_all(str(tmp_path), 'metrics')) == records
  with open(path, 'rb') as f:
    whole = f.read()
  with open(path, 'wb') as f:
    f.write(whole[:-3])
  with pytest.raises(tfrecord.RecordError, match='truncated'):
    list(tfrecord.read_records(path))


def test_training_scalars_as_keras_logs_them(tmp_path):
  """Per-epoch scalars (epoch_*) of train/ and validation/, histograms and batch scalars left
  out, an epoch logged twice (a resumed run) counted once."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  for split, losses in (('train', [2.0, 1.0, 0.5]), ('validation', [2.5, 1.5, 0.75])):
    with tf.summary.create_file_writer(str(tmp_path / split)).as_default():
      for step, loss in enumerate(losses):
        tf.summary.scalar('epoch_loss', loss, step=step)
        tf.summary.scalar('batch_loss', loss, step=step)
        tf.summary.histogram('kernel/histogram', [1.0, 2.0], step=step)
        if split == 'train':
          tf.summary.scalar('epoch_learning_rate', 1e-3 / (step + 1), step=step)
      tf.summary.scalar('epoch_loss', losses[-1], step=len(losses) - 1)
  curves = training.scalars(str(tmp_path))
  assert set(curves) == {'loss', 'learning_rate'}
  assert curves['loss']['train'] == [(0, 2.0), (1, 1.0), (2, 0.5)]
  assert curves['loss']['validation'] == [(0, 2.5), (1, 1.5), (2, 0.75)]
  assert [round(v, 8) for _, v in curves['learning_rate']['train']] == [1e-3, 5e-4, 0.00033333]


def _write_statistics(uri: str) -> None:
  for split, rows in (('train', 60), ('eval', 10)):
    stats = statistics_pb2.DatasetFeatureStatisticsList()
    dataset = stats.datasets.add(num_examples=rows)
    label = dataset.features.add()
    label.path.step.append('label')
    histogram = label.num_stats.histograms.add(type=statistics_pb2.Histogram.STANDARD)
    for digit in range(10):
      histogram.buckets.add(low_value=digit * 0.9, high_value=(digit + 1) * 0.9,
                            sample_count=rows / 10)
    label.num_stats.mean = 4.5
    image = dataset.features.add()
    image.path.step.append('image')
    image.string_stats.top_values.add(value=data.BYTES_PLACEHOLDER, frequency=1)
    image.string_stats.unique = rows
    picture = dataset.features.add()  # an image domain's feature: TFDV measures its bytes
    picture.path.step.append('picture')
    picture.bytes_stats.avg_num_bytes = 276.5
    picture.bytes_stats.min_num_bytes = 140
    picture.bytes_stats.max_num_bytes = 420
    os.makedirs(os.path.join(uri, f'Split-{split}'))
    with open(os.path.join(uri, f'Split-{split}', 'FeatureStats.pb'), 'wb') as f:
      f.write(stats.SerializeToString())


def test_statistics_schema_and_anomalies(tmp_path):
  _write_statistics(str(tmp_path / 'stats'))
  splits = {s.split: s for s in data.statistics(str(tmp_path / 'stats'))}
  assert {k: s.examples for k, s in splits.items()} == {'train': 60, 'eval': 10}
  label, image, picture = splits['train'].features
  assert label.kind == 'numeric' and [c for _, _, c in label.buckets] == [6.0] * 10
  assert image.kind == 'bytes' and image.summary['unique'] == 60  # no bar chart of raw bytes
  assert picture.kind == 'bytes' and picture.summary == {  # no distinct count TFDV never made
      'mean bytes': 276.5, 'min bytes': 140, 'max bytes': 420}
  schema_dir = os.path.join(registry.get_spec('cnn').source.schema_path)
  features = {f.name: f for f in data.schema(os.path.dirname(schema_dir))}
  assert features['label'].type == 'int' and features['label'].domain.startswith('integers 0 to 9')
  assert features['image'].domain == 'an encoded image'
  animals = {f.name: f for f in data.schema(os.path.dirname(
      registry.get_spec('classifier').source.schema_path))}
  assert animals['species'].domain == 'one of: other, mammal, bird'
  diff = anomalies_pb2.Anomalies()
  diff.anomaly_info['species'].description = 'Examples contain values missing from the schema: fish'
  os.makedirs(tmp_path / 'anomalies' / 'Split-eval')
  (tmp_path / 'anomalies' / 'Split-eval' / 'SchemaDiff.pb').write_bytes(diff.SerializeToString())
  assert data.anomalies(str(tmp_path / 'anomalies')) == {
      'eval': ['species: Examples contain values missing from the schema: fish']}
  assert data.anomalies(None) == {}


def _component(node, state, started, seconds=1.0, error=''):
  return summary.ComponentRun(node=node, state=state, seconds=seconds, outputs={},
                              started=started, error=error)


def _gate(value, baseline=None, passed=True):
  return summary.MetricCheck(key='sparse_categorical_accuracy', value=value,
                             threshold='>= 0.8, change vs blessed baseline -0.002',
                             passed=passed, baseline=baseline, lower_bound=0.8,
                             allowed_change=-0.002)


def _run(run_id, started, components, blessed=None, metrics=(), pushed=None):
  return collect.RunRow(
      run_id=run_id, started=started, outcome='', manifest=MANIFEST,
      gate_value=metrics[0].value if metrics else None,
      summary=summary.RunSummary(pipeline='cnn_fast', run_id=run_id, components=components,
                                 metrics=list(metrics), blessed=blessed, pushed_to=pushed))


@pytest.fixture
def pushed_view(tmp_path) -> collect.PipelineView:
  """cnn_fast: a blessed run that pushed, then a run that failed in the Trainer."""
  _write_statistics(str(tmp_path / 'stats'))
  first = _run('run-1', 1000.0, [_component('TfdsExampleGen', 'executed', 1000),
                                 _component('Trainer', 'executed', 1001, 30),
                                 _component('Evaluator', 'executed', 1031, 4)],
               blessed=True, metrics=[_gate(0.905, baseline=0.9)], pushed='/s/cnn_fast/7')
  second = _run('run-2', 2000.0, [_component('TfdsExampleGen', 'cached', 2000),
                                  _component('Trainer', 'failed', 2001, 3,
                                             error='ResourceExhaustedError: out of memory')])
  for row, outcome in ((first, 'pushed /s/cnn_fast/7'), (second, 'failed in Trainer')):
    row.outcome = outcome
  result = evaluation.Evaluation(
      metrics={'': {'sparse_categorical_accuracy': 0.905},
               **{f'label={d}': {'sparse_categorical_accuracy': 0.8 + d / 100,
                                 'example_count': 100.0} for d in range(10)}},
      baseline={}, gates=[], validation_ok=True, label_feature='label',
      confusion={'': {(d, d): 90.0 for d in range(10)} | {(3, 5): 10.0}})
  push = pushes.Push(version=7, destination='/s/cnn_fast/7', pushed_ms=1_040_000, artifact=None,
                     execution=None, inputs={}, run_id='run-1')
  return collect.PipelineView(
      name='cnn_fast', spec=registry.pipeline_spec('cnn_fast'), runs=[first, second],
      edges=[('TfdsExampleGen', 'Trainer'), ('Trainer', 'Evaluator')], pushes=[push],
      served_version=7, statistics=data.statistics(str(tmp_path / 'stats')),
      curves={'loss': {'train': [(0, 2.0), (1, 1.0)], 'validation': [(0, 2.1), (1, 1.2)]}},
      evaluation=result, pictures=[('predictions.png', 'data:image/png;base64,AAAA')],
      lineage='/s/cnn_fast/7\n  pipeline cnn_fast, run run-1')


def test_index_rows(pushed_view):
  never = collect.PipelineView(name='linear', spec=registry.get_spec('linear'))
  page = index.render([pushed_view, never], '/home')
  assert 'data-served-version="7"' in page and 'data-gate-value="0.905"' in page
  assert 'failed in Trainer' in page and 'never run' in page
  assert page.count('<polyline') == 1  # the sparkline of the pipeline with an evaluated run
  assert '<script' not in page and 'http' not in page.replace('http-equiv', '')


def test_runs_name_the_failed_component_and_its_error(pushed_view):
  html = run_sections.runs(pushed_view)
  assert ('data-failed-node="Trainer">Trainer failed: ResourceExhaustedError: out of memory'
          in html)
  assert html.index('run-2') < html.index('run-1')  # newest first
  assert '01234567 +changes' in html and 'commit 0123456789ab (uncommitted changes)' in html


def test_dag_and_timeline_colour_each_node_by_its_state(pushed_view):
  html = run_sections.latest_run(pushed_view)
  assert html.count('<rect') >= 2 * 2  # two boxes, two bars
  assert charts.COLOURS['failed'] in html and charts.COLOURS['cached'] in html
  assert html.count('marker-end') == 1  # the one edge between the latest run's nodes


def test_data_rows_bars_and_no_chart_of_image_bytes(pushed_view):
  html = run_sections.data(pushed_view)
  assert re.findall(r'data-rows="(\w+)">(\d+)', html) == [('eval', '10'), ('train', '60')]
  assert html.count('<svg') == 2  # the label's histogram per split, none for the images
  assert '>9</text>' in html  # a bar per digit, labelled by the digit


def test_training_and_evaluation_come_from_the_last_evaluated_run(pushed_view):
  html = run_sections.training(pushed_view)
  assert html.count('<polyline') == 2 and 'run run-1' in html
  html = model_sections.evaluation(pushed_view)
  assert 'From run run-1, the latest evaluated one' in html
  assert 'data-gate="sparse_categorical_accuracy">0.905' in html
  assert '>0.9<' in html and '>0.005<' in html and '>-0.002<' in html  # baseline, change, allowed
  assert re.findall(r'data-class="(\d)"', html) == [str(d) for d in range(10)]
  assert html.count('<rect') == 100  # the 10 x 10 confusion matrix


def test_card_and_whole_pages(pushed_view):
  html = model_sections.card(pushed_view)
  assert 'version 7, pushed' in html and 'by run run-1' in html
  assert 'conv3x3x32' in html  # the architecture, from the module's docstring
  assert 'MNIST only' in html and 'seed 42' in html and 'tfx 1.16.0' in html
  page = pipeline_page.render(pushed_view, '/home')
  for section in ('runs', 'dag', 'data', 'training', 'evaluation', 'pictures', 'card'):
    assert f'id="{section}"' in page, section
  never = pipeline_page.render(collect.PipelineView(name='cnn', spec=registry.get_spec('cnn')),
                               '/home')
  assert 'data-never-run' in never and 'make run-pipeline MODEL=cnn' in never
  broken = collect.PipelineView(name='cnn', spec=registry.get_spec('cnn'),
                                problem='OSError: database disk image is malformed')
  assert 'database disk image is malformed' in pipeline_page.render(broken, '/home')


def test_collect_without_a_store_and_with_an_unreadable_one(tmp_path):
  from pipelines.paths import Paths  # pylint: disable=g-import-not-at-top
  paths = Paths(str(tmp_path))
  assert collect.collect(paths, 'cnn').runs == []
  os.makedirs(tmp_path / 'metadata')
  (tmp_path / 'metadata' / 'cnn.sqlite').write_bytes(b'not a database' * 100)
  view = collect.collect(paths, 'cnn')
  assert view.problem and view.runs == []


def test_evaluation_reader_on_tfma_protos(tmp_path):
  """Gates from the EvalConfig the factory writes (overall slice) and the per-class gate (every
  label slice), values from MetricsForSlice records, verdicts from the ValidationResult."""
  import json  # pylint: disable=g-import-not-at-top
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from google.protobuf import json_format  # pylint: disable=g-import-not-at-top
  from pipelines import gating  # pylint: disable=g-import-not-at-top
  protos = evaluation._protos()  # pylint: disable=protected-access
  config = gating.eval_config(registry.get_spec('classifier'))
  (tmp_path / 'eval_config.json').write_text(json.dumps(
      {'evalConfig': json.loads(json_format.MessageToJson(config)), 'version': '0.47.1'}))
  accuracy = {(): 0.5, ('other',): 1.0, ('mammal',): 0.0, ('bird',): 0.0}
  with tf.io.TFRecordWriter(str(tmp_path / 'metrics-00000-of-00001')) as writer:
    for species, value in accuracy.items():
      record = protos['metrics_for_slice_pb2'].MetricsForSlice()
      for s in species:
        record.slice_key.single_slice_keys.add(column='species', bytes_value=s.encode())
      item = record.metric_keys_and_values.add()
      item.key.name = 'sparse_categorical_accuracy'
      item.value.double_value.value = value
      writer.write(record.SerializeToString())
  result = protos['validation_result_pb2'].ValidationResult(validation_ok=False)
  for species in ([], ['mammal'], ['bird']):
    failed = result.metric_validations_per_slice.add()
    for s in species:
      failed.slice_key.single_slice_keys.add(column='species', bytes_value=s.encode())
    failed.failures.add().metric_key.name = 'sparse_categorical_accuracy'
  with tf.io.TFRecordWriter(str(tmp_path / 'validations.tfrecord')) as writer:
    writer.write(result.SerializeToString())
  loaded = evaluation.load(str(tmp_path))
  overall, per_class = loaded.gates
  assert (overall.key, overall.value, overall.passed, overall.lower_bound) == (
      'sparse_categorical_accuracy', 0.5, False, 1.0)
  assert overall.threshold.startswith('>= 1, change vs blessed baseline')
  assert (per_class.key, per_class.value, per_class.passed) == (
      'sparse_categorical_accuracy per class', 0.0, False)
  assert per_class.threshold == ('>= 1 for every species; below it: species=bird (0), '
                                 'species=mammal (0)')
  assert loaded.per_class('sparse_categorical_accuracy') == {'bird': 0.0, 'mammal': 0.0,
                                                             'other': 1.0}
  assert loaded.validation_ok is False and loaded.label_feature == 'species'
