"""Pre-flight checks of a CSV before any TFX component runs: what CsvExampleGen cannot even
parse (no file, empty file, header only, non-UTF-8 bytes, ragged rows) is refused here with
one line naming the file, the line and the problem. Everything about columns, types and
values is the curated schema's job, judged by the ExampleValidator."""
from __future__ import annotations

import csv
import io
import os


class DataFileError(ValueError):
  """One line naming the file and what is wrong with it."""


def check_csv(path: str) -> int:
  """Returns the number of data rows; raises DataFileError for an unreadable file."""
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
  for number, row in enumerate(rows[1:], start=2):
    if len(row) != len(header):
      raise DataFileError(f'{path}: line {number} has {len(row)} values, the header has '
                          f'{len(header)} columns')
  return len(rows) - 1
