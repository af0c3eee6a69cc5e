"""Before TFDS downloads a dataset: the files it would fetch, and one short probe of their hosts.

Offline, TFDS retries each download for minutes before it gives up, and its error does not say
how to do without the network. `check_reachable` asks each host once (an HTTP HEAD through the
proxy settings TFDS's own `requests` download uses, a few seconds at most): the hosts of the
dataset's URLs and TFDS's bucket; when a URL's host does not answer and neither does the
bucket, it raises TfdsExampleGenError naming the files a manual directory must hold. The URLs
and file names are the checksums TFDS registers for the dataset's builder. Nothing here
imports TensorFlow: the command line calls `needs_download` and `check_reachable` before a
pipeline starts, and the executor calls them again before TFDS's builder and download (it also
runs without the command line, e.g. in Kubeflow).
"""
from __future__ import annotations

import fcntl
import os
import posixpath
import threading
import time
from typing import Dict, Iterable, Iterator, List, Mapping, Optional, Tuple
from urllib import parse

import requests

from components.tfds_example_gen.errors import TfdsExampleGenError

PROBE_TIMEOUT_S = 5.0
CLI_REMEDY = 'pass --tfds-manual-dir DIR or set TFZOO_TFDS_MANUAL_DIR=DIR'
COMPONENT_REMEDY = f"{CLI_REMEDY} (TfdsExampleGen's manual_dir)"


def file_names(url_infos) -> Dict[str, str]:
  """{URL: file name} of TFDS's {URL: UrlInfo}: the registered name, else the URL's last part."""
  return {url: info.filename or posixpath.basename(parse.urlsplit(url).path)
          for url, info in (url_infos or {}).items()}


def original_files(dataset: str) -> Dict[str, str]:
  """{URL: file name} of every file TFDS downloads for `dataset` ('mnist', 'mnist:3.0.1'), from
  the checksums its builder registers ({} when it registers none)."""
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top  (imports no TF)
  name, _ = tfds.core.naming.parse_builder_name_kwargs(dataset)
  return file_names(tfds.builder_cls(str(name)).url_infos)


def needs_download(dataset: str, data_dir: str) -> Dict[str, str]:
  """What TFDS would download to prepare `dataset` in `data_dir` ({URL: file name}, as
  original_files), or {} when it would download nothing or this cannot tell without
  TensorFlow: the version already prepared or being prepared by another process, files already
  in TFDS's download folder, a dataset with configs or a version pattern, a remote data_dir, an
  unknown name. The executor decides those with the builder itself."""
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top  (imports no TF)
  if '://' in data_dir:
    return {}
  name, kwargs = tfds.core.naming.parse_builder_name_kwargs(dataset)
  try:
    builder_cls = tfds.builder_cls(str(name))
  except tfds.core.registered.DatasetNotFoundError:
    return {}
  version = str(kwargs.get('version') or builder_cls.VERSION or '')
  if builder_cls.BUILDER_CONFIGS or 'config' in kwargs or not version or '*' in version:
    return {}
  dataset_dir = os.path.join(data_dir, str(name), version)
  if os.path.exists(os.path.join(dataset_dir, 'dataset_info.json')) or being_prepared(dataset_dir):
    return {}
  downloads = os.path.join(data_dir, 'downloads')
  if os.path.isdir(downloads) and any(entry.endswith('.INFO') for entry in os.listdir(downloads)):
    return {}  # a finished download (TFDS writes its .INFO beside it): TFDS may need no network
  return file_names(builder_cls.url_infos)


def lock_path(dataset_dir: str) -> str:
  """The lock a pipeline holds beside a local dataset folder while it prepares it."""
  return f'{dataset_dir}.tfzoo-lock'


def being_prepared(dataset_dir: str) -> bool:
  """Whether another process holds `dataset_dir`'s prepare lock now (creates nothing)."""
  try:
    lock = open(lock_path(dataset_dir), 'r')  # pylint: disable=consider-using-with
  except OSError:
    return False
  with lock:
    try:
      fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
      return True
    fcntl.flock(lock, fcntl.LOCK_UN)
    return False


def check_reachable(dataset: str, files: Mapping[str, str], urls: Optional[Iterable[str]] = None,
                    remedy: str = COMPONENT_REMEDY, timeout_s: float = PROBE_TIMEOUT_S) -> None:
  """Raises TfdsExampleGenError (one line) if a host of the dataset's URLs does not answer and
  neither does TFDS's bucket (TFDS first tries to fetch the prepared dataset from there).

  Args:
    dataset: the TFDS name, with or without its version.
    files: {URL: file name} of every original file of the dataset (original_files): the files
      the message names.
    urls: the URLs TFDS will download (default: every URL of `files`); one per host is asked.
    remedy: how to give TFDS the files instead, the end of the message.
    timeout_s: the longest the probe waits, for all hosts together.
  """
  urls = list(files if urls is None else urls)
  answers = probe(urls + [bucket_url()], timeout_s)
  failures = [answers[_host(url)] for url in urls if answers.get(_host(url))]
  if not failures or answers[_host(bucket_url())] is None:
    return
  where, why = failures[0]
  raise TfdsExampleGenError(
      f'cannot reach {where} to download {dataset.split(":")[0]} ({why}); put '
      f'{", ".join(sorted(set(files.values())))} in a folder and {remedy}')


def bucket_url() -> str:
  """TFDS's bucket of prepared datasets, over HTTP (Cloud Storage's endpoint)."""
  from tensorflow_datasets.core.utils import gcs_utils  # pylint: disable=g-import-not-at-top
  return 'https://storage.googleapis.com/' + gcs_utils.GCS_ROOT_DIR[len('gs://'):] + '/'


def probe(urls: Iterable[str],
          timeout_s: float = PROBE_TIMEOUT_S) -> Dict[str, Optional[Tuple[str, str]]]:
  """{host: None if it answered, else (host, why)} for the hosts of the http(s) `urls`, with
  `host through proxy P` where the environment's proxy settings route it there; any HTTP status
  counts as an answer. Every host is asked at once, one HEAD each, within timeout_s in all."""
  first_url: Dict[str, str] = {}
  for url in urls:
    if parse.urlsplit(url).scheme in ('http', 'https'):
      first_url.setdefault(_host(url), url)
  probes = {host: _Probe(url, timeout_s) for host, url in first_url.items()}
  deadline = time.monotonic() + timeout_s
  for each in probes.values():
    each.thread.join(max(0.0, deadline - time.monotonic()))
  return {host: each.failure() for host, each in probes.items()}


def _host(url: str) -> str:
  parts = parse.urlsplit(url)
  return f'{parts.scheme}://{parts.netloc}'


class _Probe:
  """One HEAD request in a daemon thread: the resolver has no timeout of its own, so the caller
  waits for the thread (up to its deadline), not for the request."""

  def __init__(self, url: str, timeout_s: float):
    self.url = url
    self._timeout_s = timeout_s
    self._why: Optional[str] = None
    self._done = threading.Event()
    self.thread = threading.Thread(target=self._ask, name=f'tfds-probe {url}', daemon=True)
    self.thread.start()

  def _ask(self) -> None:
    try:
      requests.head(self.url, timeout=self._timeout_s, allow_redirects=False)
    except Exception as e:  # pylint: disable=broad-except  (whatever stops it is the reason)
      self._why = _reason(e, self._timeout_s)
    self._done.set()

  def failure(self) -> Optional[Tuple[str, str]]:
    if self._done.is_set() and self._why is None:
      return None
    why = self._why if self._done.is_set() else f'no answer within {self._timeout_s:g} s'
    where = parse.urlsplit(self.url).hostname or self.url
    proxy = requests.utils.select_proxy(self.url, requests.utils.get_environ_proxies(self.url))
    return (f'{where} through proxy {proxy}' if proxy else where), why


def _causes(error: BaseException) -> Iterator[BaseException]:
  """The error, then what caused it, outermost first (urllib3 keeps causes in `reason` and in
  its arguments)."""
  seen: List[int] = []
  queue = [error]
  while queue:
    current = queue.pop(0)
    if id(current) in seen:
      continue
    seen.append(id(current))
    yield current
    linked = [current.__cause__, current.__context__, getattr(current, 'reason', None),
              *getattr(current, 'args', ())]
    queue += [e for e in linked if isinstance(e, BaseException)]


def _reason(error: BaseException, timeout_s: float) -> str:
  """A few words: the innermost system error ('connection refused', 'name or service not
  known'), or the timeout."""
  if isinstance(error, requests.exceptions.Timeout):
    return f'no answer within {timeout_s:g} s'
  system = [c for c in _causes(error) if isinstance(c, OSError) and isinstance(c.strerror, str)
            and c.strerror]
  if system:
    text = system[-1].strerror
    return text[0].lower() + text[1:]
  text = ' '.join(str(error).split())
  return text[:200] + ('...' if len(text) > 200 else '') or type(error).__name__
