"""StatisticsGen's executor (components/local_statistics_gen): on the default runner the
statistics are computed in process, and they are the statistics TFX's own executor computes on
Beam with the same options, proto for proto, with the artifact's properties TFX sets; any
other runner, parallel workers or an option only Beam serves goes to TFX's executor."""
from __future__ import annotations

import os
import random
from typing import Dict, List

import pytest
import tensorflow as tf
import tensorflow_data_validation as tfdv
from google.protobuf import text_format
from tensorflow_metadata.proto.v0 import schema_pb2
from tfx.components.statistics_gen import executor as tfx_executor
from tfx.types import artifact_utils, standard_artifacts

from components.local_statistics_gen import executor
from conftest import statistics_dict

SCHEMA = """
feature { name: "size" type: FLOAT }
feature { name: "count" type: INT int_domain { min: 0 max: 40 is_categorical: true } }
feature { name: "word" type: BYTES }
feature { name: "picture" type: BYTES image_domain {} }
feature { name: "id" type: BYTES }
"""
SPLITS = {'train': 2500, 'eval': 700, 'extra': 30}


def _example(rng: random.Random) -> bytes:
  features = {'size': tf.train.Feature(float_list=tf.train.FloatList(
      value=[rng.gauss(3.0, 2.0) for _ in range(rng.randint(1, 3))]))}
  if rng.random() < 0.9:  # some examples without it
    features['count'] = tf.train.Feature(int64_list=tf.train.Int64List(
        value=[rng.randint(0, 40)]))
  features['word'] = tf.train.Feature(bytes_list=tf.train.BytesList(
      value=[rng.choice(['cat', 'dog', 'emu', 'yak', 'owl']).encode()] * rng.randint(0, 2)))
  features['picture'] = tf.train.Feature(bytes_list=tf.train.BytesList(
      value=[bytes(rng.getrandbits(8) for _ in range(rng.randint(10, 90)))]))
  # More distinct values than TFDV's sketches count exactly (1,024).
  features['id'] = tf.train.Feature(bytes_list=tf.train.BytesList(
      value=[f'id{rng.randint(0, 1_500)}'.encode()]))
  return tf.train.Example(features=tf.train.Features(feature=features)).SerializeToString()


@pytest.fixture(scope='module')
def inputs(tmp_path_factory):
  """An Examples artifact of three splits (two files in train), and the schema artifact."""
  root = tmp_path_factory.mktemp('inputs')
  rng = random.Random(7)
  examples = standard_artifacts.Examples()
  examples.uri = str(root / 'examples')
  examples.split_names = '["train","eval","extra"]'
  examples.span = 3
  for split, count in SPLITS.items():
    folder = os.path.join(examples.uri, f'Split-{split}')
    os.makedirs(folder)
    files = 2 if split == 'train' else 1
    for i in range(files):
      with tf.io.TFRecordWriter(os.path.join(folder, f'data-{i}.gz'), 'GZIP') as writer:
        for _ in range(count // files):
          writer.write(_example(rng))
  schema = standard_artifacts.Schema()
  schema.uri = str(root / 'schema')
  os.makedirs(schema.uri)
  with open(os.path.join(schema.uri, 'schema.pbtxt'), 'w') as f:
    f.write(SCHEMA)
  return examples, schema


@pytest.fixture(scope='module')
def train_truth(inputs) -> dict:
  """What the training split's examples hold, read back from its files: the distinct ids and
  the shortest picture's length."""
  files = tf.io.gfile.glob(os.path.join(inputs[0].uri, 'Split-train', '*'))
  parsed = [tf.train.Example.FromString(r.numpy()).features.feature
            for r in tf.data.TFRecordDataset(files, compression_type='GZIP')]
  return {'distinct_ids': len({f['id'].bytes_list.value[0] for f in parsed}),
          'shortest_picture': min(len(f['picture'].bytes_list.value[0]) for f in parsed)}


def _run(inputs, root: str, beam_args: List[str], exclude: List[str] = (),
         options: tfdv.StatsOptions = None, ours: bool = True) -> standard_artifacts.ExampleStatistics:
  examples, schema = inputs
  statistics = standard_artifacts.ExampleStatistics()
  statistics.uri = root
  options = options or tfdv.StatsOptions(use_sketch_based_topk_uniques=True)
  cls = executor.Executor if ours else tfx_executor.Executor
  context = cls.Context(beam_pipeline_args=list(beam_args), tmp_dir=os.path.join(root, 'tmp'))
  cls(context).Do({'examples': [examples], 'schema': [schema]}, {'statistics': [statistics]},
                  {'stats_options_json': options.to_json(),
                   'exclude_splits': '[' + ','.join(f'"{s}"' for s in exclude) + ']'})
  return statistics


def _protos(statistics) -> Dict[str, dict]:
  """{split: its statistics as a dict} of an ExampleStatistics artifact."""
  return {split: statistics_dict(statistics.uri, split)
          for split in artifact_utils.decode_split_names(statistics.split_names)}


def _same_statistics(ours, beam, distinct_ids: int) -> List[str]:
  """Asserts the two artifacts hold the same statistics; returns their splits."""
  protos = {'ours': _protos(ours), 'beam': _protos(beam)}
  # Beyond 1,024 distinct values (the train split's ids) both give TFDV's sketch estimates,
  # which depend on how the examples were batched (Beam's batch sizes vary from run to run).
  assert distinct_ids > 1_024
  for proto in protos.values():
    estimate = _pop_feature(proto['train'], 'id')
    assert abs(int(estimate['stringStats']['unique']) - distinct_ids) < 0.05 * distinct_ids, (
        estimate)
  assert protos['ours'] == protos['beam']
  return sorted(protos['ours'])


def _pop_feature(proto: dict, name: str) -> dict:
  [dataset] = proto['datasets']
  [feature] = [f for f in dataset['features'] if f['path']['step'] == [name]]
  dataset['features'].remove(feature)
  return feature


def _properties(statistics) -> dict:
  return {'split_names': statistics.split_names, 'span': statistics.span,
          'sample_rate_by_split': statistics.get_json_value_custom_property(
              tfx_executor.SAMPLE_RATE_BY_SPLIT_PROPERTY_NAME),
          'link': statistics.get_string_custom_property(tfx_executor.STATS_DASHBOARD_LINK)}


def _computed(statistics) -> str:
  return statistics.get_string_custom_property(executor.COMPUTED_PROPERTY)


def test_in_process_statistics_are_tfx_beam_statistics(inputs, train_truth, tmp_path):
  ours = _run(inputs, str(tmp_path / 'ours'), [], exclude=['extra'])
  assert _computed(ours) == 'in process'
  beam = _run(inputs, str(tmp_path / 'beam'), [], exclude=['extra'], ours=False)
  assert _computed(beam) == ''  # TFX's executor records nothing of the kind
  assert _same_statistics(ours, beam, train_truth['distinct_ids']) == ['eval', 'train']
  assert _properties(ours) == _properties(beam)
  assert _properties(ours)['span'] == 3
  # What the statistics say, so that the same cannot mean equally empty.
  train = _protos(ours)['train']['datasets'][0]
  assert train['numExamples'] == '2500'
  features = {f['path']['step'][0]: f for f in train['features']}
  assert set(features) == {'size', 'count', 'word', 'picture', 'id'}
  assert 2000 < int(features['count']['stringStats']['commonStats']['numNonMissing']) < 2500
  assert {v['value'] for v in features['word']['stringStats']['topValues']} == {
      'cat', 'dog', 'emu', 'yak', 'owl'}
  assert 'bytesStats' in features['picture']  # the image domain: sizes, no top values
  assert features['picture']['bytesStats']['minNumBytes'] == train_truth['shortest_picture']


@pytest.mark.parametrize('beam_args, why', [
    (['--runner=PortableRunner', '--job_endpoint=localhost:1'], 'the runner is PortableRunner'),
    (['--direct_running_mode=multi_processing', '--direct_num_workers=2'],
     'the direct runner runs multi_processing with 2 workers'),
    (['--direct_num_workers=2'], 'the direct runner runs in_memory with 2 workers'),
])
def test_other_runners_and_workers_go_to_beam(beam_args, why):
  assert executor.beam_needed(beam_args, tfdv.StatsOptions(), {}) == why


def test_local_runner_named_or_not_runs_in_process():
  for args in ([], ['--runner=DirectRunner'], ['--direct_running_mode=in_memory'],
               ['--direct_num_workers=1']):
    assert executor.beam_needed(args, tfdv.StatsOptions(), {}) is None, args


@pytest.mark.parametrize('options, exec_properties, what', [
    (tfdv.StatsOptions(sample_rate=0.5), {}, 'sampling'),
    (tfdv.StatsOptions(), {'sample_rate_by_split': '{"train": 0.5}'}, 'sampling'),
    (tfdv.StatsOptions(), {'sharded_stats_output': True}, 'sharded output'),
    (tfdv.StatsOptions(label_feature='count'), {}, 'lift statistics'),
    (tfdv.StatsOptions(experimental_slice_functions=[lambda rb: [('a', rb)]]), {}, 'slicing'),
])
def test_options_only_beam_serves_go_to_beam(options, exec_properties, what):
  assert executor.beam_needed([], options, exec_properties) == f'the options ask for {what}'


def test_parallel_workers_run_tfx_beam_executor(inputs, train_truth, tmp_path):
  on_beam = _run(inputs, str(tmp_path / 'workers'), ['--direct_num_workers=2'])
  assert _computed(on_beam) == 'on Beam (the direct runner runs in_memory with 2 workers)'
  in_process = _run(inputs, str(tmp_path / 'ours'), [])
  assert _same_statistics(in_process, on_beam, train_truth['distinct_ids']) == [
      'eval', 'extra', 'train']


def test_a_schema_in_both_places_fails_as_tfx_does(inputs, tmp_path):
  schema = text_format.Parse(SCHEMA, schema_pb2.Schema())
  with pytest.raises(ValueError, match='At most one of these may be set'):
    _run(inputs, str(tmp_path / 'both'), [], options=tfdv.StatsOptions(schema=schema))
