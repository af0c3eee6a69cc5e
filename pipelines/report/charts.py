"""Charts as inline SVG (no script, nothing fetched): bars, lines, a sparkline, the DAG, a
timeline and a confusion matrix. Every function returns an <svg> element as text."""
from __future__ import annotations

import html
import math
from typing import Dict, List, Optional, Sequence, Tuple

COLOURS = {'executed': '#2e7d32', 'cached': '#1565c0', 'resolved': '#6d4c41',
           'failed': '#c62828', 'running': '#ef6c00', 'canceled': '#757575', 'new': '#9e9e9e',
           'missing': '#bdbdbd'}
SERIES = ('#1565c0', '#ef6c00', '#2e7d32', '#6a1b9a')
FONT = 'font-family="system-ui, sans-serif" font-size="11"'


def _e(text) -> str:
  return html.escape(str(text), quote=True)


def _fmt(value: float) -> str:
  if value == 0:
    return '0'
  if abs(value) >= 1000 or abs(value) < 0.001:
    return f'{value:.3g}'
  return f'{value:.4g}'


def bars(labels: Sequence[str], values: Sequence[float], title: str, width: int = 420,
         height: int = 160) -> str:
  """Vertical bars, a label under each (every label shown when they fit)."""
  if not values:
    return ''
  top = max(values) or 1.0
  n = len(values)
  left, bottom, plot_h = 40, 28, height - 46
  step = (width - left - 8) / n
  parts = [f'<svg class="chart" role="img" viewBox="0 0 {width} {height}" width="{width}" '
           f'height="{height}" {FONT}><title>{_e(title)}</title>',
           f'<text x="{left}" y="12" font-weight="600">{_e(title)}</text>',
           f'<text x="{left - 4}" y="{height - bottom - plot_h + 4}" text-anchor="end">'
           f'{_fmt(top)}</text>',
           f'<text x="{left - 4}" y="{height - bottom}" text-anchor="end">0</text>']
  every = max(1, math.ceil(n / max(1, (width - left) // 28)))
  for i, (label, value) in enumerate(zip(labels, values)):
    h = plot_h * value / top
    x = left + i * step
    parts.append(f'<rect x="{x + 1:.1f}" y="{height - bottom - h:.1f}" width="{max(step - 2, 1):.1f}"'
                 f' height="{h:.1f}" fill="{SERIES[0]}"><title>{_e(label)}: {_fmt(value)}'
                 '</title></rect>')
    if i % every == 0:
      parts.append(f'<text x="{x + step / 2:.1f}" y="{height - bottom + 14}" '
                   f'text-anchor="middle">{_e(label)}</text>')
  parts.append('</svg>')
  return ''.join(parts)


def lines(series: Dict[str, List[Tuple[float, float]]], title: str, x_label: str = 'epoch',
          width: int = 420, height: int = 200, log_y: bool = False) -> str:
  """One polyline per series, with a legend; log_y for losses spanning decades."""
  points = [p for values in series.values() for p in values]
  if not points:
    return ''

  def y_of(v: float) -> float:
    return math.log10(v) if log_y and v > 0 else v
  xs = [x for x, _ in points]
  ys = [y_of(y) for _, y in points if not (log_y and y <= 0)]
  x0, x1 = min(xs), max(xs)
  y0, y1 = min(ys), max(ys)
  if y0 == y1:
    y0, y1 = y0 - 0.5, y1 + 0.5
  if x0 == x1:
    x0, x1 = x0 - 0.5, x1 + 0.5
  left, right, top, bottom = 52, 10, 22, 30
  pw, ph = width - left - right, height - top - bottom

  def px(x: float) -> float:
    return left + pw * (x - x0) / (x1 - x0)

  def py(v: float) -> float:
    return top + ph * (1 - (y_of(v) - y0) / (y1 - y0))
  low = 10 ** y0 if log_y else y0
  high = 10 ** y1 if log_y else y1
  parts = [f'<svg class="chart" role="img" viewBox="0 0 {width} {height}" width="{width}" '
           f'height="{height}" {FONT}><title>{_e(title)}</title>',
           f'<text x="{left}" y="12" font-weight="600">{_e(title)}</text>',
           f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="none" stroke="#ddd"/>',
           f'<text x="{left - 4}" y="{top + 8}" text-anchor="end">{_fmt(high)}</text>',
           f'<text x="{left - 4}" y="{top + ph}" text-anchor="end">{_fmt(low)}</text>',
           f'<text x="{left}" y="{height - 8}">{_fmt(x0)}</text>',
           f'<text x="{left + pw}" y="{height - 8}" text-anchor="end">{_fmt(x1)}</text>',
           f'<text x="{left + pw / 2}" y="{height - 8}" text-anchor="middle">{_e(x_label)}</text>']
  for i, (name, values) in enumerate(series.items()):
    colour = SERIES[i % len(SERIES)]
    kept = [(x, y) for x, y in values if not (log_y and y <= 0)]
    path = ' '.join(f'{px(x):.1f},{py(y):.1f}' for x, y in kept)
    parts.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"/>')
    for x, y in kept:
      parts.append(f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="2.5" fill="{colour}">'
                   f'<title>{_e(name)} {_fmt(x)}: {_fmt(y)}</title></circle>')
    parts.append(f'<text x="{left + pw - 4}" y="{top + 14 + 13 * i}" text-anchor="end" '
                 f'fill="{colour}">{_e(name)}</text>')
  parts.append('</svg>')
  return ''.join(parts)


def sparkline(values: Sequence[Optional[float]], bound: Optional[float], title: str,
              width: int = 140, height: int = 32) -> str:
  """A metric over runs (runs without a value are gaps), the gate's bound dashed."""
  known = [v for v in values if v is not None]
  if not known:
    return '<span class="muted">no evaluated run</span>'
  low = min(known + ([bound] if bound is not None else []))
  high = max(known + ([bound] if bound is not None else []))
  if low == high:
    low, high = low - 0.5, high + 0.5
  n = max(len(values) - 1, 1)

  def py(v: float) -> float:
    return 3 + (height - 6) * (1 - (v - low) / (high - low))
  parts = [f'<svg class="spark" role="img" viewBox="0 0 {width} {height}" width="{width}" '
           f'height="{height}"><title>{_e(title)}</title>']
  if bound is not None:
    parts.append(f'<line x1="0" x2="{width}" y1="{py(bound):.1f}" y2="{py(bound):.1f}" '
                 'stroke="#c62828" stroke-dasharray="3,3"/>')
  points = [(2 + (width - 4) * i / n, py(v)) for i, v in enumerate(values) if v is not None]
  parts.append('<polyline points="' + ' '.join(f'{x:.1f},{y:.1f}' for x, y in points)
               + f'" fill="none" stroke="{SERIES[0]}" stroke-width="1.5"/>')
  for x, y in points:
    parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2" fill="{SERIES[0]}"/>')
  parts.append('</svg>')
  return ''.join(parts)


def _layers(nodes: Sequence[str], edges: Sequence[Tuple[str, str]]) -> Dict[str, int]:
  """Longest path from a source: each node's column."""
  layer = {n: 0 for n in nodes}
  for _ in nodes:
    for a, b in edges:
      if a in layer and b in layer and layer[b] < layer[a] + 1:
        layer[b] = layer[a] + 1
  return layer


def dag(nodes: Sequence[Tuple[str, str]], edges: Sequence[Tuple[str, str]]) -> str:
  """(node, state) boxes in columns by depth, arrows from upstream, coloured by state."""
  names = [n for n, _ in nodes]
  layer = _layers(names, edges)
  columns: Dict[int, List[str]] = {}
  for name in names:
    columns.setdefault(layer[name], []).append(name)
  box_w, box_h, gap_x, gap_y = 150, 30, 40, 16
  rows = max(len(c) for c in columns.values())
  width = len(columns) * (box_w + gap_x) + 10
  height = rows * (box_h + gap_y) + 10
  at = {}
  for col, members in columns.items():
    offset = (rows - len(members)) * (box_h + gap_y) / 2
    for row, name in enumerate(members):
      at[name] = (5 + col * (box_w + gap_x), 5 + offset + row * (box_h + gap_y))
  state = dict(nodes)
  parts = [f'<svg class="dag" role="img" viewBox="0 0 {width} {height:.0f}" width="{width}" '
           f'height="{height:.0f}" {FONT}><title>the latest run\'s components</title>'
           '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="6" '
           'markerHeight="6" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#888"/></marker>'
           '</defs>']
  for a, b in edges:
    if a in at and b in at:
      (ax, ay), (bx, by) = at[a], at[b]
      parts.append(f'<line x1="{ax + box_w}" y1="{ay + box_h / 2:.1f}" x2="{bx}" '
                   f'y2="{by + box_h / 2:.1f}" stroke="#888" marker-end="url(#arrow)"/>')
  for name in names:
    x, y = at[name]
    colour = COLOURS.get(state[name], '#9e9e9e')
    parts.append(f'<g><title>{_e(name)}: {_e(state[name])}</title>'
                 f'<rect x="{x}" y="{y:.1f}" width="{box_w}" height="{box_h}" rx="5" '
                 f'fill="{colour}"/><text x="{x + box_w / 2}" y="{y + 13:.1f}" fill="#fff" '
                 f'text-anchor="middle">{_e(name)}</text><text x="{x + box_w / 2}" '
                 f'y="{y + 25:.1f}" fill="#fff" text-anchor="middle" font-size="9">'
                 f'{_e(state[name])}</text></g>')
  parts.append('</svg>')
  return ''.join(parts)


def timeline(items: Sequence[Tuple[str, str, float, float]], width: int = 640) -> str:
  """(node, state, start s, seconds) as bars on one time axis from the run's first start."""
  if not items:
    return ''
  t0 = min(start for _, _, start, _ in items)
  span = max(start + seconds for _, _, start, seconds in items) - t0 or 1.0
  left, row = 170, 18
  height = row * len(items) + 24
  pw = width - left - 60
  parts = [f'<svg class="chart" role="img" viewBox="0 0 {width} {height}" width="{width}" '
           f'height="{height}" {FONT}><title>the latest run\'s timeline</title>']
  for i, (node, state, start, seconds) in enumerate(items):
    y = 4 + i * row
    x = left + pw * (start - t0) / span
    w = max(pw * seconds / span, 1.5)
    parts.append(f'<text x="{left - 6}" y="{y + 11}" text-anchor="end">{_e(node)}</text>'
                 f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{row - 5}" '
                 f'fill="{COLOURS.get(state, "#9e9e9e")}"><title>{_e(node)} {_e(state)} '
                 f'{seconds:.1f} s</title></rect><text x="{x + w + 4:.1f}" y="{y + 11}">'
                 f'{seconds:.1f} s</text>')
  parts.append(f'<text x="{left}" y="{height - 4}">0 s</text><text x="{left + pw}" '
               f'y="{height - 4}" text-anchor="end">{span:.1f} s</text></svg>')
  return ''.join(parts)


def confusion_matrix(cells: Dict[Tuple[int, int], float], names: Dict[int, str]) -> str:
  """Rows: the true class; columns: the predicted one; darker is more."""
  ids = sorted({a for a, _ in cells} | {p for _, p in cells} | set(names))
  if not ids:
    return ''
  cell, left, top = 34, 70, 44
  width, height = left + cell * len(ids) + 10, top + cell * len(ids) + 10
  high = max(cells.values()) or 1.0
  parts = [f'<svg class="chart" role="img" viewBox="0 0 {width} {height}" width="{width}" '
           f'height="{height}" {FONT}><title>confusion matrix</title>'
           f'<text x="{left}" y="12">predicted &#8594;</text>'
           f'<text x="4" y="{top - 6}">true &#8595;</text>']
  for j, class_id in enumerate(ids):
    label = _e(names.get(class_id, class_id))
    parts.append(f'<text x="{left + j * cell + cell / 2}" y="{top - 6}" '
                 f'text-anchor="middle">{label}</text>')
    parts.append(f'<text x="{left - 6}" y="{top + j * cell + cell / 2 + 4}" '
                 f'text-anchor="end">{label}</text>')
  for i, actual in enumerate(ids):
    for j, predicted in enumerate(ids):
      count = cells.get((actual, predicted), 0.0)
      shade = count / high
      colour = (f'rgba(21,101,192,{0.08 + 0.92 * shade:.2f})' if actual == predicted
                else f'rgba(198,40,40,{0.08 + 0.92 * shade:.2f})' if count else '#f5f5f5')
      ink = '#fff' if shade > 0.5 else '#222'
      parts.append(f'<rect x="{left + j * cell}" y="{top + i * cell}" width="{cell - 1}" '
                   f'height="{cell - 1}" fill="{colour}"><title>true {_e(names.get(actual, actual))}'
                   f', predicted {_e(names.get(predicted, predicted))}: {count:g}</title></rect>'
                   f'<text x="{left + j * cell + cell / 2}" y="{top + i * cell + cell / 2 + 4}" '
                   f'text-anchor="middle" fill="{ink}" font-size="10">{count:g}</text>')
  parts.append('</svg>')
  return ''.join(parts)
