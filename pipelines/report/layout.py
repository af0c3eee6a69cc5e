"""The page frame (style sheet, header, footer) and small HTML helpers shared by the pages."""
from __future__ import annotations

import datetime
import html
from typing import Iterable, Optional, Sequence

STYLE = """
:root { --ink: #1f2328; --muted: #656d76; --line: #d8dee4; --ok: #2e7d32; --bad: #c62828;
        --warn: #ef6c00; --accent: #1565c0; --card: #fff; --page: #f6f8fa; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif;
       color: var(--ink); background: var(--page); }
header { background: #24292f; color: #fff; padding: 14px 28px; display: flex;
         align-items: baseline; gap: 18px; }
header a { color: #fff; text-decoration: none; font-weight: 600; }
header .where { color: #aab; font-size: 12px; }
main { max-width: 1240px; margin: 0 auto; padding: 20px 28px 40px; }
h1 { font-size: 22px; margin: 6px 0 4px; } h2 { font-size: 17px; margin: 0 0 10px; }
h3 { font-size: 14px; margin: 14px 0 6px; }
section { background: var(--card); border: 1px solid var(--line); border-radius: 8px;
          padding: 16px 20px; margin: 16px 0; }
nav.toc a { margin-right: 14px; }
a { color: var(--accent); }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 5px 8px; overflow-wrap: break-word; border-bottom: 1px solid var(--line);
         vertical-align: top; }
th { font-weight: 600; color: var(--muted); font-size: 12px; white-space: nowrap; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
.pill { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 12px;
        font-weight: 600; color: #fff; white-space: nowrap; }
.ok { background: var(--ok); } .bad { background: var(--bad); } .warn { background: var(--warn); }
.none { background: #8c959f; }
.muted { color: var(--muted); } .error { color: var(--bad); }
.grid { display: flex; flex-wrap: wrap; gap: 18px; }
.chart, .dag { max-width: 100%; height: auto; }
pre { background: #f6f8fa; padding: 10px; border-radius: 6px; overflow-x: auto; font-size: 12px; }
img.picture { max-width: 100%; border: 1px solid var(--line); image-rendering: pixelated; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: 4px 16px; margin: 0; }
dt { color: var(--muted); }
"""


def e(text) -> str:
  return html.escape('' if text is None else str(text), quote=True)


def when(seconds: Optional[float]) -> str:
  if not seconds:
    return ''
  return datetime.datetime.fromtimestamp(seconds).strftime('%Y-%m-%d %H:%M:%S')


def number(value: Optional[float]) -> str:
  return 'n/a' if value is None else f'{value:.6g}'


def pill(text: str, kind: str) -> str:
  return f'<span class="pill {kind}">{e(text)}</span>'


def table(headers: Sequence[str], rows: Iterable[Sequence[str]], numeric: Sequence[int] = ()
          ) -> str:
  """Rows of already-escaped cells; columns in `numeric` right-aligned."""
  head = ''.join(f'<th{" class=num" if i in numeric else ""}>{e(h)}</th>'
                 for i, h in enumerate(headers))
  body = ''.join('<tr>' + ''.join(f'<td{" class=num" if i in numeric else ""}>{c}</td>'
                                  for i, c in enumerate(row)) + '</tr>' for row in rows)
  return f'<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def page(title: str, body: str, home: str, up: str = '') -> str:
  """A whole self-contained page: no script, no external style sheet, font or image."""
  back = f'<a href="{e(up)}">all pipelines</a>' if up else '<a href="index.html">tfzoo</a>'
  made = datetime.datetime.now().strftime('%Y-%m-%d %H:%M:%S')
  return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
          f'<meta name="viewport" content="width=device-width, initial-scale=1">'
          f'<title>{e(title)}</title><style>{STYLE}</style></head><body>'
          f'<header>{back}<span class="where">{e(home)}</span></header>'
          f'<main>{body}<p class="muted">Made by <code>tfzoo report</code> at {made} from ML '
          'Metadata and the pipelines\' artifacts.</p></main></body></html>')
