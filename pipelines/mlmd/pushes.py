"""Every version a pipeline pushed, read from ML Metadata, and the rollbacks recorded there.

A push is a PushedModel artifact with `pushed` = 1. The Pusher makes one in a pipeline run;
`tfzoo rollback` makes one with a `tfzoo.Rollback` execution in the pipeline's context (no run
of its own), whose inputs are the pushed version it copies (`source`) and that push's own
`model`, `model_blessing` and `infra_blessing`, so every push, whichever made it, leads back
to the model and the two blessings it was pushed on. Reading imports nothing heavy.
"""
from __future__ import annotations

import dataclasses
import os
from typing import Dict, List, Optional

from ml_metadata.proto import metadata_store_pb2

from pipelines.mlmd import summary

ROLLBACK_TYPE = 'tfzoo.Rollback'
ROLLBACK_OF = 'rollback_of'  # on a rollback's PushedModel: the version it is a copy of
SOURCE_KEY = 'source'
BLESSINGS = (('model_blessing', 'the Evaluator'), ('infra_blessing', 'the InfraValidator'))


@dataclasses.dataclass
class Push:
  """One pushed version: its artifact, the execution that made it and that execution's inputs."""
  version: int
  destination: str
  pushed_ms: int
  artifact: metadata_store_pb2.Artifact  # the PushedModel
  execution: metadata_store_pb2.Execution  # the Pusher's, or the rollback's
  inputs: Dict[str, metadata_store_pb2.Artifact]  # model, model_blessing, infra_blessing, ...
  run_id: str  # the pipeline run whose Pusher pushed the model ('' if none is recorded)
  rollback_of: Optional[int] = None

  @property
  def model_id(self) -> Optional[int]:
    model = self.inputs.get('model')
    return model.id if model is not None else None

  def refusal(self) -> Optional[str]:
    """Why this version may not be served again (None: blessed by both, it may)."""
    for key, by in BLESSINGS:
      blessing = self.inputs.get(key)
      if blessing is None:
        return f'was pushed without a blessing from {by} (no {key} in its lineage)'
      if blessing.custom_properties['blessed'].int_value != 1:
        return f'was never blessed by {by} ({key} #{blessing.id} says not blessed)'
    return None


def producer(store, artifact_id: int) -> Optional[metadata_store_pb2.Execution]:
  """The execution that wrote the artifact (cached executions point at it too, later)."""
  events = [e for e in store.get_events_by_artifact_ids([artifact_id])
            if e.type in (metadata_store_pb2.Event.OUTPUT,
                          metadata_store_pb2.Event.DECLARED_OUTPUT)]
  if not events:
    return None
  executions = store.get_executions_by_id([e.execution_id for e in events])
  return min(executions, key=lambda e: (e.create_time_since_epoch, e.id))


def is_rollback(execution: Optional[metadata_store_pb2.Execution]) -> bool:
  return execution is not None and execution.type == ROLLBACK_TYPE


def inputs(store, execution_id: int) -> Dict[str, metadata_store_pb2.Artifact]:
  """{input key: artifact} of an execution (the first artifact of each key)."""
  events = [e for e in store.get_events_by_execution_ids([execution_id])
            if e.type == metadata_store_pb2.Event.INPUT and e.path.steps]
  artifacts = {a.id: a for a in store.get_artifacts_by_id([e.artifact_id for e in events])}
  found: Dict[str, metadata_store_pb2.Artifact] = {}
  for event in events:
    found.setdefault(event.path.steps[0].key, artifacts[event.artifact_id])
  return found


def _version(artifact: metadata_store_pb2.Artifact) -> Optional[int]:
  props = artifact.custom_properties
  text = props['pushed_version'].string_value if 'pushed_version' in props else ''
  if not text.isdigit():
    text = os.path.basename(props['pushed_destination'].string_value)
  return int(text) if text.isdigit() else None


def pushes(store, pipeline: str) -> List[Push]:
  """Every push of `pipeline`, oldest first (the Pusher's and the rollbacks')."""
  run_type = store.get_context_type('pipeline_run').id
  found: List[Push] = []
  by_artifact: Dict[int, Push] = {}
  artifacts = [a for a in summary.pipeline_artifacts(store, 'PushedModel', pipeline)
               if a.custom_properties['pushed'].int_value == 1]
  for artifact in sorted(artifacts, key=lambda a: (a.create_time_since_epoch, a.id)):
    version, execution = _version(artifact), producer(store, artifact.id)
    if version is None or execution is None:
      continue
    given = inputs(store, execution.id)
    run_id = next((c.name for c in store.get_contexts_by_execution(execution.id)
                   if c.type_id == run_type), '')
    rollback_of = None
    if is_rollback(execution):
      rollback_of = artifact.custom_properties[ROLLBACK_OF].int_value
      source = by_artifact.get(given[SOURCE_KEY].id) if SOURCE_KEY in given else None
      run_id = source.run_id if source else run_id
    push = Push(version=version,
                destination=artifact.custom_properties['pushed_destination'].string_value,
                pushed_ms=artifact.create_time_since_epoch, artifact=artifact,
                execution=execution, inputs=given, run_id=run_id, rollback_of=rollback_of)
    found.append(push)
    by_artifact[artifact.id] = push
  return found


def served(store, pipeline: str, before_ms: float = float('inf')) -> Optional[Push]:
  """The push TF Serving serves now: the highest version still on disk (its latest policy);
  of those pushed before `before_ms` (ms since the epoch) if given."""
  return max((p for p in pushes(store, pipeline)
              if p.pushed_ms < before_ms and os.path.isdir(p.destination)),
             key=lambda p: p.version, default=None)


def training_statistics(store, model_id: int) -> Optional[metadata_store_pb2.Artifact]:
  """StatisticsGen's statistics of the raw examples a model was trained on, by lineage: the
  Trainer that wrote the model, the Transform graph it took, that Transform's examples, and
  the statistics computed from those examples (a cached StatisticsGen points at the same)."""
  trainer = producer(store, model_id)
  graph = inputs(store, trainer.id).get('transform_graph') if trainer else None
  transform = producer(store, graph.id) if graph else None
  examples = inputs(store, transform.id).get('examples') if transform else None
  if examples is None:
    return None
  readers = [e.execution_id for e in store.get_events_by_artifact_ids([examples.id])
             if e.type == metadata_store_pb2.Event.INPUT]
  found = [e.artifact_id for e in store.get_events_by_execution_ids(readers)
           if e.type == metadata_store_pb2.Event.OUTPUT and e.path.steps
           and e.path.steps[0].key == 'statistics']
  statistics = store.get_artifacts_by_id(sorted(set(found)))
  return min(statistics, key=lambda a: (a.create_time_since_epoch, a.id), default=None)


def evaluation_uri(store, push: Push) -> Optional[str]:
  """The ModelEvaluation beside the push's ModelBlessing (what the Evaluator gated on)."""
  blessing = push.inputs.get('model_blessing')
  evaluator = producer(store, blessing.id) if blessing is not None else None
  if evaluator is None:
    return None
  events = [e for e in store.get_events_by_execution_ids([evaluator.id])
            if e.type == metadata_store_pb2.Event.OUTPUT and e.path.steps
            and e.path.steps[0].key == 'evaluation']
  if not events:
    return None
  [evaluation] = store.get_artifacts_by_id([events[0].artifact_id])
  return evaluation.uri


def _event(key: str, kind: int) -> metadata_store_pb2.Event:
  event = metadata_store_pb2.Event(type=kind)
  event.path.steps.add().key = key
  event.path.steps.add().index = 0
  return event


def record_rollback(config, pipeline: str, source: Push, destination: str,
                    version: int) -> int:
  """Records in one ML Metadata transaction that `destination` (version `version`) is a copy
  of `source`: a COMPLETE tfzoo.Rollback execution in the pipeline's context, its inputs
  the source push, model and blessings, its output a PushedModel. Returns the execution id.

  `config`: the store's ConnectionConfig, writable (metadata.connection_config(...,
  read_only=False)).
  """
  store = summary.open_store(config)
  context = summary.pipeline_context(store, pipeline)
  if context is None:
    raise LookupError(f'no pipeline context {pipeline!r} in ML Metadata')
  type_id = store.put_execution_type(metadata_store_pb2.ExecutionType(name=ROLLBACK_TYPE))
  execution = metadata_store_pb2.Execution(
      type_id=type_id, last_known_state=metadata_store_pb2.Execution.COMPLETE)
  for key, value in (('source_version', source.version), ('version', version)):
    execution.custom_properties[key].int_value = value
  for key, value in (('source_destination', source.destination),
                     ('destination', destination)):
    execution.custom_properties[key].string_value = value
  pushed = metadata_store_pb2.Artifact(
      type_id=store.get_artifact_type('PushedModel').id, uri=destination,
      state=metadata_store_pb2.Artifact.LIVE)
  pushed.custom_properties['pushed'].int_value = 1
  pushed.custom_properties['pushed_destination'].string_value = destination
  pushed.custom_properties['pushed_version'].string_value = str(version)
  pushed.custom_properties[ROLLBACK_OF].int_value = source.version
  given = [(source.artifact, _event(SOURCE_KEY, metadata_store_pb2.Event.INPUT))]
  given += [(artifact, _event(key, metadata_store_pb2.Event.INPUT))
            for key, artifact in sorted(source.inputs.items()) if key != SOURCE_KEY]
  execution_id, _, _ = store.put_execution(
      execution, given + [(pushed, _event('pushed_model', metadata_store_pb2.Event.OUTPUT))],
      [context], force_reuse_context=True)
  return execution_id
