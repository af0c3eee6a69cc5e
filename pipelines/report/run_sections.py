"""A pipeline page's sections on its runs: every run, the latest run's DAG and timeline, the
data it read and its training curves."""
from __future__ import annotations

import json
import math

from pipelines.mlmd import checks, manifest
from pipelines.report import charts
from pipelines.report.collect import PipelineView
from pipelines.report.layout import e, number, pill, table, when

STATE_KIND = {'executed': 'ok', 'cached': 'ok', 'resolved': 'ok', 'failed': 'bad',
              'canceled': 'bad', 'running': 'warn', 'new': 'none'}


def _produced_by(recorded) -> str:
  """The commit in short (and whether the tree was dirty); the whole manifest on hover."""
  if not recorded:
    return '<span class="muted">not recorded</span>'
  commit = recorded.get('git_commit')
  short = commit[:8] if commit else 'no git'
  dirty = ' +changes' if recorded.get('git_dirty') else ''
  return f'<span title="{e(manifest.describe(recorded))}">{e(short)}{e(dirty)}</span>'


def runs(view: PipelineView) -> str:
  rows = []
  for row in reversed(view.runs):
    run = row.summary
    states = {}
    for c in run.components:
      states.setdefault(c.state, []).append(f'{c.node} {c.seconds:.1f} s')
    components = ' '.join(
        f'<span title="{e(", ".join(nodes))}">'
        f'{pill(f"{len(nodes)} {state}", STATE_KIND.get(state, "none"))}</span>'
        for state, nodes in sorted(states.items()))
    failed = run.failed
    notes = []
    if failed is not None:
      notes.append(f'<div class="error" data-failed-node="{e(failed.node)}">{e(failed.node)} '
                   f'{e(failed.state)}: {e(failed.error or "no message recorded")}</div>')
    if run.infra is not None and not run.infra.passed:
      notes.append(f'<div class="error">{e(run.infra.format())}</div>')
    blessed = {True: pill('blessed', 'ok'), False: pill('not blessed', 'bad'),
               None: '<span class="muted">not evaluated</span>'}[run.blessed]
    rows.append([f'<span data-run-id="{e(row.run_id)}">{e(row.run_id)}</span><br>'
                 f'<span class="muted">{when(row.started)}</span>',
                 f'{e(row.outcome)}{"".join(notes)}', blessed, number(row.gate_value),
                 f'{sum(c.seconds for c in run.components):.1f} s', components,
                 _produced_by(row.manifest)])
  gate = view.gate.key if view.gate else 'gate'
  return ('<section id="runs"><h2>Runs</h2>' + table(
      ['run', 'outcome', 'blessed', gate, 'time', 'components', 'produced by'],
      rows, numeric=(3, 4)) + '</section>')


def latest_run(view: PipelineView) -> str:
  run = view.latest.summary
  nodes = [(c.node, c.state) for c in run.components]
  items = [(c.node, c.state, c.started, c.seconds) for c in run.components]
  legend = ' '.join(pill(state, STATE_KIND.get(state, 'none'))
                    for state in sorted({c.state for c in run.components}))
  return (f'<section id="dag"><h2>The latest run: {e(run.run_id)}</h2>'
          f'<p>{legend}</p>{charts.dag(nodes, view.edges)}<h3>Timeline</h3>'
          f'{charts.timeline(items)}</section>')


def _bucket_label(low: float, high: float, last: bool) -> str:
  """The one integer a bucket holds (MNIST's labels: a bar per digit), else its low end."""
  integers = [i for i in range(math.ceil(low), math.floor(high) + 1) if i < high or last]
  return str(integers[0]) if len(integers) == 1 else f'{low:.3g}'


def _feature_chart(feature) -> str:
  if feature.kind == 'numeric' and feature.buckets:
    labels = [_bucket_label(low, high, i == len(feature.buckets) - 1)
              for i, (low, high, _) in enumerate(feature.buckets)]
    return charts.bars(labels, [count for _, _, count in feature.buckets],
                       f'{feature.name}: histogram (TFDV, counts by value range)')
  if feature.kind == 'categorical' and feature.values:
    top = feature.values[:20]
    return charts.bars([v for v, _ in top], [c for _, c in top], f'{feature.name}: counts')
  return ''


def _summary(feature) -> str:
  return ', '.join(f'{k} {number(v)}' for k, v in feature.summary.items())


def data(view: PipelineView) -> str:
  if not view.statistics:
    return ('<section id="data"><h2>Data</h2><p class="muted">No statistics recorded for the '
            'latest run.</p></section>')
  counts = ', '.join(f'{e(s.split)}: <b data-rows="{e(s.split)}">{s.examples}</b> rows'
                     for s in view.statistics)
  parts = [f'<section id="data"><h2>Data</h2><p>{counts} (StatisticsGen)</p>']
  for split in view.statistics:
    parts.append(f'<h3>{e(split.split)} split</h3><div class="grid">')
    for feature in split.features:
      chart = _feature_chart(feature)
      missing = f', missing in {feature.missing:g}' if feature.missing else ''
      parts.append(f'<div>{chart}<div class="muted">{e(feature.name)} ({e(feature.kind)}): '
                   f'{e(_summary(feature))}{e(missing)}</div></div>')
    parts.append('</div>')
  if view.schema:
    parts.append('<h3>Curated schema</h3>' + table(
        ['feature', 'type', 'domain', 'required', 'shape'],
        [[e(f.name), e(f.type), e(f.domain), 'yes' if f.required else 'no', e(f.shape)]
         for f in view.schema]))
  anomalies = [f'{e(split)}: {e(line)}' for split, found in view.anomalies.items()
               for line in found]
  validator = view.latest.summary.component('ExampleValidator')
  if validator is not None and validator.state == 'failed':
    anomalies.append(e(validator.error or 'the validator failed; no message was recorded'))
  if anomalies:
    found = '<ul class="error">' + ''.join(f'<li>{a}</li>' for a in anomalies) + '</ul>'
  elif view.anomalies:
    found = (f'<p data-anomalies="0">None: every split ({e(", ".join(view.anomalies))}) '
             'matches the curated schema.</p>')
  else:
    found = '<p class="muted">The latest run did not reach the ExampleValidator.</p>'
  parts.append('<h3>Anomalies (ExampleValidator)</h3>' + found)
  parts.append('<h3>Drift from the served model\'s training data (DriftValidator)</h3>'
               + _drift(view.latest.summary))
  parts.append('</section>')
  return ''.join(parts)


def _drift(summary) -> str:
  """The latest run's drift verdict, or the validator's refusal."""
  validator = summary.component('DriftValidator')
  if validator is not None and validator.state == 'failed':
    return f'<p class="error">{e(validator.error or "the validator failed")}</p>'
  if summary.drift is None:
    return '<p class="muted">The latest run did not reach the DriftValidator.</p>'
  return f'<p data-drift="{e(summary.drift.verdict)}">{e(summary.drift.format())}</p>'


def _tuning(tuned) -> str:
  """The Tuner's search: every trial's values, score and time, the chosen one marked."""
  if tuned is None:
    return ''
  names = sorted(tuned.values)
  rows = []
  for trial in tuned.trials:
    notes = [pill('chosen', 'ok')] if trial['trial'] == tuned.best_trial else []
    if trial is tuned.trials[0]:
      notes.append('<span class="muted">the seed\'s values</span>')
    score = trial['score']
    rows.append([f'<span data-trial="{e(trial["trial"])}">{e(trial["trial"])}</span>']
                + [e(checks.format_value(trial['values'].get(n))) for n in names]
                + [number(score) if score is not None else e(trial['status']),
                   f'{trial["seconds"]:.1f} s', ' '.join(notes)])
  return (f'<h3>Hyperparameter search (Tuner)</h3><p data-tuned="'
          f'{e(json.dumps(tuned.values, sort_keys=True))}">{e(tuned.format())}. Each trial '
          f'trained {e(tuned.slice)}; {e(tuned.direction)} {e(tuned.objective)} wins, a tie '
          'keeps the earlier trial.</p>' + table(
              ['trial'] + names + [tuned.objective, 'time', ''], rows,
              numeric=tuple(range(1, len(names) + 3))))


def training(view: PipelineView) -> str:
  if not view.curves:
    return ('<section id="training"><h2>Training</h2><p class="muted">No TensorBoard logs of a '
            'run that reached the Evaluator.</p></section>')
  charts_html = []
  for metric, by_split in sorted(view.curves.items(), key=lambda kv: kv[0] != 'loss'):
    log_y = metric == 'loss' and all(v > 0 for points in by_split.values() for _, v in points)
    charts_html.append(charts.lines(by_split, metric.replace('_', ' '), log_y=log_y))
  run_dir = view.evaluated.summary.tensorboard_dir
  resumed = view.evaluated.summary.resumed
  resumed_html = '' if resumed is None else (
      f'<p data-resumed="{resumed.after_epoch}">{e(resumed.format())}: its logs start at epoch '
      f'{resumed.after_epoch + 1}.</p>')
  return (f'<section id="training"><h2>Training</h2><p class="muted">Per epoch, from the '
          f'TensorBoard logs of run {e(view.evaluated.run_id)}\'s Trainer ({e(run_dir)}; <code>make tensorboard MODEL='
          f'{e(view.name)}</code> opens them).</p>{resumed_html}<div class="grid">'
          f'{"".join(charts_html)}</div>{_tuning(view.evaluated.summary.tuned)}</section>')
