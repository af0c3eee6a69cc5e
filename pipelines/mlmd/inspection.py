"""Reading ML Metadata back for people: runs, the lineage of a pushed model, why a model was
not blessed, and where a run's TensorBoard logs are. Everything here reads the store only.
"""
from __future__ import annotations

import datetime
import glob
import json
import os
from typing import Dict, List, Optional, Tuple

from components.recorded_tuner import keys as tuner_keys
from google.protobuf import json_format
from ml_metadata.proto import metadata_store_pb2

from pipelines import registry
from pipelines.mlmd import checks, manifest, metadata, pushes, summary


class InspectionError(LookupError):
  """One line: what was looked for and not found."""


def stores(paths, model: Optional[str] = None) -> Dict[str, object]:
  """{pipeline: its store's ConnectionConfig} (one pipeline if `model` is given): each
  pipeline's SQLite file under the work directory, or the shared MySQL store for every
  pipeline recorded there. A `model` that is not a registered pipeline is refused before any
  path is made of it."""
  if model:
    try:
      registry.pipeline_spec(model)
    except registry.UnknownModelError as e:
      raise InspectionError(str(e)) from None
  if metadata.shared():
    recorded = metadata.pipelines(paths)
    if model and model not in recorded:
      raise InspectionError(f'no runs of {model} recorded in ML Metadata '
                            f'({metadata.describe(paths)}); run `make run-pipeline '
                            f'MODEL={model}` first')
    if not recorded:
      raise InspectionError(f'no pipeline has run yet (nothing recorded in '
                            f'{metadata.describe(paths)})')
    return {name: metadata.connection_config(paths, name)
            for name in ([model] if model else recorded)}
  metadata_dir = os.path.join(paths.home, 'metadata')
  if model:
    path = os.path.join(metadata_dir, f'{model}.sqlite')
    if not os.path.exists(path):
      raise InspectionError(f'no runs of {model} recorded (no {path}); run '
                            f'`make run-pipeline MODEL={model}` first')
    return {model: metadata.sqlite_config(path)}
  found = {os.path.basename(p)[:-len('.sqlite')]: metadata.sqlite_config(p)
           for p in sorted(glob.glob(os.path.join(metadata_dir, '*.sqlite')))}
  if not found:
    raise InspectionError(f'no pipeline has run yet (no stores in {metadata_dir})')
  return found


def _where(config) -> str:
  """A store, for messages: its SQLite path, or MySQL host:port/database."""
  if config.HasField('sqlite'):
    return config.sqlite.filename_uri
  return f'MySQL {config.mysql.host}:{config.mysql.port}/{config.mysql.database}'


def _time(ms: int) -> str:
  return datetime.datetime.fromtimestamp(ms / 1000).strftime('%Y-%m-%d %H:%M:%S')


def run_outcome(run: summary.RunSummary) -> str:
  failed = run.failed
  if failed is not None:
    return f'{failed.state} in {failed.node}'
  if run.pushed_to:
    pusher = run.component('Pusher')
    return f'pushed {run.pushed_to}' + (' (cached)' if pusher and pusher.state == 'cached' else '')
  if run.blessed is False:
    return 'not blessed'
  if run.infra is not None and not run.infra.passed:
    return 'not servable by TF Serving'
  if run.blessed and run.component('Pusher') is not None:
    return 'blessed, already pushed'
  return 'incomplete'


def runs(config, pipeline: Optional[str] = None
         ) -> List[Tuple[metadata_store_pb2.Context, summary.RunSummary]]:
  """Every run in the store (summary.open_store's target); only `pipeline`'s if given."""
  store = summary.open_store(config)
  return [(context, summary.summarize(store, context, pipeline))
          for context in summary.run_contexts(store, pipeline)]


def format_runs(pipeline: str, config) -> str:
  lines = []
  for context, run in runs(config, pipeline):
    store_executions = [c.seconds for c in run.components]
    took = sum(store_executions)
    lines.append(f'{pipeline}  run {run.run_id}  started {_time(context.create_time_since_epoch)}'
                 f'  components {took:.1f} s  {run_outcome(run)}')
    lines.append('    ' + ', '.join(f'{c.node} {c.state} {c.seconds:.1f} s'
                                    for c in run.components))
    if run.tuned is not None:
      lines.append(f'    {run.tuned.format()}')
    lines.append(f'    produced by: {manifest.describe(manifest.read(context))}')
  return '\n'.join(lines) if lines else f'{pipeline}: no runs recorded'


# --- lineage ---------------------------------------------------------------------------------

def _pushed_models(store, pipeline: Optional[str] = None) -> List[metadata_store_pb2.Artifact]:
  pushed = [a for a in summary.pipeline_artifacts(store, 'PushedModel', pipeline)
            if a.custom_properties['pushed'].int_value == 1]
  return sorted(pushed, key=lambda a: (a.create_time_since_epoch, a.id))


def find_push(store, pipeline: str, version_path: Optional[str]) -> metadata_store_pb2.Artifact:
  pushed = _pushed_models(store, pipeline)
  if not pushed:
    raise InspectionError(f'{pipeline} has pushed nothing yet (`tfzoo why-not-blessed '
                          f'{pipeline}` says why)')
  if version_path is None:
    return pushed[-1]
  wanted = os.path.realpath(version_path)
  for artifact in reversed(pushed):
    destination = artifact.custom_properties['pushed_destination'].string_value
    if os.path.realpath(destination) == wanted:
      return artifact
  raise InspectionError(f'{version_path} was not pushed by pipeline {pipeline}')


def pushed_model(store, pipeline: str) -> Tuple[metadata_store_pb2.Artifact,
                                                 metadata_store_pb2.Artifact]:
  """(the Model artifact, its PushedModel) of `pipeline`'s latest push: the model the Pusher
  execution that pushed it took as input."""
  push = find_push(store, pipeline, None)
  pusher = _producer(store, push.id)
  [model_id] = [e.artifact_id for e in store.get_events_by_execution_ids([pusher.id])
                if e.type == metadata_store_pb2.Event.INPUT and e.path.steps
                and e.path.steps[0].key == 'model']
  [model] = store.get_artifacts_by_id([model_id])
  return model, push


_producer = pushes.producer


def _details(store, execution: metadata_store_pb2.Execution,
             artifact: metadata_store_pb2.Artifact, type_name: str) -> str:
  props = artifact.custom_properties
  if type_name == 'Examples':
    source = execution.custom_properties
    if 'dataset' in source:
      return f'from TFDS {source["dataset"].string_value}'
    if 'input_base' in source:
      return f'from {source["input_base"].string_value}'
  if type_name == 'ExampleAnomalies' and 'blessed' in props:
    per_split = json_format.MessageToDict(props['blessed'].struct_value)
    bad = sorted(split for split, ok in per_split.items() if not ok)
    return f'anomalies in {", ".join(bad)}' if bad else 'no anomalies'
  tuned = checks.tuned(artifact, None) if type_name == 'HyperParameters' else None
  if tuned is not None:
    return (f'{checks.format_values(tuned.values)} (best by {tuned.objective}: '
            f'{tuned.best_score:.4g})')
  if type_name == 'TunerResults' and tuner_keys.TRIAL_COUNT in props:
    return f'{props[tuner_keys.TRIAL_COUNT].int_value} trials'
  if type_name == 'Model' and tuner_keys.MODEL_HYPERPARAMETERS in props:
    values = json.loads(props[tuner_keys.MODEL_HYPERPARAMETERS].string_value)
    return f'trained with the Tuner\'s {checks.format_values(values)}'
  if type_name == 'ModelBlessing':
    return 'blessed' if props['blessed'].int_value else 'NOT blessed'
  if type_name == 'ModelEvaluation' and os.path.isdir(artifact.uri):
    return ', '.join(f'{c.key} = {"n/a" if c.value is None else f"{c.value:.6g}"}'
                     for c in summary.gate_checks(artifact.uri))
  if type_name == 'InfraBlessing' and 'blessed' in props:
    return checks.infra_check(artifact).format()
  if type_name == 'PushedModel':
    return f'-> {props["pushed_destination"].string_value}'
  return ''


def lineage(pipeline: str, config, version_path: Optional[str] = None) -> str:
  """The run that pushed `version_path` (default: the latest push), component by component:
  what each produced (with URIs, and the run that first made it when it came from cache)."""
  store = summary.open_store(config)
  push = find_push(store, pipeline, version_path)
  pusher = _producer(store, push.id)
  rollbacks = []
  while pushes.is_rollback(pusher):  # `tfzoo rollback`'s copy: the lineage of what it copied
    source = pushes.inputs(store, pusher.id)[pushes.SOURCE_KEY]
    rollbacks.append(f'{push.custom_properties["pushed_destination"].string_value}  rollback '
                     f'at {_time(pusher.create_time_since_epoch)} ({pushes.ROLLBACK_TYPE} '
                     f'#{pusher.id}): the files of version '
                     f'{push.custom_properties[pushes.ROLLBACK_OF].int_value}')
    push, pusher = source, _producer(store, source.id)
  run = next(c for c in store.get_contexts_by_execution(pusher.id)
             if c.type_id == store.get_context_type('pipeline_run').id)
  result = summary.summarize(store, run, pipeline)
  types = {t.id: t.name for t in store.get_artifact_types()}
  destination = push.custom_properties['pushed_destination'].string_value
  lines = rollbacks + [f'{destination}', f'  pipeline {result.pipeline}, run {run.name}',
                       f'  produced by: {manifest.describe(manifest.read(run))}']
  executions = sorted(store.get_executions_by_context(run.id),
                      key=lambda e: (e.create_time_since_epoch, e.id))
  for component, execution in zip(result.components, executions):
    lines.append(f'  {component.node} ({component.state})')
    for key, artifacts in sorted(component.outputs.items()):  # ML Metadata's order varies
      for artifact in artifacts:
        type_name = types.get(artifact.type_id, '?')
        producer = _producer(store, artifact.id) or execution
        origin = ''
        if producer.id != execution.id:
          first_run = next((c.name for c in store.get_contexts_by_execution(producer.id)
                            if c.type_id == run.type_id), '?')
          origin = f' (made by run {first_run})'
        detail = _details(store, producer, artifact, type_name)
        lines.append(f'    {key}: {type_name} #{artifact.id} {artifact.uri}{origin}'
                     + (f'  {detail}' if detail else ''))
  return '\n'.join(lines)


# --- why not blessed -------------------------------------------------------------------------

def why_not_blessed(pipeline: str, config, run_id: Optional[str] = None) -> str:
  """For the given run (default: the latest run that pushed nothing), why nothing was pushed:
  each gating metric, its threshold and its value, or the component that failed."""
  all_runs = [run for _, run in runs(config, pipeline)]
  if not all_runs:
    raise InspectionError(f'no runs of {pipeline} recorded')
  if run_id:
    chosen = next((r for r in all_runs if r.run_id == run_id), None)
    if chosen is None:
      raise InspectionError(f'{pipeline} has no run {run_id!r}')
  else:
    chosen = next((r for r in reversed(all_runs) if not r.pushed_to and not (
        r.blessed and (r.infra is None or r.infra.passed)
        and r.component('Pusher') is not None)), None)
    if chosen is None:
      latest = all_runs[-1]
      return (f'{pipeline}: every run was blessed; the latest ({latest.run_id}) pushed '
              f'{latest.pushed_to or "a model pushed before"}')
  lines = [f'{pipeline} run {chosen.run_id}: {run_outcome(chosen)}']
  failed = chosen.failed
  if failed is not None:
    lines.append(f'  {failed.node} {failed.state}; the run stopped there (its full log is in '
                 'logs/, and `tfzoo runs` lists every component)')
  for metric in chosen.metrics:
    value = 'n/a' if metric.value is None else f'{metric.value:.6g}'
    lines.append(f'  {metric.key} = {value}, threshold {metric.threshold}: '
                 f'{"passed" if metric.passed else "FAILED"}')
  if chosen.infra is not None and not chosen.infra.passed:
    lines.append(f'  {chosen.infra.format()}')
  if chosen.blessed is False and not any(not m.passed for m in chosen.metrics):
    lines.append('  (no metric failed its own bound: the change threshold against the blessed '
                 'baseline refused it)')
  return '\n'.join(lines)


# --- TensorBoard -----------------------------------------------------------------------------

def tensorboard_logdirs(config, all_runs: bool = False,
                        pipeline: Optional[str] = None) -> List[Tuple[str, str]]:
  """[(name, model_run directory)] of the latest Trainer execution, or of every one (the
  model's Trainer only: a GAN pipeline's ReferenceTrainer logs its judge's training)."""
  store = summary.open_store(config)
  node_type = store.get_context_type('node')
  model_runs = sorted(summary.pipeline_artifacts(store, 'ModelRun', pipeline),
                      key=lambda a: (a.create_time_since_epoch, a.id))
  model_runs = [a for a in model_runs if os.path.isdir(a.uri) and (
      (producer := _producer(store, a.id)) is None
      or summary.node_name(store, producer.id, node_type.id) == 'Trainer')]
  if not model_runs:
    raise InspectionError(f'no training logs recorded in {_where(config)}')
  chosen = model_runs if all_runs else model_runs[-1:]
  return [(f'trainer-{a.id}', a.uri) for a in chosen]
