"""A pipeline's page: its runs, the latest run's DAG, data, training and evaluation, the
pictures, and the served version's lineage and model card."""
from __future__ import annotations

from pipelines.report import model_sections, run_sections
from pipelines.report.collect import PipelineView
from pipelines.report.index import outcome_pill
from pipelines.report.layout import e, page

SECTIONS = (('runs', 'Runs'), ('dag', 'Latest run'), ('data', 'Data'),
            ('training', 'Training'), ('evaluation', 'Evaluation'), ('pictures', 'Pictures'),
            ('card', 'Model card'))


def render(view: PipelineView, home: str) -> str:
  head = (f'<h1>{e(view.name)} {outcome_pill(view)}</h1>'
          f'<p class="muted">{e(view.spec.description if view.spec else "")}</p>')
  if view.problem:
    body = head + (f'<section><p class="error">Could not read this pipeline\'s records: '
                   f'{e(view.problem)}</p></section>')
  elif view.latest is None:
    command = view.name.replace('_fast', '') + (' ARGS=--fast' if view.name.endswith('_fast')
                                                else '')
    body = head + ('<section><p data-never-run>This pipeline has never run in this work '
                   f'directory. <code>make run-pipeline MODEL={e(command)}</code> runs it.</p>'
                   '</section>')
  else:
    served = model_sections.summary_line(view)
    links = ' '.join(f'<a href="#{key}">{e(title)}</a>' for key, title in SECTIONS
                     if key != 'pictures' or view.pictures)
    body = (head + (f'<p>{e(served)}</p>' if served else '') + f'<nav class="toc">{links}</nav>'
            + run_sections.runs(view) + run_sections.latest_run(view) + run_sections.data(view)
            + run_sections.training(view) + model_sections.evaluation(view)
            + model_sections.pictures(view) + model_sections.card(view))
  return page(f'tfzoo: {view.name}', body, home, up='../index.html')
