"""A pipeline page's sections on its model: the evaluation and its gates, the pictures, the
served version's lineage and the model card."""
from __future__ import annotations

import ast
from typing import List, Optional

from pipelines import registry
from pipelines.artifacts import evaluation as evaluation_reader
from pipelines.mlmd import manifest
from pipelines.report import charts
from pipelines.report.collect import PipelineView
from pipelines.report.layout import e, number, pill, table, when


def _which(view: PipelineView, what: str) -> str:
  """Says which run a section shows when it is not the latest."""
  if view.evaluated is view.latest:
    return ''
  return (f'<p class="muted">From run {e(view.evaluated.run_id)}, the latest {what} one (the '
          f'latest run, {e(view.latest.run_id)}, {e(view.latest.outcome)}).</p>')


def _gate_rows(gates) -> List[List[str]]:
  rows = []
  for g in gates:
    change = (number(g.value - g.baseline)
              if g.value is not None and g.baseline is not None else '')
    allowed = '' if g.allowed_change is None else f'{g.allowed_change:+g}'
    rows.append([e(g.key), f'<b data-gate="{e(g.key)}">{number(g.value)}</b>', e(g.threshold),
                 number(g.baseline) if g.baseline is not None else
                 '<span class="muted">no baseline</span>', change, allowed,
                 pill('passed', 'ok') if g.passed else pill('FAILED', 'bad')])
  return rows


def _per_class(result: evaluation_reader.Evaluation, view: PipelineView) -> str:
  gate = view.gate
  if not result.label_feature or gate is None:
    return ''
  values = result.per_class(gate.key)
  counts = result.per_class('example_count')
  if not values:
    return ''
  names = view.class_names or {}

  def name(label: str) -> str:  # a vocabulary id (a label sliced after Transform) by its name
    return names.get(int(label), label) if label.isdigit() and names else label
  rows = [[e(name(label)), f'<span data-class="{e(name(label))}">{number(value)}</span>',
           f'{counts.get(label, 0):g}'] for label, value in values.items()]
  matrix = charts.confusion_matrix(result.confusion.get(evaluation_reader.OVERALL, {}), names)
  return (f'<h3>Per class (TFMA, sliced on {e(result.label_feature)})</h3><div class="grid">'
          f'<div>{table(["class", gate.key, "examples"], rows, numeric=(1, 2))}</div>'
          f'<div>{matrix}<div class="muted">Confusion matrix of the eval split, computed by the '
          'Evaluator (MultiClassConfusionMatrixPlot).</div></div></div>')


def _quality(view: PipelineView) -> str:
  quality = view.quality
  metrics = [[e(k), number(v), number((quality.get('baseline_metrics') or {}).get(k))]
             for k, v in sorted(quality.get('metrics', {}).items())]
  parts = [f'<h3>Everything the QualityEvaluator measured ({quality.get("examples", "?")} eval '
           'examples)</h3>', table(['metric', 'value', 'baseline'], metrics, numeric=(1, 2))]
  samples = quality.get('samples') or {}
  if samples:
    parts.append('<h3>The model\'s answers</h3>' + table(
        ['input', 'answer'], [[e(k), e(v or '(nothing)')] for k, v in samples.items()]))
  return ''.join(parts)


def evaluation(view: PipelineView) -> str:
  if view.evaluated is None:
    return ('<section id="evaluation"><h2>Evaluation</h2><p class="muted">No run reached the '
            'Evaluator yet.</p></section>')
  run = view.evaluated.summary
  verdict = pill('blessed', 'ok') if run.blessed else pill('not blessed', 'bad')
  parts = [f'<section id="evaluation"><h2>Evaluation {verdict}</h2>',
           _which(view, 'evaluated'),
           table(['gate', 'value', 'threshold', 'baseline (last blessed)', 'change',
                  'allowed change', ''], _gate_rows(run.metrics), numeric=(1, 3, 4, 5))]
  if view.evaluation is not None:
    parts.append(_per_class(view.evaluation, view))
  if view.quality is not None:
    parts.append(_quality(view))
  if run.infra is not None:
    parts.append(f'<h3>TF Serving</h3><p>{e(run.infra.format())}</p>')
  parts.append('</section>')
  return ''.join(parts)


def pictures(view: PipelineView) -> str:
  if not view.pictures:
    return ''
  images = ''.join(f'<figure><img class="picture" src="{uri}" alt="{e(name)}">'
                   f'<figcaption class="muted">{e(name)}</figcaption></figure>'
                   for name, uri in view.pictures)
  return (f'<section id="pictures"><h2>Pictures</h2><p class="muted">Drawn by the Trainer of '
          f'run {e(view.evaluated.run_id)} from its own model.</p><div class="grid">{images}'
          '</div></section>')


def _architecture(spec: registry.ModelSpec) -> str:
  """The model module's docstring, first paragraph: the seed's architecture in words."""
  try:
    with open(spec.module_file, encoding='utf-8') as f:
      doc = ast.get_docstring(ast.parse(f.read())) or ''
  except (OSError, SyntaxError):
    return ''
  return ' '.join(doc.split('\n\n')[0].split())


def _limits(view: PipelineView) -> List[str]:
  spec = view.spec
  rows = {s.split: s.examples for s in view.statistics}
  limits = []
  if isinstance(spec.source, registry.CsvSource):
    limits.append(f'Trained and evaluated on the same {rows.get("train", "few")} rows of '
                  f'{spec.source.path}: the gate shows the table is learnt, not that the model '
                  'generalizes.')
    if spec.word_input:
      limits.append('The words are memorized: a word outside the table gets an arbitrary '
                    'answer.')
  else:
    limits.append('MNIST only: 28x28 centred greyscale digits; other handwriting, scans or '
                  'photos were never seen.')
  if spec.generative:
    limits.append(f'Judged by a reference classifier ({spec.reference_model}) reading its '
                  'samples, not by people: a sample the judge misreads counts against it.')
  return limits


def card(view: PipelineView) -> str:
  spec = view.spec
  served = view.served
  latest = view.latest
  produced = (next((r.manifest for r in view.runs if r.run_id == served.run_id), None)
              if served else latest.manifest if latest else None)
  gates = ', '.join(f'{g.key} {"&ge;" if g.higher_is_better else "&le;"} {g.bound:g}'
                    for g in spec.gates)
  source = (f'{spec.source.path} (CSV, ExampleGen)' if isinstance(spec.source, registry.CsvSource)
            else f'TFDS {spec.source.dataset}, {spec.source.train_split} / '
            f'{spec.source.eval_split}')
  versions = (produced or {}).get('versions') or {}
  items = [('Model', e(spec.description)), ('Architecture', e(_architecture(spec))),
           ('Data', e(source) + ''.join(f'; {e(s.split)} {s.examples} rows'
                                        for s in view.statistics)),
           ('Gates', gates), ('Limits', '<br>'.join(e(x) for x in _limits(view))),
           ('Served', f'version {served.version}, pushed {when(served.pushed_ms / 1000)} by run '
            f'{e(served.run_id)}' if served else 'nothing pushed'),
           ('Produced by', e(manifest.describe(produced))),
           ('Library versions', e(', '.join(f'{k} {v}' for k, v in sorted(versions.items())))),
           ('Seed', e((produced or {}).get('seed')))]
  lineage = (f'<h3>Lineage of the served version</h3><pre>{e(view.lineage)}</pre>'
             if view.lineage else '')
  return ('<section id="card"><h2>Model card</h2><dl>'
          + ''.join(f'<dt>{k}</dt><dd>{v}</dd>' for k, v in items) + f'</dl>{lineage}</section>')


def summary_line(view: PipelineView) -> Optional[str]:
  served = view.served
  return (f'Serving version {served.version} since {when(served.pushed_ms / 1000)}.'
          if served else None)
