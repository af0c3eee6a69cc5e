"""Offline, a TFDS download fails in seconds, not after minutes of TFDS's retries: the probe of
its hosts (components/tfds_example_gen/download.py), in the command line before a pipeline
starts and in TfdsExampleGen before download_and_prepare. "No network" is simulated: a proxy
on a closed loopback port (what a subprocess sees), or a resolver that fails or hangs."""
from __future__ import annotations

import contextlib
import http.server
import os
import socket
import subprocess
import sys
import threading
import time

import pytest

from conftest import REPO, run_tfzoo
from components.tfds_example_gen import TfdsExampleGenError, download

MNIST = 'mnist:3.0.1'
FILES = ('t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz, train-images-idx3-ubyte.gz, '
         'train-labels-idx1-ubyte.gz')
PROXY_VARIABLES = ('HTTPS_PROXY', 'https_proxy', 'HTTP_PROXY', 'http_proxy', 'ALL_PROXY',
                   'all_proxy', 'NO_PROXY', 'no_proxy')


@contextlib.contextmanager
def closed_port():
  """A loopback port bound but not listening: a connection to it is refused at once."""
  with socket.socket() as sock:
    sock.bind(('127.0.0.1', 0))
    yield sock.getsockname()[1]


@pytest.fixture
def no_proxy_settings(monkeypatch):
  for name in PROXY_VARIABLES:
    monkeypatch.delenv(name, raising=False)


@pytest.fixture
def unresolvable(monkeypatch, no_proxy_settings):
  """No name resolves, as on a machine without a network."""
  def fail(*args, **kwargs):
    raise socket.gaierror(socket.EAI_NONAME, 'Name or service not known')
  monkeypatch.setattr(socket, 'getaddrinfo', fail)


def test_offline_run_says_what_to_do_in_seconds_and_writes_nothing(tmp_path, monkeypatch):
  """`tfzoo run cnn` without the MNIST files and without a way out: one line naming the host,
  the four files and the option, exit 1, well within 15 s, and no work directory."""
  monkeypatch.delenv('TFZOO_TFDS_MANUAL_DIR', raising=False)
  monkeypatch.delenv('TFDS_DATA_DIR', raising=False)
  home = tmp_path / 'home'
  with closed_port() as port:
    proxy = f'http://127.0.0.1:{port}'
    started = time.monotonic()
    result = run_tfzoo(REPO, str(home), 'run', 'cnn', timeout=60, HTTPS_PROXY=proxy,
                       https_proxy=proxy, NO_PROXY='', no_proxy='')
    took = time.monotonic() - started
  assert result.returncode == 1, result.stderr
  assert result.stderr.splitlines() == [
      f'tfzoo: cannot reach storage.googleapis.com through proxy {proxy} to download mnist '
      f'(connection refused); put {FILES} in a folder and pass --tfds-manual-dir DIR or set '
      'TFZOO_TFDS_MANUAL_DIR=DIR']
  assert result.stdout == ''
  assert took < 10, f'{took:.1f} s'
  assert not home.exists()


def test_the_probe_names_a_host_that_does_not_resolve(unresolvable):
  with pytest.raises(TfdsExampleGenError) as error:
    download.check_reachable(MNIST, download.original_files(MNIST), remedy=download.CLI_REMEDY)
  assert str(error.value) == (
      'cannot reach storage.googleapis.com to download mnist (name or service not known); '
      f'put {FILES} in a folder and pass --tfds-manual-dir DIR or set TFZOO_TFDS_MANUAL_DIR=DIR')


def test_the_probe_gives_up_within_its_timeout(monkeypatch, no_proxy_settings):
  """A resolver that hangs (it has no timeout of its own) and a host that accepts the
  connection but never answers: both reported within the probe's timeout."""
  with socket.socket() as silent:
    silent.bind(('127.0.0.1', 0))
    silent.listen()
    url = f'http://127.0.0.1:{silent.getsockname()[1]}/mnist.gz'
    started = time.monotonic()
    answers = download.probe([url], timeout_s=0.5)
    assert time.monotonic() - started < 2
  assert list(answers.values()) == [('127.0.0.1', 'no answer within 0.5 s')]

  monkeypatch.setattr(socket, 'getaddrinfo', lambda *args, **kwargs: time.sleep(30))
  started = time.monotonic()
  answers = download.probe(['https://example.invalid/a.gz', 'https://example.invalid/b.gz'],
                           timeout_s=0.5)
  assert time.monotonic() - started < 2
  assert answers == {'https://example.invalid': ('example.invalid', 'no answer within 0.5 s')}


def test_any_http_answer_counts_and_a_refusal_does_not(no_proxy_settings):
  class NotFound(http.server.BaseHTTPRequestHandler):
    def do_HEAD(self):  # pylint: disable=invalid-name
      self.send_response(404)
      self.end_headers()

    def log_message(self, *args):
      pass

  server = http.server.HTTPServer(('127.0.0.1', 0), NotFound)
  threading.Thread(target=server.serve_forever, daemon=True).start()
  try:
    answering = f'http://127.0.0.1:{server.server_address[1]}/mnist.gz'
    with closed_port() as port:
      refusing = f'http://127.0.0.1:{port}/mnist.gz'
      answers = download.probe([answering, refusing], timeout_s=2)
  finally:
    server.shutdown()
    server.server_close()
  assert answers == {f'http://127.0.0.1:{server.server_address[1]}': None,
                     f'http://127.0.0.1:{port}': ('127.0.0.1', 'connection refused')}


def test_the_files_and_hosts_are_tfds_own():
  """MNIST's URLs and file names come from the checksums TFDS registers for its builder."""
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  files = download.original_files(MNIST)
  assert files == {url: info.filename
                   for url, info in tfds.builder_cls('mnist').url_infos.items()}
  assert ', '.join(sorted(files.values())) == FILES
  assert {url.split('/')[2] for url in files} == {'storage.googleapis.com'}


def test_what_needs_a_download(tmp_path):
  """Nothing to probe when the version is prepared, a finished download is already there (TFDS
  may need no network), or another process is preparing it; else MNIST's four files."""
  data_dir = tmp_path / 'tensorflow_datasets'
  assert sorted(download.needs_download(MNIST, str(data_dir)).values()) == FILES.split(', ')
  assert download.needs_download('mnisst', str(data_dir)) == {}
  assert download.needs_download(MNIST, 'gs://bucket/tensorflow_datasets') == {}
  # TFDS's leftovers of a failed download (temporary folders) still need a download.
  (data_dir / 'downloads' / 'extracted').mkdir(parents=True)
  (data_dir / 'downloads' / 'cvdf-datasets_mnist_t10k-images-idx3-ubyte.gz.tmp.0b0b').mkdir()
  assert len(download.needs_download(MNIST, str(data_dir))) == 4
  (data_dir / 'downloads' / 'cvdf-datasets_mnist_t10k-images-idx3-ubyte.gz.INFO').write_text('{}')
  assert download.needs_download(MNIST, str(data_dir)) == {}

  data_dir = tmp_path / 'prepared'
  (data_dir / 'mnist' / '3.0.1').mkdir(parents=True)
  (data_dir / 'mnist' / '3.0.1' / 'dataset_info.json').write_text('{}')
  assert download.needs_download(MNIST, str(data_dir)) == {}
  assert len(download.needs_download('mnist:3.0.0', str(data_dir))) == 4

  data_dir = tmp_path / 'preparing'
  (data_dir / 'mnist').mkdir(parents=True)
  lock_path = download.lock_path(str(data_dir / 'mnist' / '3.0.1'))
  holder = subprocess.Popen(
      [sys.executable, '-c', 'import fcntl, sys, time\n'
       f'lock = open({lock_path!r}, "a"); fcntl.flock(lock, fcntl.LOCK_EX)\n'
       'print("held", flush=True); time.sleep(60)'],
      stdout=subprocess.PIPE, text=True)
  try:
    assert holder.stdout.readline().strip() == 'held'
    assert download.needs_download(MNIST, str(data_dir)) == {}
  finally:
    holder.kill()
    holder.wait()
  assert len(download.needs_download(MNIST, str(data_dir))) == 4


def test_with_a_manual_dir_the_command_line_probes_nothing(tmp_path, monkeypatch):
  from pipelines.cli import run  # pylint: disable=g-import-not-at-top
  from pipelines.cli.parser import build_parser  # pylint: disable=g-import-not-at-top
  monkeypatch.delenv('TFDS_DATA_DIR', raising=False)
  monkeypatch.delenv('TFZOO_TFDS_MANUAL_DIR', raising=False)  # the parser's default
  monkeypatch.setattr(run, '_run_locked', lambda *args: 'ran')
  probed = []
  monkeypatch.setattr(download, 'probe', lambda urls, *args: probed.append(urls) or {})
  manual = tmp_path / 'mnist'
  manual.mkdir()
  home = ['--home', str(tmp_path / 'home')]
  assert run.run_command(build_parser().parse_args(
      ['run', 'cnn', '--tfds-manual-dir', str(manual), *home])) == 'ran'
  assert probed == []
  assert run.run_command(build_parser().parse_args(['run', 'cnn', *home])) == 'ran'
  assert len(probed) == 1 and len(probed[0]) == 5  # MNIST's four files and TFDS's bucket


def test_the_component_probes_before_it_writes_and_not_with_a_manual_dir(
    tmp_path, unresolvable, monkeypatch):
  """TfdsExampleGen (it runs without the command line, e.g. in Kubeflow) probes before TFDS's
  builder and download; offline it stops at once and the data dir stays as it was. With a
  manual directory it never probes."""
  from components.tfds_example_gen import prepare  # pylint: disable=g-import-not-at-top
  data_dir = tmp_path / 'tensorflow_datasets'
  message = (f'cannot reach storage.googleapis.com to download mnist (name or service not '
             f'known); put {FILES} in a folder and {download.COMPONENT_REMEDY}')
  started = time.monotonic()
  with pytest.raises(TfdsExampleGenError) as error:
    prepare.prepare_builder(MNIST, str(data_dir), None)
  assert time.monotonic() - started < 10
  assert str(error.value) == message
  assert not data_dir.exists()

  # The builder's own check (the dataset's files not in TFDS's download folder).
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  builder = tfds.builder(MNIST, data_dir=str(data_dir))
  with pytest.raises(TfdsExampleGenError) as error:
    prepare._check_reachable(builder)  # pylint: disable=protected-access
  assert str(error.value) == message
  assert not data_dir.exists()

  monkeypatch.setattr(download, 'probe', lambda *args, **kwargs: pytest.fail('probed'))
  partial = tmp_path / 'partial'
  partial.mkdir()
  (partial / 'train-images-idx3-ubyte.gz').write_bytes(b'')
  with pytest.raises(TfdsExampleGenError, match='lacks files'):
    prepare.prepare_builder(MNIST, str(data_dir), str(partial))


def test_the_probe_imports_no_tensorflow():
  """The command line runs the probe before it imports TensorFlow or TFX."""
  code = ('import sys\nimport components.tfds_example_gen\n'
          'import components.tfds_example_gen.download as d\nimport pipelines.cli.run\n'
          'd.original_files("mnist:3.0.1")\nd.needs_download("mnist:3.0.1", "/nonexistent")\n'
          'print(sorted(m for m in ("tensorflow", "tfx") if m in sys.modules))')
  done = subprocess.run([sys.executable, '-c', code], cwd=REPO, capture_output=True, text=True,
                        env=dict(os.environ, PYTHONPATH=REPO), timeout=60)
  assert done.returncode == 0, done.stderr
  assert done.stdout.strip() == '[]'
