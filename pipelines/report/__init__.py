"""`tfzoo report`: static, self-contained HTML pages of every pipeline's runs, data, training,
evaluation, pictures and model card, read from ML Metadata and the artifacts (collect.py) and
rendered with inline SVG, no script and nothing fetched (index.py, pipeline_page.py)."""
from __future__ import annotations

import os
import tempfile
from typing import List, Optional

from pipelines.paths import Paths
from pipelines.report import collect, index, pipeline_page


def reports_dir(paths: Paths) -> str:
  return os.path.join(paths.home, 'reports')


def write(paths: Paths, model: Optional[str] = None) -> str:
  """Writes reports/index.html and reports/<pipeline>/index.html (every pipeline, or `model`'s
  page and the index) and returns the path of the page asked for. Each page is written to a
  temporary file first and renamed, so a reader never sees half a page."""
  out = reports_dir(paths)
  names = collect.pipelines_in(paths)
  if model is not None and model not in names:
    names.append(model)
  views: List[collect.PipelineView] = [collect.collect(paths, name) for name in names]
  for view in views:
    if model is None or view.name == model:
      _atomic(os.path.join(out, view.name, 'index.html'),
              pipeline_page.render(view, paths.home))
  _atomic(os.path.join(out, 'index.html'), index.render(views, paths.home))
  return os.path.join(out, model, 'index.html') if model else os.path.join(out, 'index.html')


def _atomic(path: str, text: str) -> None:
  os.makedirs(os.path.dirname(path), exist_ok=True)
  handle, temporary = tempfile.mkstemp(dir=os.path.dirname(path), prefix='.index-')
  try:
    with os.fdopen(handle, 'w', encoding='utf-8') as f:
      f.write(text)
    os.chmod(temporary, 0o644)
    os.replace(temporary, path)
  except BaseException:
    if os.path.exists(temporary):
      os.remove(temporary)
    raise
