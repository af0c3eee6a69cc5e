"""The index page: a row per pipeline."""
from __future__ import annotations

from typing import List

from pipelines.report import charts
from pipelines.report.collect import PipelineView
from pipelines.report.layout import e, number, page, pill, table, when


def outcome_pill(view: PipelineView) -> str:
  if view.problem:
    return pill('unreadable', 'bad')
  if view.latest is None:
    return pill('never run', 'none')
  outcome = view.latest.outcome
  if outcome.startswith('pushed') or outcome.startswith('blessed'):
    kind = 'ok'
  elif outcome.startswith(('failed', 'not ', 'canceled')):
    kind = 'bad'
  else:
    kind = 'warn'
  return pill(outcome.split(' /')[0].split(' (')[0], kind)


def gate_cell(view: PipelineView) -> str:
  gate = view.gate
  if gate is None:
    return ''
  bound = f'{"&ge;" if gate.higher_is_better else "&le;"} {gate.bound:g}'
  value = next((r.gate_value for r in reversed(view.runs) if r.gate_value is not None), None)
  if value is None:
    return f'{e(gate.key)} {bound}'
  passed = value >= gate.bound if gate.higher_is_better else value <= gate.bound
  return (f'{e(gate.key)} <b data-gate-value="{value!r}">{number(value)}</b> {bound} '
          + pill('passes' if passed else 'below gate', 'ok' if passed else 'bad'))


def render(views: List[PipelineView], home: str) -> str:
  rows = []
  for view in views:
    served = view.served
    served_cell = (f'<span data-served-version="{view.served_version}">{view.served_version}'
                   f'</span><br><span class="muted">{when(served.pushed_ms / 1000)}</span>'
                   if served else (e(view.served_version) if view.served_version else
                                   '<span class="muted">nothing served</span>'))
    history = charts.sparkline([r.gate_value for r in view.runs],
                               view.gate.bound if view.gate else None,
                               f'{view.gate.key if view.gate else "gate"} over every run')
    rows.append([
        f'<a href="{e(view.name)}/index.html">{e(view.name)}</a><br>'
        f'<span class="muted">{e(view.spec.description if view.spec else "")}</span>',
        outcome_pill(view) + (f'<br><span class="muted">{when(view.latest.started)}</span>'
                              if view.latest else ''),
        str(len(view.runs)), served_cell, gate_cell(view), history])
  body = ('<h1>tfzoo pipelines</h1><p class="muted">Every pipeline in this work directory: its '
          'latest run, the version TensorFlow Serving serves and its gate over every run '
          '(dashed: the gate\'s bound).</p><section>'
          + table(['pipeline', 'latest run', 'runs', 'served version', 'gate (latest evaluated '
                   'run)', 'gate over runs'], rows, numeric=(2,)) + '</section>')
  return page('tfzoo report', body, home)
