"""What the report shows, read from ML Metadata and the artifacts it points at; nothing is
recomputed. One PipelineView per pipeline; a pipeline never run gets a view that says so."""
from __future__ import annotations

import base64
import dataclasses
import glob
import os
from typing import Dict, List, Optional, Tuple

from ml_metadata.proto import metadata_store_pb2

from pipelines import registry
from pipelines.artifacts import data, evaluation, training
from pipelines.mlmd import inspection, manifest, metadata, pushes, summary
from pipelines.paths import Paths
from pipelines.serving import server

TRANSFORM_ASSETS = os.path.join('transform_fn', 'assets')


@dataclasses.dataclass
class RunRow:
  run_id: str
  started: float  # seconds since the epoch
  outcome: str
  summary: summary.RunSummary
  manifest: Optional[dict]
  gate_value: Optional[float]  # the pipeline's first gate on this run, if it was evaluated


@dataclasses.dataclass
class PipelineView:
  name: str
  spec: Optional[registry.ModelSpec]
  runs: List[RunRow] = dataclasses.field(default_factory=list)
  edges: List[Tuple[str, str]] = dataclasses.field(default_factory=list)  # latest run's DAG
  pushes: List[pushes.Push] = dataclasses.field(default_factory=list)
  served_version: Optional[int] = None
  statistics: List[data.SplitStats] = dataclasses.field(default_factory=list)
  schema: List[data.SchemaFeature] = dataclasses.field(default_factory=list)
  anomalies: Dict[str, List[str]] = dataclasses.field(default_factory=dict)
  curves: Dict[str, Dict[str, List[Tuple[int, float]]]] = dataclasses.field(default_factory=dict)
  evaluation: Optional[evaluation.Evaluation] = None
  quality: Optional[dict] = None  # what a QualityEvaluator (or the GANs' judge) measured
  class_names: Dict[int, str] = dataclasses.field(default_factory=dict)
  pictures: List[Tuple[str, str]] = dataclasses.field(default_factory=list)  # (name, data URI)
  lineage: str = ''
  problem: str = ''  # a store that could not be read, in one line

  @property
  def gate(self) -> Optional[registry.Gate]:
    return self.spec.gates[0] if self.spec and self.spec.gates else None

  @property
  def latest(self) -> Optional[RunRow]:
    return self.runs[-1] if self.runs else None

  @property
  def evaluated(self) -> Optional[RunRow]:
    """The latest run that reached the Evaluator."""
    return next((r for r in reversed(self.runs) if r.summary.blessed is not None), None)

  @property
  def served(self) -> Optional[pushes.Push]:
    return next((p for p in reversed(self.pushes) if p.version == self.served_version), None)


def _spec(name: str) -> Optional[registry.ModelSpec]:
  try:
    return registry.pipeline_spec(name)
  except registry.UnknownModelError:
    return None


def pipelines_in(paths: Paths) -> List[str]:
  """Every registry model, then any other pipeline with a store here (fast modes)."""
  names = list(registry.REGISTRY)
  for path in sorted(glob.glob(os.path.join(paths.home, 'metadata', '*.sqlite'))):
    name = os.path.basename(path)[:-len('.sqlite')]
    if name not in names:
      names.append(name)
  return names


def _edges(store, run: metadata_store_pb2.Context) -> List[Tuple[str, str]]:
  """(upstream node, node) for each artifact a node of this run consumed."""
  node_type = store.get_context_type('node').id
  executions = store.get_executions_by_context(run.id)
  names = {e.id: summary.node_name(store, e.id, node_type) for e in executions}
  events = store.get_events_by_execution_ids(list(names))
  consumed = [(e.artifact_id, e.execution_id) for e in events
              if e.type == metadata_store_pb2.Event.INPUT]
  produced = store.get_events_by_artifact_ids(list({a for a, _ in consumed}))
  made_by: Dict[int, str] = {}
  for event in produced:
    if event.type == metadata_store_pb2.Event.OUTPUT:
      name = names.get(event.execution_id) or summary.node_name(store, event.execution_id,
                                                                node_type)
      made_by.setdefault(event.artifact_id, name)
  edges = {(made_by[a], names[x]) for a, x in consumed if a in made_by and made_by[a] != names[x]}
  return sorted(edges)


def _uri(run: summary.RunSummary, node: str, key: str) -> Optional[str]:
  component = run.component(node)
  artifacts = component.outputs.get(key) if component else None
  return artifacts[0].uri if artifacts else None


def _class_names(transform_graph: Optional[str], label: str) -> Dict[int, str]:
  """A string label's vocabulary (Transform's asset, one value a line, id = line number): the
  asset named after the label, else the only one (autocomplete's letters)."""
  if not transform_graph:
    return {}
  assets = sorted(glob.glob(os.path.join(transform_graph, TRANSFORM_ASSETS, '*')))
  named = [p for p in assets if label in os.path.basename(p)]
  chosen = named or (assets if len(assets) == 1 else [])
  if not chosen:
    return {}
  with open(chosen[0], encoding='utf-8') as f:
    return dict(enumerate(line.rstrip('\n') for line in f))


def _picture(path: str) -> Tuple[str, str]:
  with open(path, 'rb') as f:
    return os.path.basename(path), 'data:image/png;base64,' + base64.b64encode(f.read()).decode()


def _artifact_views(view: PipelineView, run: summary.RunSummary,
                    evaluated: Optional[summary.RunSummary], label: str) -> None:
  """Data from the latest run (what it read, refused or not); training, evaluation and
  pictures from the latest run that reached the Evaluator."""
  statistics_uri = _uri(run, 'StatisticsGen', 'statistics')
  if statistics_uri:
    view.statistics = data.statistics(statistics_uri)
  schema_uri = _uri(run, 'ImportSchemaGen', 'schema')
  if schema_uri:
    view.schema = data.schema(schema_uri)
  view.anomalies = data.anomalies(_uri(run, 'ExampleValidator', 'anomalies'))
  if evaluated is None:
    return
  run = evaluated
  if run.tensorboard_dir and os.path.isdir(run.tensorboard_dir):
    view.curves = training.scalars(run.tensorboard_dir)
  evaluation_uri = _uri(run, 'Evaluator', 'evaluation')
  if evaluation_uri and os.path.isdir(evaluation_uri):
    view.quality = summary.quality_result(evaluation_uri)
    if view.quality is None:
      view.evaluation = evaluation.load(evaluation_uri)
      view.class_names = _class_names(_uri(run, 'Transform', 'transform_graph'), label)
  view.pictures = [_picture(p) for p in run.pictures if os.path.isfile(p)]


def collect(paths: Paths, name: str) -> PipelineView:
  view = PipelineView(name=name, spec=_spec(name))
  gate = view.gate
  if not metadata.has_store(paths, name):
    return view
  try:
    store = metadata.open_store(metadata.connection_config(paths, name))
    contexts = summary.run_contexts(store, name)
    for context in contexts:
      run = summary.summarize(store, context, name)
      value = next((m.value for m in run.metrics if gate and m.key == gate.key), None)
      view.runs.append(RunRow(run_id=run.run_id, started=context.create_time_since_epoch / 1000,
                              outcome=inspection.run_outcome(run), summary=run,
                              manifest=manifest.read(context), gate_value=value))
    if contexts:
      view.edges = _edges(store, contexts[-1])
    view.pushes = pushes.pushes(store, name)
    on_disk = server.pushed_models(paths.serving_root()).get(name)
    view.served_version = on_disk[-1] if on_disk else None
    if view.latest is not None:
      _artifact_views(view, view.latest.summary, view.evaluated and view.evaluated.summary,
                      view.spec.label if view.spec else '')
    if view.served is not None:
      view.lineage = inspection.lineage(name, metadata.connection_config(paths, name),
                                        view.served.destination)
  except (OSError, ValueError, RuntimeError, LookupError) as e:
    view.problem = f'{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ""}'
  return view
