"""The report's pages checked in a real headless browser (Debian's chromium, driven by
Playwright): each page loads from file:// with no failed request and no console message of
level warning or error, every image decodes, and a screenshot of the whole page is not blank.
Off CI a machine without chromium skips these checks; on CI (.ci/run installs chromium) a
missing browser fails them."""
from __future__ import annotations

import dataclasses
import io
import os
import shutil
from typing import Dict, List

import pytest

CHROMIUM_NAMES = ('chromium', 'chromium-browser', 'google-chrome')


def chromium() -> str:
  found = next((shutil.which(n) for n in CHROMIUM_NAMES if shutil.which(n)), None)
  if found is None:
    message = 'no chromium on PATH (Debian: apt-get install chromium)'
    if os.environ.get('CI'):
      pytest.fail(message)
    pytest.skip(message)
  return found


@dataclasses.dataclass
class Loaded:
  url: str
  problems: List[str]  # failed requests, console warnings and errors, page errors
  images: List[Dict[str, object]]  # src (shortened), complete, naturalWidth
  data: Dict[str, List[str]]  # data-* attribute name -> [(value, text)] found on the page
  colours: int  # distinct colours in the full-page screenshot


DATA_ATTRIBUTES = ('data-gate', 'data-gate-value', 'data-served-version', 'data-rows',
                   'data-run-id', 'data-class', 'data-failed-node', 'data-never-run',
                   'data-anomalies', 'data-tuned', 'data-trial')


def load_pages(paths: List[str]) -> Dict[str, Loaded]:
  """Each HTML file opened in chromium, as a user opening it from the file system would."""
  from playwright.sync_api import sync_playwright  # pylint: disable=g-import-not-at-top
  from PIL import Image  # pylint: disable=g-import-not-at-top
  executable = chromium()
  found = {}
  with sync_playwright() as playwright:
    browser = playwright.chromium.launch(executable_path=executable, args=['--no-sandbox'])
    try:
      for path in paths:
        page = browser.new_page(viewport={'width': 1280, 'height': 900})
        problems: List[str] = []
        page.on('console', lambda m, p=problems: p.append(f'console {m.type}: {m.text}')
                if m.type in ('warning', 'error') else None)
        page.on('pageerror', lambda err, p=problems: p.append(f'page error: {err}'))
        page.on('requestfailed', lambda r, p=problems: p.append(
            f'request failed: {r.url[:80]} {r.failure}'))
        page.on('request', lambda r, p=problems: p.append(f'network request: {r.url[:80]}')
                if not r.url.startswith(('file:', 'data:')) else None)
        url = 'file://' + os.path.abspath(path)
        page.goto(url, wait_until='load')
        images = page.evaluate('[...document.images].map(i => ({src: i.src.slice(0, 40), '
                               'complete: i.complete, naturalWidth: i.naturalWidth}))')
        data = {}
        for attribute in DATA_ATTRIBUTES:
          data[attribute] = page.evaluate(
              f'[...document.querySelectorAll("[{attribute}]")].map(e => '
              f'[e.getAttribute("{attribute}"), e.textContent.trim()])')
        shot = Image.open(io.BytesIO(page.screenshot(full_page=True))).convert('RGB')
        colours = len(shot.resize((shot.width // 4, shot.height // 4)).getcolors(1 << 20) or [])
        found[path] = Loaded(url=url, problems=problems, images=images, data=data,
                             colours=colours)
        page.close()
    finally:
      browser.close()
  return found


def assert_clean(loaded: Loaded) -> None:
  assert not loaded.problems, (loaded.url, loaded.problems)
  for image in loaded.images:
    assert image['complete'] and image['naturalWidth'] > 0, (loaded.url, image)
  assert loaded.colours > 20, f'{loaded.url}: the screenshot looks blank ({loaded.colours} colours)'
