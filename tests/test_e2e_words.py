"""End to end: the word models' pipelines, side by side on one work directory.

autocomplete is gated by TFX's Evaluator (TFMA accuracy on the nine words); seq2seq by the
QualityEvaluator (exact match of the generated Korean word), whose blessing the Pusher reads
exactly like the Evaluator's: a model that misses the gate is not pushed.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys

import numpy as np
import tensorflow as tf

from conftest import node_states, run_tfzoo, serving_snapshot, versions

COMPONENTS = ['CsvExampleGen', 'ImportSchemaGen', 'StatisticsGen', 'ExampleValidator',
              'Transform', 'Trainer', 'Evaluator', 'Pusher']
WORDS = [b'word', b'wood', b'deep', b'cold', b'cool', b'load', b'love', b'kiss', b'kind']
PAIRS = {b'word': '단어', b'wood': '나무', b'game': '놀이', b'girl': '소녀', b'kiss': '키스',
         b'love': '사랑'}


def _examples(feature: str, words) -> tf.Tensor:
  return tf.constant([tf.train.Example(features=tf.train.Features(feature={
      feature: tf.train.Feature(bytes_list=tf.train.BytesList(value=[w]))})).SerializeToString()
      for w in words])


def _evaluator_outputs(metadata_path: str):
  """The latest Evaluator execution's evaluation and blessing artifacts, from ML Metadata."""
  from pipelines import summary  # pylint: disable=g-import-not-at-top
  store = summary.open_store(metadata_path)
  run = summary.summarize(store, summary.run_contexts(store)[-1])
  evaluator = run.component('Evaluator')
  return run, evaluator.outputs['evaluation'][0], evaluator.outputs['blessing'][0]


def test_word_pipelines_side_by_side_then_an_unblessed_translation(project, tmp_path):
  home = str(tmp_path)
  env = dict(os.environ, PYTHONPATH=project, TFZOO_HOME=home)
  processes = {model: subprocess.Popen(
      [sys.executable, '-m', 'pipelines.cli', 'run', model], cwd=project, env=env,
      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
      for model in ('autocomplete', 'seq2seq')}
  outputs = {model: p.communicate(timeout=900) for model, p in processes.items()}
  for model, process in processes.items():
    assert process.returncode == 0, outputs[model]
    states = node_states(os.path.join(home, 'metadata', f'{model}.sqlite'))
    assert all(states[c] == 'executed' for c in COMPONENTS), states

  # autocomplete: TFMA's accuracy gate; the served model completes every word.
  assert re.search(r'metric sparse_categorical_accuracy = 1 +\(gate: >= 1\) passed',
                   outputs['autocomplete'][0])
  serving = os.path.join(home, 'serving', 'autocomplete')
  [version] = versions(serving)
  model = tf.saved_model.load(os.path.join(serving, version))
  completed = model.signatures['serving_default'](examples=_examples('word', WORDS))
  assert list(completed['completion'].numpy()) == WORDS
  prefixes = model.signatures['serving_raw'](word=tf.constant([w[:3] for w in WORDS]))
  assert list(prefixes['completion'].numpy()) == WORDS

  # seq2seq: the QualityEvaluator's exact-match gate, what it recorded, and the served words.
  stdout = outputs['seq2seq'][0]
  assert re.search(r'metric exact_match = 1 +\(gate: >= 1\) passed', stdout)
  [answers] = [line for line in stdout.splitlines() if line.startswith('  outputs: ')]
  for english, korean in PAIRS.items():
    assert f'{english.decode()} -> {korean}' in answers, answers
  assert re.search(r'wodr -> \S+, loev -> \S+', answers), answers  # the seed's typos
  metadata = os.path.join(home, 'metadata', 'seq2seq.sqlite')
  run, evaluation, blessing = _evaluator_outputs(metadata)
  assert evaluation.custom_properties['metric:exact_match'].double_value == 1.0
  assert evaluation.custom_properties['gate:exact_match'].string_value == '>= 1: passed'
  assert blessing.custom_properties['blessed'].int_value == 1
  trainer_model = run.component('Trainer').outputs['model'][0]
  assert blessing.custom_properties['current_model_id'].int_value == trainer_model.id
  assert os.path.exists(os.path.join(blessing.uri, 'BLESSED'))
  serving = os.path.join(home, 'serving', 'seq2seq')
  [version] = versions(serving)
  model = tf.saved_model.load(os.path.join(serving, version))
  translated = model.signatures['serving_default'](examples=_examples('english', PAIRS))
  assert [t.decode() for t in translated['translation'].numpy()] == list(PAIRS.values())

  # The serving contract, as `saved_model_cli show` lists it: each signature declares exactly
  # the tensors the client sends (names, dtypes, shapes), and the outputs it reads.
  from pipelines import client, registry  # pylint: disable=g-import-not-at-top
  reads = {'autocomplete': {'completion', 'classes', 'probabilities'}, 'seq2seq': {'translation'}}
  for name, word in (('autocomplete', 'wor'), ('seq2seq', 'love')):
    [version] = versions(os.path.join(home, 'serving', name))
    served = tf.saved_model.load(os.path.join(home, 'serving', name, version))
    for signature in ('examples', 'raw'):
      request = client.build_request(registry.get_spec(name), word, signature)
      declared = served.signatures[request.signature]
      assert client.contract_problems(request, declared) == [], (name, signature)
      assert reads[name] <= set(declared.structured_outputs), (name, signature)
    wrong = client.Request(name, 'serving_raw', {'text': np.array([b'love'], dtype=object)})
    assert client.contract_problems(wrong, served.signatures['serving_raw']) == [
        f'the request sends text; the signature takes {registry.get_spec(name).features[0]}']

  # The client, as `make predict` runs it: a word in, the word out.
  for signature in ('examples', 'raw'):
    answer = run_tfzoo(project, home, 'predict', 'seq2seq', 'love', '--local',
                       '--signature', signature)
    assert answer.returncode == 0 and answer.stdout.rstrip().endswith(': 사랑'), answer
  answer = run_tfzoo(project, home, 'predict', 'autocomplete', 'kis', '--local')
  assert answer.returncode == 0 and ': kiss (letter s, probability' in answer.stdout, answer

  # A gate the model cannot reach: not blessed, nothing pushed, serving/ unchanged.
  before = serving_snapshot(serving)
  result = run_tfzoo(project, home, 'run', 'seq2seq', '--gate', 'exact_match=1.01')
  assert result.returncode == 3, result.stdout + result.stderr
  assert 'exact_match = 1 fails >= 1.01' in result.stderr
  assert serving_snapshot(serving) == before
  _, evaluation, blessing = _evaluator_outputs(metadata)
  assert blessing.custom_properties['blessed'].int_value == 0
  assert os.path.exists(os.path.join(blessing.uri, 'NOT_BLESSED'))
  assert evaluation.custom_properties['gate:exact_match'].string_value.startswith(
      '>= 1.01: FAILED')
  why = run_tfzoo(project, home, 'why-not-blessed', 'seq2seq')
  assert 'exact_match = 1, threshold >= 1.01: FAILED' in why.stdout, why
