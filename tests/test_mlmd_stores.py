"""ML Metadata's stores: SQLite per pipeline by default, MySQL from TFZOO_MLMD_MYSQL_*;
half-set or unreachable MySQL is one line; readers keep pipelines apart in a shared store; and,
in `make test-all` where a MariaDB/MySQL server binary is installed, two real pipelines on one
database."""
from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import time

import pytest

from conftest import REPO, run_tfzoo, start_tfzoo
from pipelines import registry
from pipelines.mlmd import inspection, metadata, runlock, summary
from pipelines.paths import Paths


# --- ML Metadata: SQLite by default, MySQL when configured -----------------------------------

def _mysql(monkeypatch, **values: str) -> None:
  for key, value in values.items():
    monkeypatch.setenv(metadata.ENV_PREFIX + key.upper(), value)


def test_default_is_one_sqlite_file_per_pipeline(tmp_path):
  from ml_metadata.proto import metadata_store_pb2  # pylint: disable=g-import-not-at-top
  from tfx.orchestration import metadata as tfx_metadata  # pylint: disable=g-import-not-at-top
  from pipelines import factory  # pylint: disable=g-import-not-at-top
  paths = Paths(str(tmp_path))
  assert metadata.mysql_settings() is None and not metadata.shared()
  pipeline = factory.create_pipeline(registry.get_spec('classifier'), paths)
  assert pipeline.metadata_connection_config == tfx_metadata.sqlite_metadata_connection_config(
      str(tmp_path / 'metadata' / 'classifier.sqlite'))
  config = metadata.connection_config(paths, 'classifier')
  assert config.sqlite.filename_uri == paths.metadata_path('classifier')
  assert config.sqlite.connection_mode == metadata_store_pb2.SqliteMetadataSourceConfig.READONLY
  assert metadata.lock_path(paths, 'classifier') == str(tmp_path / 'metadata' /
                                                        'classifier.sqlite.lock')


def test_mysql_connection_from_the_environment(tmp_path, monkeypatch):
  from pipelines import factory  # pylint: disable=g-import-not-at-top
  paths = Paths(str(tmp_path))
  _mysql(monkeypatch, host='db.internal', port='3307', database='mlmd', user='tfzoo',
         password='s3cret')
  for config in (metadata.connection_config(paths, 'cnn'),
                 metadata.pipeline_connection_config(paths, 'cnn'),
                 factory.create_pipeline(registry.get_spec('classifier'),
                                         paths).metadata_connection_config):
    assert config.WhichOneof('config') == 'mysql'
    assert (config.mysql.host, config.mysql.port, config.mysql.database, config.mysql.user,
            config.mysql.password) == ('db.internal', 3307, 'mlmd', 'tfzoo', 's3cret')
  # One database for every pipeline; the lock stays on this machine, under the work directory.
  assert metadata.connection_config(paths, 'mlp') == metadata.connection_config(paths, 'cnn')
  assert metadata.lock_path(paths, 'cnn') == str(tmp_path / 'locks' / 'cnn.lock')
  assert metadata.describe(paths) == 'MySQL db.internal:3307/mlmd'
  assert not os.path.exists(tmp_path / 'metadata')
  monkeypatch.delenv(metadata.ENV_PREFIX + 'PORT')
  monkeypatch.delenv(metadata.ENV_PREFIX + 'PASSWORD')
  config = metadata.connection_config(paths, 'cnn')
  assert (config.mysql.port, config.mysql.password) == (3306, '')


def test_half_configured_mysql_is_one_line(tmp_path, monkeypatch):
  _mysql(monkeypatch, host='db.internal')
  with pytest.raises(metadata.MetadataConfigError,
                     match='needs TFZOO_MLMD_MYSQL_DATABASE, TFZOO_MLMD_MYSQL_USER'):
    metadata.connection_config(Paths(str(tmp_path)), 'cnn')
  started = time.time()
  for command in (['runs'], ['run', 'classifier']):
    result = run_tfzoo(REPO, str(tmp_path), *command, timeout=120,
                       TFZOO_MLMD_MYSQL_HOST='db.internal', TFZOO_MLMD_MYSQL_PASSWORD='x')
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip() == (
        'tfzoo: ML Metadata on MySQL needs TFZOO_MLMD_MYSQL_DATABASE, TFZOO_MLMD_MYSQL_USER '
        '(set: TFZOO_MLMD_MYSQL_HOST=db.internal, TFZOO_MLMD_MYSQL_PASSWORD=…); '
        'TFZOO_MLMD_MYSQL_PORT and TFZOO_MLMD_MYSQL_PASSWORD are optional, or unset every '
        'TFZOO_MLMD_MYSQL_* variable to use SQLite')
  result = run_tfzoo(REPO, str(tmp_path), 'runs', timeout=120, TFZOO_MLMD_MYSQL_HOST='h',
                     TFZOO_MLMD_MYSQL_DATABASE='d', TFZOO_MLMD_MYSQL_USER='u',
                     TFZOO_MLMD_MYSQL_PORT='33o6')
  assert result.returncode == 2
  assert result.stderr.strip() == "tfzoo: TFZOO_MLMD_MYSQL_PORT='33o6' is not a port number (1-65535)"
  assert time.time() - started < 60  # refused before TensorFlow is imported


def _free_port() -> int:
  with socket.socket() as s:
    s.bind(('127.0.0.1', 0))
    return s.getsockname()[1]


def test_unreachable_mysql_is_one_line_naming_host_and_port(tmp_path):
  port = _free_port()  # nothing listens there
  started = time.time()
  result = run_tfzoo(REPO, str(tmp_path), 'runs', timeout=60, TFZOO_MLMD_MYSQL_HOST='127.0.0.1',
                     TFZOO_MLMD_MYSQL_PORT=str(port), TFZOO_MLMD_MYSQL_DATABASE='mlmd',
                     TFZOO_MLMD_MYSQL_USER='tfzoo')
  assert result.returncode == 1
  assert result.stderr.strip() == (
      f'tfzoo: cannot reach the ML Metadata MySQL server at 127.0.0.1:{port} (Connection '
      'refused); check TFZOO_MLMD_MYSQL_HOST and TFZOO_MLMD_MYSQL_PORT')
  assert time.time() - started < 30


def test_a_corrupted_store_is_one_line_naming_the_file(tmp_path):
  """Every command that reads or writes the store, `run` included, says which file it cannot
  use in one line; nothing is written, the file is left as it was."""
  store = tmp_path / 'metadata' / 'classifier.sqlite'
  store.parent.mkdir()
  garbage = bytes(range(256)) * 12
  store.write_bytes(garbage)
  expected = (f'tfzoo: cannot use the ML Metadata store {store} (file is not a database); '
              'nothing was changed. Move it aside to start a new one, or wait for the process '
              'holding it')
  for command in (['runs', 'classifier'], ['lineage', 'classifier'], ['versions', 'classifier'],
                  ['why-not-blessed', 'classifier'], ['rollback', 'classifier'],
                  ['run', 'classifier']):
    result = run_tfzoo(REPO, str(tmp_path), *command, timeout=120)
    assert result.returncode == 1, (command, result.stdout + result.stderr)
    assert result.stderr.strip().splitlines()[-1] == expected, (command, result.stderr)
    assert 'Traceback' not in result.stdout + result.stderr, command
  assert store.read_bytes() == garbage
  assert not (tmp_path / 'serving').exists() and not (tmp_path / 'pipelines').exists()
  # The report still renders every other pipeline, and says so on this one's page.
  result = run_tfzoo(REPO, str(tmp_path), 'report', timeout=120)
  assert result.returncode == 0, result.stdout + result.stderr
  page = (tmp_path / 'reports' / 'classifier' / 'index.html').read_text()
  assert f'cannot use the ML Metadata store {store} (file is not a database)' in page


def test_a_server_that_never_answers_times_out(tmp_path):
  """Something accepts the connection but never speaks MySQL (a firewall, a proxy): the
  check gives up after CONNECT_TIMEOUT_S instead of hanging."""
  from ml_metadata.proto import metadata_store_pb2  # pylint: disable=g-import-not-at-top
  with socket.socket() as server:
    server.bind(('127.0.0.1', 0))
    server.listen()
    port = server.getsockname()[1]
    config = metadata_store_pb2.ConnectionConfig(mysql=metadata_store_pb2.MySQLDatabaseConfig(
        host='127.0.0.1', port=port, database='mlmd', user='tfzoo'))
    started = time.time()
    with pytest.raises(metadata.MetadataConnectionError) as error:
      metadata.open_store(config)
  assert str(error.value) == (
      f'cannot reach the ML Metadata MySQL server at 127.0.0.1:{port} (no answer within 5 s); '
      'check TFZOO_MLMD_MYSQL_HOST and TFZOO_MLMD_MYSQL_PORT')
  assert time.time() - started < metadata.CONNECT_TIMEOUT_S + 5


def _shared_store(path: str):
  """A store holding two pipelines as TFX records them (pipeline and pipeline_run contexts, node
  contexts, executions and their outputs), as in one MySQL database shared by both."""
  from ml_metadata.metadata_store import metadata_store  # pylint: disable=g-import-not-at-top
  from ml_metadata.proto import metadata_store_pb2 as pb  # pylint: disable=g-import-not-at-top
  config = pb.ConnectionConfig()
  config.sqlite.filename_uri = path
  config.sqlite.connection_mode = pb.SqliteMetadataSourceConfig.READWRITE_OPENCREATE
  store = metadata_store.MetadataStore(config)
  types = {name: store.put_context_type(pb.ContextType(name=name))
           for name in ('pipeline', 'pipeline_run', 'node')}
  execution_type = store.put_execution_type(pb.ExecutionType(name='tfx.Pusher'))
  pushed_type = store.put_artifact_type(pb.ArtifactType(name='PushedModel'))
  for pipeline, state in (('alpha', pb.Execution.COMPLETE), ('beta', pb.Execution.RUNNING)):
    [pipeline_id, run_id, node_id] = store.put_contexts([
        pb.Context(type_id=types['pipeline'], name=pipeline),
        pb.Context(type_id=types['pipeline_run'], name=f'{pipeline}-run'),
        pb.Context(type_id=types['node'], name=f'{pipeline}.Pusher')])
    store.put_parent_contexts([pb.ParentContext(child_id=run_id, parent_id=pipeline_id)])
    pushed = pb.Artifact(type_id=pushed_type, uri=f'/pipelines/{pipeline}/Pusher/1')
    pushed.custom_properties['pushed'].int_value = 1
    pushed.custom_properties['pushed_destination'].string_value = f'/serving/{pipeline}/1'
    store.put_execution(
        pb.Execution(type_id=execution_type, last_known_state=state),
        [(pushed, pb.Event(type=pb.Event.OUTPUT,
                           path=pb.Event.Path(steps=[pb.Event.Path.Step(key='pushed_model')])))],
        [pb.Context(id=pipeline_id, type_id=types['pipeline'], name=pipeline),
         pb.Context(id=run_id, type_id=types['pipeline_run'], name=f'{pipeline}-run'),
         pb.Context(id=node_id, type_id=types['node'], name=f'{pipeline}.Pusher')])
  return config, store


def test_readers_keep_pipelines_apart_in_a_shared_store(tmp_path, monkeypatch):
  config, store = _shared_store(str(tmp_path / 'shared.sqlite'))
  assert [c.name for c in summary.run_contexts(store, 'alpha')] == ['alpha-run']
  assert [c.name for c in summary.run_contexts(store, 'gamma')] == []
  assert summary.latest_run(config, 'beta').pipeline == 'beta'
  assert [r.run_id for _, r in inspection.runs(config, 'beta')] == ['beta-run']
  assert inspection.find_push(store, 'alpha', None).uri == '/pipelines/alpha/Pusher/1'
  # beta's execution is left RUNNING: only beta's is reported, and with cancel=False (MySQL:
  # it may be another machine's live run) it stays RUNNING.
  assert runlock.cancel_stale_executions(config, 'alpha') == []
  assert runlock.cancel_stale_executions(config, 'beta', cancel=False) == ['Pusher']
  assert runlock.cancel_stale_executions(config, 'beta', cancel=False) == ['Pusher']
  # With MySQL configured, pipelines are found from the store's pipeline contexts.
  _mysql(monkeypatch, host='db.internal', database='mlmd', user='tfzoo')
  monkeypatch.setattr(metadata, 'open_store', lambda _: store)
  paths = Paths(str(tmp_path))
  assert metadata.pipelines(paths) == ['alpha', 'beta']
  assert list(inspection.stores(paths)) == ['alpha', 'beta']
  with pytest.raises(inspection.InspectionError,
                     match=r'no runs of cnn recorded in ML Metadata \(MySQL db.internal:3306/mlmd\)'):
    inspection.stores(paths, 'cnn')
  with pytest.raises(inspection.InspectionError, match=r"unknown MODEL 'gamma': must be one of"):
    inspection.stores(paths, 'gamma')  # not a pipeline: refused before the store is asked


def _mysql_server_binary():
  path = os.environ.get('PATH', '') + os.pathsep + '/usr/sbin'
  return next((b for b in (shutil.which(n, path=path) for n in ('mariadbd', 'mysqld')) if b), None)


@pytest.fixture(scope='module')
def mysql_server(tmp_path_factory):
  """A throwaway MariaDB/MySQL server with database `tfzoo_mlmd` and user `tfzoo`, where one
  is installed (two pipelines on a real server take 2.5 minutes: `make test-all`)."""
  server, client = _mysql_server_binary(), shutil.which('mariadb') or shutil.which('mysql')
  install = shutil.which('mariadb-install-db') or shutil.which('mysql_install_db')
  if not (server and client and install):
    pytest.skip('no MySQL/MariaDB server installed')
  root = tmp_path_factory.mktemp('mysql')
  data, sock, port = root / 'data', str(root / 'mysql.sock'), _free_port()
  subprocess.run([install, '--no-defaults', f'--datadir={data}', '--user=root',
                  '--auth-root-authentication-method=normal'],
                 check=True, capture_output=True, timeout=300)
  process = subprocess.Popen(
      [server, '--no-defaults', f'--datadir={data}', '--user=root', f'--port={port}',
       '--bind-address=127.0.0.1', f'--socket={sock}', f'--pid-file={root}/server.pid',
       '--innodb-buffer-pool-size=64M', '--skip-name-resolve'],
      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
  try:
    sql = ("CREATE DATABASE tfzoo_mlmd; CREATE USER 'tfzoo'@'127.0.0.1' IDENTIFIED BY 'secret';"
           " GRANT ALL ON tfzoo_mlmd.* TO 'tfzoo'@'127.0.0.1';")
    for _ in range(60):
      if subprocess.run([client, '--no-defaults', '-S', sock, '-uroot', '-e', sql],
                        capture_output=True).returncode == 0:
        break
      time.sleep(1)
    else:
      pytest.fail('the MySQL server did not start')
    yield {'TFZOO_MLMD_MYSQL_HOST': '127.0.0.1', 'TFZOO_MLMD_MYSQL_PORT': str(port),
           'TFZOO_MLMD_MYSQL_DATABASE': 'tfzoo_mlmd', 'TFZOO_MLMD_MYSQL_USER': 'tfzoo',
           'TFZOO_MLMD_MYSQL_PASSWORD': 'secret'}
  finally:
    process.terminate()
    process.wait(timeout=60)


@pytest.mark.heavy
def test_two_pipelines_share_one_mysql_database(project, tmp_path, mysql_server):
  """classifier and linear at once, recorded in one MySQL database (no SQLite files), and the
  inspection commands read each one's runs from it."""
  home = str(tmp_path)
  processes = {model: start_tfzoo(project, home, 'run', model, **mysql_server)
               for model in ('classifier', 'linear')}
  outputs = {model: p.communicate(timeout=900) for model, p in processes.items()}
  for model, process in processes.items():
    assert process.returncode == 0, outputs[model]
    assert 'blessed: yes' in outputs[model][0]
  assert not glob.glob(os.path.join(home, 'metadata', '*.sqlite'))
  assert sorted(os.listdir(os.path.join(home, 'locks'))) == ['classifier.lock', 'linear.lock']

  def tfzoo(*args):
    result = run_tfzoo(project, home, *args, timeout=300, **mysql_server)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout.splitlines()
  heads = [line.split('  run ')[0] for line in tfzoo('runs') if '  run ' in line]
  assert heads == ['classifier', 'linear']
  [head] = [line for line in tfzoo('runs', 'linear') if '  run ' in line]
  assert head.startswith('linear  run ') and 'pushed ' in head
  lineage = tfzoo('lineage', 'classifier')
  assert lineage[0].startswith(os.path.join(home, 'serving', 'classifier', ''))
  assert 'pipeline classifier' in lineage[1]
  assert tfzoo('why-not-blessed', 'linear')[0].startswith('linear: every run was blessed')
  # A re-run with nothing changed is fully cached (TFX's cache lookups, scoped to the pipeline).
  result = run_tfzoo(project, home, 'run', 'classifier', timeout=900, **mysql_server)
  assert result.returncode == 0, result.stdout + result.stderr
  config = metadata._mysql_config(metadata.mysql_settings(mysql_server))  # pylint: disable=protected-access
  states = {c.node: c.state for c in summary.latest_run(config, 'classifier').components}
  assert states['Trainer'] == 'cached' and states['Pusher'] == 'cached', states
