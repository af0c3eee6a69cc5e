"""What a pipeline run did, read back from ML Metadata (never from the runner's memory).

For the latest run of a pipeline: each component executed / cached / failed with its wall
time, the Evaluator's gating metrics against their thresholds, the blessing, and the push.
"""
from __future__ import annotations

import dataclasses
import glob
import json
import os
from typing import Dict, List, Optional

from components.quality_evaluator import keys as quality_keys
from ml_metadata import errors
from ml_metadata.metadata_store import metadata_store
from ml_metadata.proto import metadata_store_pb2

from pipelines.artifacts import evaluation
from pipelines.mlmd import checks, metadata

ERROR_PROPERTY = 'tfzoo_error'  # a failed execution's one line, recorded by `tfzoo run`
EXECUTION_RESULT = '__execution_result__'  # TFX's (tfx/orchestration/portable/mlmd/execution_lib)
_STATES = {
    metadata_store_pb2.Execution.COMPLETE: 'executed',
    metadata_store_pb2.Execution.CACHED: 'cached',
    metadata_store_pb2.Execution.FAILED: 'failed',
    metadata_store_pb2.Execution.RUNNING: 'running',
    metadata_store_pb2.Execution.NEW: 'new',
    metadata_store_pb2.Execution.CANCELED: 'canceled',
}


@dataclasses.dataclass
class ComponentRun:
  node: str
  state: str
  seconds: float
  outputs: Dict[str, List[metadata_store_pb2.Artifact]]
  started: float = 0.0  # seconds since the epoch
  error: str = ''  # a failed execution's message, its last line
  execution_id: int = 0


MetricCheck = evaluation.Gate  # a gate's value, threshold and verdict


@dataclasses.dataclass
class RunSummary:
  pipeline: str
  run_id: str
  components: List[ComponentRun]
  metrics: List[MetricCheck]
  blessed: Optional[bool]
  pushed_to: Optional[str]
  pictures: List[str] = dataclasses.field(default_factory=list)
  tensorboard_dir: Optional[str] = None
  samples: Dict[str, str] = dataclasses.field(default_factory=dict)  # input -> model output
  infra: Optional[checks.InfraCheck] = None
  drift: Optional[checks.DriftCheck] = None
  resumed: Optional[checks.Resumed] = None
  tuned: Optional[checks.Tuned] = None

  def component(self, node: str) -> Optional[ComponentRun]:
    return next((c for c in self.components if c.node == node), None)

  @property
  def failed(self) -> Optional[ComponentRun]:
    return next((c for c in self.components if c.state in ('failed', 'running')), None)

  def format(self) -> str:
    lines = [f'pipeline {self.pipeline}, run {self.run_id}']
    for c in self.components:
      lines.append(f'  {c.node:<32} {c.state:<9} {c.seconds:7.1f} s')
    if self.drift is not None:
      lines.append(f'  {self.drift.format()}')
    if self.tuned is not None:
      lines.append(f'  {self.tuned.format()}')
      if self.tuned.slice:
        lines.append(f'  tuning: each trial trained {self.tuned.slice}')
    if self.resumed is not None:
      lines.append(f'  {self.resumed.format()}')
    for m in self.metrics:
      value = 'n/a' if m.value is None else f'{m.value:.6g}'
      lines.append(f'  metric {m.key} = {value}  (gate: {m.threshold}) '
                   f'{"passed" if m.passed else "FAILED"}')
    if self.samples:
      lines.append('  outputs: ' + ', '.join(f'{k} -> {v or "(nothing)"}'
                                            for k, v in self.samples.items()))
    if self.blessed is not None:
      lines.append(f'  blessed: {"yes" if self.blessed else "no"}')
    if self.infra is not None:
      lines.append(f'  {self.infra.format()}')
    lines.append(f'  pushed: {self.pushed_to or "nothing"}')
    if self.tensorboard_dir:
      lines.append(f'  training logs (TensorBoard): {self.tensorboard_dir}')
    for picture in self.pictures:
      lines.append(f'  picture: {picture}')
    return '\n'.join(lines)


def open_store(config: metadata_store_pb2.ConnectionConfig) -> metadata_store.MetadataStore:
  """The store behind `config` (metadata.connection_config's: SQLite or the shared MySQL)."""
  return metadata.open_store(config)


def pipeline_context(store, pipeline: str) -> Optional[metadata_store_pb2.Context]:
  try:
    return store.get_context_by_type_and_name('pipeline', pipeline)
  except errors.NotFoundError:  # a store nothing has been recorded in yet
    return None


def run_contexts(store: metadata_store.MetadataStore,
                 pipeline: Optional[str] = None) -> List[metadata_store_pb2.Context]:
  """All runs of the pipeline(s) in this store, oldest first; only `pipeline`'s if given (a
  store shared by several pipelines: MySQL)."""
  if pipeline is None:
    runs = store.get_contexts_by_type('pipeline_run')
  else:
    context = pipeline_context(store, pipeline)
    runs = [c for c in store.get_children_contexts_by_context(context.id)
            if c.type_id == store.get_context_type('pipeline_run').id] if context else []
  return sorted(runs, key=lambda c: (c.create_time_since_epoch, c.id))


def pipeline_artifacts(store, type_name: str,
                       pipeline: Optional[str] = None) -> List[metadata_store_pb2.Artifact]:
  """Every artifact of `type_name` in the store; only `pipeline`'s if given."""
  if pipeline is None:
    return list(store.get_artifacts_by_type(type_name))
  context = pipeline_context(store, pipeline)
  if context is None:
    return []
  try:
    type_id = store.get_artifact_type(type_name).id
  except errors.NotFoundError:
    return []
  return [a for a in store.get_artifacts_by_context(context.id) if a.type_id == type_id]


def node_name(store, execution_id: int, node_type_id: int) -> str:
  for context in store.get_contexts_by_execution(execution_id):
    if context.type_id == node_type_id:
      return context.name.split('.', 1)[-1]  # '<pipeline>.<node id>'
  return '?'


def _outputs(store, execution_id: int) -> Dict[str, List[metadata_store_pb2.Artifact]]:
  events = [e for e in store.get_events_by_execution_ids([execution_id])
            if e.type in (metadata_store_pb2.Event.OUTPUT, metadata_store_pb2.Event.DECLARED_OUTPUT)]
  artifacts = {a.id: a for a in store.get_artifacts_by_id([e.artifact_id for e in events])}
  outputs: Dict[str, List[metadata_store_pb2.Artifact]] = {}
  for event in events:
    key = event.path.steps[0].key if event.path.steps else ''
    outputs.setdefault(key, []).append(artifacts[event.artifact_id])
  return outputs


def _error(execution: metadata_store_pb2.Execution) -> str:
  """A failed execution's one line: what `tfzoo run` recorded, else the last line of the
  message TFX's launcher recorded."""
  if execution.last_known_state != metadata_store_pb2.Execution.FAILED:
    return ''
  if ERROR_PROPERTY in execution.custom_properties:
    return execution.custom_properties[ERROR_PROPERTY].string_value
  recorded = execution.custom_properties.get(EXECUTION_RESULT)
  if recorded is None:
    return ''
  try:
    message = json.loads(recorded.string_value).get('resultMessage', '')
  except ValueError:
    return ''
  lines = [line.strip() for line in message.strip().splitlines() if line.strip()]
  return lines[-1] if lines else ''


def summarize(store: metadata_store.MetadataStore, run: metadata_store_pb2.Context,
              pipeline: Optional[str] = None) -> RunSummary:
  node_type = store.get_context_type('node')
  executions = sorted(store.get_executions_by_context(run.id),
                      key=lambda e: (e.create_time_since_epoch, e.id))
  components = []
  for e in executions:
    seconds = max(0, e.last_update_time_since_epoch - e.create_time_since_epoch) / 1000
    state = _STATES.get(e.last_known_state, '?')
    if state == 'executed' and e.type.endswith('.Resolver'):
      state = 'resolved'  # a resolver looks artifacts up; it has nothing to cache
    components.append(ComponentRun(
        node=node_name(store, e.id, node_type.id), state=state,
        seconds=seconds, outputs=_outputs(store, e.id),
        started=e.create_time_since_epoch / 1000, error=_error(e), execution_id=e.id))
  pipeline = pipeline or next((c.name for c in store.get_contexts_by_type('pipeline')), '?')
  summary = RunSummary(pipeline=pipeline, run_id=run.name, components=components, metrics=[],
                       blessed=None, pushed_to=None)
  trainer = summary.component('Trainer')
  if trainer and trainer.outputs.get('model_run'):
    run_dir = trainer.outputs['model_run'][0].uri
    summary.tensorboard_dir = run_dir
    summary.pictures = sorted(glob.glob(os.path.join(run_dir, 'pictures', '*.png')))
    if trainer.state == 'executed':  # a cached Trainer trained nothing in this run
      summary.resumed = checks.resumed(trainer.outputs['model_run'][0])
  tuner = summary.component('Tuner')
  if tuner and tuner.outputs.get('best_hyperparameters'):
    summary.tuned = checks.tuned(tuner.outputs['best_hyperparameters'][0],
                                 (tuner.outputs.get('tuner_results') or [None])[0])
  evaluator = summary.component('Evaluator')
  if evaluator and evaluator.outputs.get('blessing'):
    blessing = evaluator.outputs['blessing'][0]
    summary.blessed = bool(blessing.custom_properties['blessed'].int_value)
    if evaluator.outputs.get('evaluation'):
      evaluation_uri = evaluator.outputs['evaluation'][0].uri
      summary.metrics = gate_checks(evaluation_uri)
      summary.samples = quality_samples(evaluation_uri)
  validator = summary.component('DriftValidator')
  if validator and validator.outputs.get('anomalies'):
    summary.drift = checks.drift_check(validator.outputs['anomalies'][0],
                                       lambda: _why_no_baseline(store, pipeline, validator))
  infra = summary.component('InfraValidator')
  if infra and infra.outputs.get('blessing'):
    summary.infra = checks.infra_check(infra.outputs['blessing'][0])
  pusher = summary.component('Pusher')
  if pusher and pusher.outputs.get('pushed_model'):
    pushed = pusher.outputs['pushed_model'][0].custom_properties
    if pushed['pushed'].int_value:
      summary.pushed_to = pushed['pushed_destination'].string_value
  return summary


def _why_no_baseline(store, pipeline: str, validator: ComponentRun) -> str:
  """Why the DriftValidator had nothing to compare with: no version was served when it ran,
  the served one was trained on these very statistics, or its lineage in ML Metadata does not
  reach its training statistics (a store edited or broken by hand)."""
  from pipelines.mlmd import pushes  # pylint: disable=g-import-not-at-top (it imports this)
  push = pushes.served(store, pipeline, before_ms=validator.started * 1000)
  if push is None:
    return 'no served model yet'
  model = push.inputs.get('model')
  trained_on = pushes.training_statistics(store, model.id) if model is not None else None
  candidate = pushes.inputs(store, validator.execution_id).get('statistics')
  if trained_on is not None and candidate is not None and trained_on.id == candidate.id:
    return 'the served model was trained on these same statistics'
  return (f'the statistics served version {push.version} was trained on are not in its '
          'lineage in ML Metadata, so there was nothing to compare with')


def latest_run(config, pipeline: Optional[str] = None) -> Optional[RunSummary]:
  """The latest run in the store behind `config`; of `pipeline` if given."""
  store = open_store(config)
  runs = run_contexts(store, pipeline)
  return summarize(store, runs[-1], pipeline) if runs else None


QUALITY_METRICS_FILE = quality_keys.METRICS_FILE  # components/quality_evaluator writes it


def quality_result(evaluation_uri: str) -> Optional[dict]:
  path = os.path.join(evaluation_uri, QUALITY_METRICS_FILE)
  if not os.path.exists(path):
    return None
  with open(path, encoding='utf-8') as f:
    return json.load(f)


def quality_samples(evaluation_uri: str) -> Dict[str, str]:
  """What a QualityEvaluator recorded the model answering (e.g. each word's translation)."""
  result = quality_result(evaluation_uri)
  return dict(result.get('samples') or {}) if result else {}


def gate_checks(evaluation_uri: str) -> List[MetricCheck]:
  """Each thresholded metric of the overall slice: its value, its thresholds, and whether the
  Evaluator's validation passed it (the same result that decided the blessing)."""
  quality = quality_result(evaluation_uri)
  if quality is not None:  # QualityEvaluator: the checks it made, as it made them
    baseline = quality.get('baseline_metrics') or {}
    return [MetricCheck(key=g['key'], value=g['value'], threshold=g['threshold'],
                        passed=g['passed'], baseline=baseline.get(g['key']))
            for g in quality['gates']]
  return evaluation.load(evaluation_uri).gates
