"""End to end: the word models' pipelines, side by side on one work directory.

autocomplete is gated by TFX's Evaluator (TFMA accuracy on the nine words); seq2seq by the
QualityEvaluator (exact match of the generated Korean word), whose blessing the Pusher reads
exactly like the Evaluator's: a model that misses the gate is not pushed.
"""
from __future__ import annotations

import os
import re

import numpy as np
import tensorflow as tf

from components.infra_validator.session_loader import ServingSession
from conftest import node_states, run_tfzoo, serving_snapshot, start_tfzoo, versions
from serving_helpers import every_signature, serialized_examples

COMPONENTS = ['CsvExampleGen', 'ImportSchemaGen', 'StatisticsGen', 'ExampleValidator',
              'DriftValidator', 'Transform', 'Trainer', 'Evaluator', 'InfraValidator', 'Pusher']
WORDS = [b'word', b'wood', b'deep', b'cold', b'cool', b'load', b'love', b'kiss', b'kind']
PAIRS = {b'word': '단어', b'wood': '나무', b'game': '놀이', b'girl': '소녀', b'kiss': '키스',
         b'love': '사랑'}


def _served(version_dir: str, feature: str, words, rows) -> dict:
  """Every signature of a word model through TF Serving's loader (answering as
  tf.saved_model.load does): the words as tf.Examples and as strings; `rows` with the label
  for transform_features."""
  with ServingSession(version_dir) as session:
    return every_signature(session, tf.saved_model.load(version_dir), {
        'serving_default': {'examples': serialized_examples([{feature: [w]} for w in words])},
        'serving_raw': {feature: np.array(list(words), dtype=object)},
        'transform_features': {'examples': serialized_examples(rows)},
    }, atol=1e-5)


def _evaluator_outputs(metadata_path: str):
  """The latest Evaluator execution's evaluation and blessing artifacts, from ML Metadata."""
  from pipelines.mlmd import metadata, summary  # pylint: disable=g-import-not-at-top
  store = summary.open_store(metadata.sqlite_config(metadata_path))
  run = summary.summarize(store, summary.run_contexts(store)[-1])
  evaluator = run.component('Evaluator')
  return run, evaluator.outputs['evaluation'][0], evaluator.outputs['blessing'][0]


def test_word_pipelines_side_by_side_then_an_unblessed_translation(project, tmp_path):
  home = str(tmp_path)
  processes = {model: start_tfzoo(project, home, 'run', model)
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
  completed = _served(os.path.join(serving, version), 'word', WORDS,
                      [{'word': [w]} for w in WORDS])
  assert list(completed['serving_default']['completion']) == WORDS
  assert list(completed['serving_raw']['completion']) == WORDS
  with ServingSession(os.path.join(serving, version)) as session:
    prefixes = session.run('serving_raw', word=np.array([w[:3] for w in WORDS], dtype=object))
  assert list(prefixes['completion']) == WORDS
  assert completed['transform_features']['word_xf'].shape == (len(WORDS), 3)

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
  translated = _served(os.path.join(serving, version), 'english', list(PAIRS),
                       [{'english': [e], 'korean': [k.encode()]} for e, k in PAIRS.items()])
  for signature in ('serving_default', 'serving_raw'):
    assert [t.decode() for t in translated[signature]['translation']] == list(PAIRS.values())

  # The serving contract, as `saved_model_cli show` lists it: each signature declares exactly
  # the tensors the client sends (names, dtypes, shapes), and the outputs it reads.
  from pipelines import registry  # pylint: disable=g-import-not-at-top
  from pipelines.serving import requests  # pylint: disable=g-import-not-at-top
  reads = {'autocomplete': {'completion', 'classes', 'probabilities'}, 'seq2seq': {'translation'}}
  for name, word in (('autocomplete', 'wor'), ('seq2seq', 'love')):
    [version] = versions(os.path.join(home, 'serving', name))
    with ServingSession(os.path.join(home, 'serving', name, version)) as session:
      for signature in ('examples', 'raw'):
        request = requests.build_request(registry.get_spec(name), word, signature)
        declared = session.input_specs(request.signature)
        assert requests.contract_problems(request, declared) == [], (name, signature)
        outputs = set(session.signatures[request.signature].outputs)
        assert reads[name] <= outputs, (name, signature)
      wrong = requests.Request(name, 'serving_raw', {'text': np.array([b'love'], dtype=object)})
      assert requests.contract_problems(wrong, session.input_specs('serving_raw')) == [
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

  # The report: seq2seq's page shows every answer the QualityEvaluator recorded and the refused
  # gate; autocomplete's, the accuracy per letter TFMA computed. Both clean in a browser.
  import browser  # pylint: disable=g-import-not-at-top
  report = run_tfzoo(project, home, 'report')
  assert report.returncode == 0, report.stdout + report.stderr
  pages = [os.path.join(home, 'reports', m, 'index.html') for m in ('seq2seq', 'autocomplete')]
  loaded = browser.load_pages(pages)
  for page in loaded.values():
    browser.assert_clean(page)
  seq2seq_html = open(pages[0], encoding='utf-8').read()
  for english, korean in PAIRS.items():
    assert f'<td>{english.decode()}</td><td>{korean}</td>' in seq2seq_html
  assert [(k, float(v)) for k, v in loaded[pages[0]].data['data-gate']] == [('exact_match', 1.0)]
  assert 'FAILED' in seq2seq_html and '&gt;= 1.01' in seq2seq_html
  letters = {k: float(v) for k, v in loaded[pages[1]].data['data-class']}
  assert letters == {w.decode()[3]: 1.0 for w in WORDS}  # the 4th letters: d, e, l, p, s
