"""Pre-flight checks of a CSV before any TFX component runs: what CsvExampleGen cannot even
parse (no file, empty file, header only, non-UTF-8 bytes, ragged rows) is refused here with
one line naming the file, the line and the problem; so is a value that breaks a column's
character rule (the word models' letters), which TFDV's schema cannot express. Everything else
about columns, types and values is the curated schema's job, judged by the ExampleValidator."""
from __future__ import annotations

import csv
import dataclasses
import io
import os
import re
from typing import Sequence


@dataclasses.dataclass(frozen=True)
class CharRule:
  """Every value of `column` is `min_length`..`max_length` characters, each matching the
  regular-expression class `characters` (e.g. '[a-z]'), described to users as `meaning`."""
  column: str
  characters: str
  meaning: str
  min_length: int = 1
  max_length: int = 1_000

  def problem(self, value: str) -> str:
    """'' when `value` follows the rule, else what is wrong, in words."""
    bad = sorted({c for c in value if not re.fullmatch(self.characters, c)})
    if bad:
      return f'has characters outside {self.meaning}: {", ".join(map(repr, bad))}'
    if not self.min_length <= len(value) <= self.max_length:
      wanted = (f'{self.min_length}' if self.min_length == self.max_length
                else f'{self.min_length} to {self.max_length}')
      return f'has {len(value)} characters; the model takes {wanted}'
    return ''


class DataFileError(ValueError):
  """One line naming the file and what is wrong with it."""


def check_csv(path: str, rules: Sequence[CharRule] = ()) -> int:
  """Returns the number of data rows; raises DataFileError for an unreadable file or a value
  that breaks its column's character rule."""
  if not os.path.exists(path):
    raise DataFileError(f'{path}: file not found')
  if not os.path.isfile(path):
    raise DataFileError(f'{path}: not a file')
  with open(path, 'rb') as f:
    raw = f.read()
  if not raw.strip():
    raise DataFileError(f'{path}: the file is empty (expected a header line, then rows)')
  try:
    text = raw.decode('utf-8')
  except UnicodeDecodeError as e:
    line = raw[:e.start].count(b'\n') + 1
    raise DataFileError(f'{path}: line {line} is not UTF-8 text (byte 0x{raw[e.start]:02x}); '
                        'save the file as UTF-8') from None
  if text.startswith('\ufeff'):
    raise DataFileError(f'{path}: starts with a byte-order mark; save it as UTF-8 without BOM')
  rows = [r for r in csv.reader(io.StringIO(text)) if r]
  header = rows[0]
  if any(not name.strip() for name in header):
    raise DataFileError(f'{path}: the header line has an empty column name')
  duplicates = sorted({n for n in header if header.count(n) > 1})
  if duplicates:
    raise DataFileError(f'{path}: the header names column {duplicates[0]!r} twice')
  if len(rows) == 1:
    raise DataFileError(f'{path}: has a header but no rows')
  checks = [(header.index(rule.column), rule) for rule in rules if rule.column in header]
  for number, row in enumerate(rows[1:], start=2):
    if len(row) != len(header):
      raise DataFileError(f'{path}: line {number} has {len(row)} values, the header has '
                          f'{len(header)} columns')
    for index, rule in checks:
      problem = row[index] and rule.problem(row[index])  # empty values: the schema's call
      if problem:
        raise DataFileError(f'{path}: line {number}, column {rule.column!r}: '
                            f'{row[index]!r} {problem}')
  return len(rows) - 1
