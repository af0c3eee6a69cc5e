"""Bad input stops the run before training, with one line naming the file, column and problem.

Each case runs the real pipeline (`tfzoo run MODEL --data FILE`) on a work directory whose
serving/ already holds a version; the run must exit 4, name the problem, train nothing, and
leave serving/ byte-for-byte as it was. File-level problems are refused before TFX starts;
column, type and value problems by the ExampleValidator against the curated schema.
"""
from __future__ import annotations

import os
import re

import pytest

from conftest import node_states, run_tfzoo, serving_snapshot

GOOD_HEADER = 'fur,wings,species\n'
CASES = {
    # name: (model, file bytes or None for "no file", expected message, stopped by)
    'missing_column': ('classifier', b'fur,species\n0,other\n1,mammal\n1,bird\n',
                       r"column 'wings': the column is missing \(Column dropped\)", 'validator'),
    'extra_column': ('classifier', b'fur,wings,colour,species\n0,0,red,other\n1,0,red,mammal\n',
                     r"column 'colour': the schema has no such column \(New column\)", 'validator'),
    'text_in_numeric_column': ('classifier', (GOOD_HEADER + '0,0,other\nlots,0,mammal\n').encode(),
                               r"column 'fur': Unexpected data type", 'validator'),
    'empty_value': ('classifier', (GOOD_HEADER + '0,0,other\n1,,mammal\n').encode(),
                    r"column 'wings': some rows have no value", 'validator'),
    'nan_value': ('linear', b'x,y\n1.0,1.0\nnan,2.0\n', r"column 'x': .*NaN", 'validator'),
    'value_outside_domain': ('classifier', (GOOD_HEADER + '0,0,other\n7,0,mammal\n').encode(),
                             r"column 'fur': Out-of-range values \(Unexpectedly large value: 7",
                             'validator'),
    'unknown_species': ('classifier', (GOOD_HEADER + '0,0,other\n0,0,fish\n').encode(),
                        r"column 'species': Unexpected string values .*fish", 'validator'),
    'header_only': ('classifier', GOOD_HEADER.encode(), r'has a header but no rows', 'preflight'),
    'empty_file': ('classifier', b'', r'the file is empty', 'preflight'),
    'no_such_file': ('classifier', None, r'file not found', 'preflight'),
    'not_utf8': ('classifier', GOOD_HEADER.encode() + b'0,0,other\n1,0,mamm\xe4l\n',
                 r'line 3 is not UTF-8 text \(byte 0xe4\)', 'preflight'),
    'ragged_row': ('classifier', (GOOD_HEADER + '0,0,other\n1,0\n').encode(),
                   r'line 3 has 2 values, the header has 3 columns', 'preflight'),
    # Words: TFDV judges whole strings; the letters are the pre-flight's character rules.
    'letter_outside_vocabulary': (
        'seq2seq', 'english,korean\nword,단어\nwörd,단어\n'.encode(),
        r"line 3, column 'english': 'wörd' has characters outside lowercase letters a-z: 'ö'",
        'preflight'),
    'latin_in_korean_column': (
        'seq2seq', 'english,korean\nword,단어\nlove,sarang\n'.encode(),
        r"line 3, column 'korean': 'sarang' has characters outside Hangul syllables",
        'preflight'),
    'word_too_long_to_complete': (
        'autocomplete', b'word\nword\nwoods\n',
        r"line 3, column 'word': 'woods' has 5 characters; the model takes 4", 'preflight'),
}


@pytest.fixture(scope='module')
def home(tmp_path_factory) -> str:
  """A work directory where each model already has a version in serving/."""
  home = str(tmp_path_factory.mktemp('home'))
  for model in ('classifier', 'linear', 'seq2seq', 'autocomplete'):
    version = os.path.join(home, 'serving', model, '1700000000')
    os.makedirs(os.path.join(version, 'variables'))
    for name in ('saved_model.pb', 'variables/variables.index'):
      with open(os.path.join(version, name), 'wb') as f:
        f.write(f'{model} {name}'.encode())
  return home


@pytest.mark.parametrize('case', list(CASES))
def test_bad_input_stops_before_training(case, project, home, tmp_path):
  model, content, message, stopped_by = CASES[case]
  data = str(tmp_path / f'{case}.csv')
  if content is not None:
    with open(data, 'wb') as f:
      f.write(content)
  serving = os.path.join(home, 'serving', model)
  metadata = os.path.join(home, 'metadata', f'{model}.sqlite')
  before = serving_snapshot(serving)
  runs_before = node_states(metadata) if os.path.exists(metadata) else None

  result = run_tfzoo(project, home, 'run', model, '--data', data)

  assert result.returncode == 4, result.stdout + result.stderr
  errors = [line for line in result.stderr.splitlines() if line.startswith('tfzoo:')]
  assert len(errors) == 1, result.stderr
  assert errors[0].startswith(f'tfzoo: {data}: '), errors[0]
  assert re.search(message, errors[0]), errors[0]
  assert serving_snapshot(serving) == before
  if stopped_by == 'preflight':
    assert 'nothing was trained or pushed' in errors[0]
    # TFX never started: no new run in ML Metadata.
    assert (node_states(metadata) if os.path.exists(metadata) else None) == runs_before
  else:
    assert 'stopped before training, nothing was pushed' in errors[0]
    states = node_states(metadata)
    assert states['ExampleValidator'] == 'failed', states
    assert not {'Transform', 'Trainer', 'Evaluator', 'InfraValidator', 'Pusher'} & set(states), states
