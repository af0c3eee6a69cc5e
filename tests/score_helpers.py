"""What `tfzoo score`'s tests read: its output lines, predictions.csv, and the scoring run's
lineage in ML Metadata (test_score for CSV rows, test_e2e_cnn for a folder of images)."""
from __future__ import annotations

import csv
import glob
import os
import re
from typing import Dict, List, Set, Tuple

from ml_metadata.proto import metadata_store_pb2

from conftest import run_tfzoo


def files_under(home: str) -> Set[str]:
  return set(glob.glob(os.path.join(home, '**'), recursive=True))


def write_csv(path: str, header: List[str], rows: List[List[str]]) -> str:
  with open(path, 'w', newline='') as f:
    csv.writer(f).writerows([header] + rows)
  return path


def read_csv(path: str) -> List[Dict[str, str]]:
  with open(path, newline='') as f:
    return list(csv.DictReader(f))


def refused(project: str, home: str, code: int, *args: str) -> str:
  """Runs `tfzoo score ARGS`, which must fail with `code`, one line, and no file written."""
  before = files_under(home)
  result = run_tfzoo(project, home, 'score', *args)
  assert result.returncode == code, result.stdout + result.stderr
  [line] = result.stderr.strip().splitlines()
  assert line.startswith('tfzoo: '), line
  assert files_under(home) == before
  return line


def histogram(stdout: str, noun: str) -> Dict[str, int]:
  [line] = [l for l in stdout.splitlines() if l.startswith('scored ')]
  match = re.fullmatch(rf'scored (\d+) {noun}: (.*)', line)
  assert match, line
  pairs = dict(p.split(': ') for p in match.group(2).split(', '))
  return {k: int(v) for k, v in pairs.items()} | {'': int(match.group(1))}


def predictions_csv(stdout: str) -> str:
  [path] = [l.split('predictions: ', 1)[1] for l in stdout.splitlines()
            if l.startswith('predictions: ')]
  assert os.path.isfile(path), path
  return path


def lineage(home: str, pipeline: str) -> Tuple[int, int, metadata_store_pb2.Artifact]:
  """(the model id BulkInferrer read in the latest score run, the model id the blessed run's
  Trainer wrote, the InferenceResult artifact), straight from ML Metadata."""
  from pipelines.mlmd import metadata, summary  # pylint: disable=g-import-not-at-top
  store = summary.open_store(metadata.sqlite_config(os.path.join(home, 'metadata', f'{pipeline}.sqlite')))
  node_type = store.get_context_type('node')
  [blessed] = [run for run in (summary.summarize(store, c, pipeline)
                               for c in summary.run_contexts(store, pipeline)) if run.blessed]
  [trained] = blessed.component('Trainer').outputs['model']
  score_run = summary.run_contexts(store, f'{pipeline}_score')[-1]
  [inferrer] = [e for e in store.get_executions_by_context(score_run.id)
                if summary.node_name(store, e.id, node_type.id) == 'BulkInferrer']
  assert inferrer.last_known_state == metadata_store_pb2.Execution.COMPLETE
  events = store.get_events_by_execution_ids([inferrer.id])
  [read] = [e.artifact_id for e in events if e.type == metadata_store_pb2.Event.INPUT
            and e.path.steps[0].key == 'model']
  [written] = [e.artifact_id for e in events if e.type == metadata_store_pb2.Event.OUTPUT]
  [result] = store.get_artifacts_by_id([written])
  return read, trained.id, result
