"""Scale-out: Beam arguments, ML Metadata on MySQL, and the pipeline compiled for Kubeflow.

- The classifier pipeline run in Beam's multi-processing mode (two worker processes) writes the
  same examples, statistics, Transform outputs, evaluation and blessing as in memory.
- BEAM_ARGS that a shell could not split are refused with one line.
- ML Metadata's connection: SQLite per pipeline by default, MySQL from TFZOO_MLMD_MYSQL_*;
  half-set or unreachable MySQL is one line; readers keep pipelines apart in a shared store;
  and, where a MariaDB/MySQL server binary is installed, two real pipelines on one database.
- `tfzoo compile-kubeflow cnn`: the Kubeflow Pipelines v2 / Vertex AI spec, its tasks and
  their order, the image, and paths inside the image and under the pipeline root.
"""
from __future__ import annotations

import glob
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from typing import Dict, List

import psutil
import pytest

from conftest import REPO, run_tfzoo
from pipelines import registry
from pipelines.mlmd import inspection, metadata, runlock, summary
from pipelines.paths import Paths

MULTI_PROCESSING = '--direct_running_mode=multi_processing --direct_num_workers=2'
SDK_WORKER = 'apache_beam.runners.worker.sdk_worker_main'
MYSQL_ENV = [metadata.ENV_PREFIX + key for key in ('HOST', 'PORT', 'DATABASE', 'USER', 'PASSWORD')]


@pytest.fixture(autouse=True)
def _no_mysql_from_outside(monkeypatch):
  """Tests set the TFZOO_MLMD_MYSQL_* they need; none leak in from the caller's shell."""
  for name in MYSQL_ENV:
    monkeypatch.delenv(name, raising=False)


def _env(project: str, home: str, **extra: str) -> Dict[str, str]:
  env = {k: v for k, v in os.environ.items() if k not in MYSQL_ENV and k != 'BEAM_ARGS'}
  return dict(env, PYTHONPATH=project, TFZOO_HOME=home, **extra)


# --- Beam: multi-processing gives the same outputs ------------------------------------------

def _sdk_workers(process: psutil.Process) -> List[int]:
  """Pids of Beam SDK worker processes under `process` (multi_processing mode starts them)."""
  found = []
  for child in process.children(recursive=True):
    try:
      if SDK_WORKER in child.cmdline():  # python -m <it>, not the shell that started it
        found.append(child.pid)
    except psutil.Error:
      pass
  return found


@pytest.fixture(scope='module')
def two_runs(project, tmp_path_factory):
  """The classifier pipeline in memory and with BEAM_ARGS=multi_processing, side by side (two
  work directories), with the Beam worker processes each one started."""
  runs = {}
  for mode, extra in (('in_memory', {}), ('multi_processing', {'BEAM_ARGS': MULTI_PROCESSING})):
    home = str(tmp_path_factory.mktemp(mode))
    process = subprocess.Popen([sys.executable, '-m', 'pipelines.cli', 'run', 'classifier'],
                               cwd=project, env=_env(project, home, **extra),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    runs[mode] = {'home': home, 'process': process, 'workers': set(), 'most_at_once': 0}
  outputs = {mode: [] for mode in runs}

  def drain(mode):  # the pipes must not fill up while we watch the processes
    outputs[mode].extend(runs[mode]['process'].communicate())
  threads = [threading.Thread(target=drain, args=(mode,)) for mode in runs]
  for thread in threads:
    thread.start()
  deadline = time.time() + 1800  # generous: a busy 2-core machine took 23 minutes
  while any(run['process'].poll() is None for run in runs.values()):
    if time.time() > deadline:
      for run in runs.values():
        run['process'].kill()
      pytest.fail('the two classifier runs did not finish in 30 minutes')
    for run in runs.values():
      try:
        workers = _sdk_workers(psutil.Process(run['process'].pid))
      except psutil.Error:
        continue
      run['workers'].update(workers)
      run['most_at_once'] = max(run['most_at_once'], len(workers))
    time.sleep(0.2)
  for thread in threads:
    thread.join()
  for mode, run in runs.items():
    run['stdout'], run['stderr'] = outputs[mode]
    assert run['process'].returncode == 0, run['stdout'] + run['stderr']
    run['summary'] = summary.latest_run(metadata.sqlite_config(
        os.path.join(run['home'], 'metadata', 'classifier.sqlite')))
  return runs


def _uri(run: dict, node: str, key: str) -> str:
  [artifact] = run['summary'].component(node).outputs[key]
  return artifact.uri


def _records(directory: str) -> List[str]:
  """Every tf.Example in the gzipped TFRecord files in `directory`, as sorted canonical JSON
  (shards, record order and the order a serialized Example lists its features in depend on
  the worker; the examples themselves must not)."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from google.protobuf import json_format  # pylint: disable=g-import-not-at-top
  files = sorted(glob.glob(os.path.join(directory, '*.gz')))
  assert files, directory
  return sorted(json.dumps(json_format.MessageToDict(tf.train.Example.FromString(r.numpy())),
                           sort_keys=True)
                for r in tf.data.TFRecordDataset(files, compression_type='GZIP'))


def _rounded(value):
  """A statistics proto as a dict with floats to 9 significant digits (workers merge partial
  sums in another order)."""
  if isinstance(value, dict):
    return {k: _rounded(v) for k, v in value.items()}
  if isinstance(value, list):
    return [_rounded(v) for v in value]
  if isinstance(value, float):
    return float(f'{value:.9g}')
  return value


def _statistics(uri: str, split: str) -> dict:
  from google.protobuf import json_format  # pylint: disable=g-import-not-at-top
  from tensorflow_metadata.proto.v0 import statistics_pb2  # pylint: disable=g-import-not-at-top
  stats = statistics_pb2.DatasetFeatureStatisticsList()
  with open(os.path.join(uri, f'Split-{split}', 'FeatureStats.pb'), 'rb') as f:
    stats.ParseFromString(f.read())
  stats = _rounded(json_format.MessageToDict(stats))
  for dataset in stats['datasets']:  # in the order the workers' results were merged
    dataset['features'].sort(key=lambda feature: feature['path']['step'])
  return stats


def test_multi_processing_really_ran_in_worker_processes(two_runs):
  multi, in_memory = two_runs['multi_processing'], two_runs['in_memory']
  # The Beam-based components got the arguments (the pipeline's IR, in the run log)...
  [log] = glob.glob(os.path.join(multi['home'], 'logs', 'classifier-*.log'))
  with open(log, encoding='utf-8', errors='replace') as f:
    text = f.read()
  assert 'beam_pipeline_args: "--direct_running_mode=multi_processing"' in text
  assert 'beam_pipeline_args: "--direct_num_workers=2"' in text
  # ...and Beam used them: SDK worker processes, two at a time, under the multi-processing run
  # and none under the in-memory one.
  assert multi['most_at_once'] >= 2, multi['workers']
  assert in_memory['workers'] == set()


def test_multi_processing_gives_the_same_outputs_as_in_memory(two_runs):
  multi, in_memory = two_runs['multi_processing'], two_runs['in_memory']
  for split in ('train', 'eval'):
    # The examples ExampleGen wrote: the six rows in each split, the same records.
    examples = [_records(os.path.join(_uri(run, 'CsvExampleGen', 'examples'), f'Split-{split}'))
                for run in (in_memory, multi)]
    assert len(examples[0]) == 6 and examples[0] == examples[1]
    # StatisticsGen: counts and values per feature.
    stats = [_statistics(_uri(run, 'StatisticsGen', 'statistics'), split)
             for run in (in_memory, multi)]
    [dataset] = stats[0]['datasets']
    assert dataset['numExamples'] == '6'
    assert {f['path']['step'][0] for f in dataset['features']} == {'fur', 'wings', 'species'}
    assert stats[0] == stats[1]
    # Transform: the transformed examples.
    transformed = [_records(os.path.join(_uri(run, 'Transform', 'transformed_examples'),
                                         f'Split-{split}')) for run in (in_memory, multi)]
    assert len(transformed[0]) == 6 and transformed[0] == transformed[1]
  # The transform graph's vocabulary (the label's).
  vocabularies = []
  for run in (in_memory, multi):
    with open(os.path.join(_uri(run, 'Transform', 'transform_graph'), 'transform_fn', 'assets',
                           'species'), 'rb') as f:
      vocabularies.append(f.read())
  assert sorted(vocabularies[0].split()) == [b'bird', b'mammal', b'other']
  assert vocabularies[0] == vocabularies[1]
  # The evaluation and the blessing.
  checks = [[(c.key, c.value, c.passed) for c in run['summary'].metrics]
            for run in (in_memory, multi)]
  assert checks[0] == [('sparse_categorical_accuracy', 1.0, True)] == checks[1]
  assert in_memory['summary'].blessed and multi['summary'].blessed
  assert in_memory['summary'].pushed_to and multi['summary'].pushed_to


def test_malformed_beam_args_are_refused_with_one_line(tmp_path):
  for command in (['run', 'classifier'], ['compile-kubeflow', 'cnn']):
    result = run_tfzoo(REPO, str(tmp_path), *command, BEAM_ARGS='--runner="FlinkRunner',
                       timeout=120)
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip() == (
        'tfzoo: BEAM_ARGS=\'--runner="FlinkRunner\': no closing quotation (quote it as in a '
        "shell, e.g. BEAM_ARGS='--runner=FlinkRunner --flink_master=host:8081')")
    assert not os.path.exists(tmp_path / 'logs')


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
                     match=r'no runs of gamma recorded in ML Metadata \(MySQL db.internal:3306/mlmd\)'):
    inspection.stores(paths, 'gamma')


def _mysql_server_binary():
  path = os.environ.get('PATH', '') + os.pathsep + '/usr/sbin'
  return next((b for b in (shutil.which(n, path=path) for n in ('mariadbd', 'mysqld')) if b), None)


@pytest.fixture(scope='module')
def mysql_server(tmp_path_factory):
  """A throwaway MariaDB/MySQL server with database `tfzoo_mlmd` and user `tfzoo`, when asked
  for (TFZOO_TEST_MYSQL=1; two pipelines on a real server take 2.5 minutes, kept out of the
  default `make test`) and one is installed here."""
  if os.environ.get('TFZOO_TEST_MYSQL') != '1':
    pytest.skip('set TFZOO_TEST_MYSQL=1 to run the pipelines against a real MySQL/MariaDB')
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


def test_two_pipelines_share_one_mysql_database(project, tmp_path, mysql_server):
  """classifier and linear at once, recorded in one MySQL database (no SQLite files), and the
  inspection commands read each one's runs from it."""
  home = str(tmp_path)
  processes = {model: subprocess.Popen(
      [sys.executable, '-m', 'pipelines.cli', 'run', model], cwd=project,
      env=_env(project, home, **mysql_server), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
      text=True) for model in ('classifier', 'linear')}
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


# --- Kubeflow Pipelines v2 / Vertex AI ------------------------------------------------------

IMAGE = 'europe-docker.pkg.dev/my-project/tfzoo/tfzoo:1.0'
ROOT = 'gs://my-bucket/tfzoo'
# Each task and the tasks it waits for. TFX's latest-blessed-model resolver compiles to two
# tasks: the latest blessing, then the model it blessed.
DAG = {
    'TfdsExampleGen': [],
    'ImportSchemaGen': [],
    'StatisticsGen': ['TfdsExampleGen'],
    'ExampleValidator': ['ImportSchemaGen', 'StatisticsGen'],
    'Transform': ['ExampleValidator', 'ImportSchemaGen', 'TfdsExampleGen'],
    'Trainer': ['ImportSchemaGen', 'TfdsExampleGen', 'Transform'],
    'baseline_resolver-model-blessing-resolver': [],
    'baseline_resolver-model-resolver': [],
    'Evaluator': ['TfdsExampleGen', 'Trainer', 'baseline_resolver-model-resolver'],
    'InfraValidator': ['TfdsExampleGen', 'Trainer'],
    'Pusher': ['Evaluator', 'InfraValidator', 'Trainer'],
}


@pytest.fixture(scope='module')
def cnn_spec(project, tmp_path_factory):
  home = str(tmp_path_factory.mktemp('kubeflow'))
  result = run_tfzoo(project, home, 'compile-kubeflow', 'cnn', '--image', IMAGE,
                     '--pipeline-root', ROOT, '--beam-arg=--region=europe-west4', timeout=300,
                     BEAM_ARGS='--runner=DataflowRunner --project=my-project')
  assert result.returncode == 0, result.stdout + result.stderr
  path = os.path.join(home, 'kubeflow', 'cnn_pipeline.json')
  with open(path) as f:
    text = f.read()
  return {'stdout': result.stdout, 'text': text, 'job': json.loads(text), 'project': project}


def _parameter(task: dict, name: str) -> str:
  return task['inputs']['parameters'][name]['runtimeValue']['constantValue']['stringValue']


def test_compile_kubeflow_tasks_and_their_order(cnn_spec):
  from pipelines import kubeflow  # pylint: disable=g-import-not-at-top
  job = cnn_spec['job']
  spec = job['pipelineSpec']
  assert spec['pipelineInfo']['name'] == 'cnn'
  tasks = spec['root']['dag']['tasks']
  assert {name: sorted(task.get('dependentTasks', [])) for name, task in tasks.items()} == DAG
  # The model resolver reads the blessing the first resolver found.
  model_resolver = tasks['baseline_resolver-model-resolver']
  assert model_resolver['inputs']['artifacts']['input']['taskOutputArtifact']['producerTask'] == (
      'baseline_resolver-model-blessing-resolver')
  evaluator_baseline = tasks['Evaluator']['inputs']['artifacts']['baseline_model']
  assert evaluator_baseline['taskOutputArtifact']['producerTask'] == (
      'baseline_resolver-model-resolver')
  order = kubeflow.task_order(job)
  assert order.index('Transform') > order.index('ExampleValidator')
  assert order.index('Pusher') == len(order) - 1
  assert cnn_spec['stdout'].splitlines()[-1] == 'tfzoo: 11 tasks: ' + ', '.join(order)


def test_compile_kubeflow_runs_everything_from_the_image_and_the_pipeline_root(cnn_spec):
  job, text = cnn_spec['job'], cnn_spec['text']
  tasks = job['pipelineSpec']['root']['dag']['tasks']
  executors = job['pipelineSpec']['deploymentSpec']['executors']
  containers = {name[:-len('_executor')]: e['container'] for name, e in executors.items()
                if 'container' in e}
  assert set(containers) == set(DAG) - {'baseline_resolver-model-blessing-resolver',
                                        'baseline_resolver-model-resolver'}
  assert {c['image'] for c in containers.values()} == {IMAGE}
  # The custom components run their own executors, from the project installed in the image.
  executor_class = {name: c['args'][c['args'].index('--executor_class_path') + 1]
                    for name, c in containers.items()}
  assert executor_class['TfdsExampleGen'] == 'components.tfds_example_gen.executor.Executor'
  assert executor_class['ExampleValidator'] == (
      'components.strict_example_validator.executor.Executor')
  assert executor_class['Pusher'] == 'components.atomic_pusher.executor.Executor'
  assert executor_class['InfraValidator'] == 'components.infra_validator.executor.Executor'
  assert executor_class['Trainer'] == 'tfx.components.trainer.executor.GenericExecutor'
  # BEAM_ARGS and --beam-arg reach the tasks (e.g. Dataflow for the Beam-based components).
  args = containers['StatisticsGen']['args']
  assert args[-3:] == ['--runner=DataflowRunner', '--project=my-project', '--region=europe-west4']
  # Files of the project: paths inside the image (the Dockerfile's /tfzoo).
  for name in ('Transform', 'Trainer'):
    assert _parameter(tasks[name], 'module_file') == '/tfzoo/models/cnn/cnn_module.py'
  assert _parameter(tasks['ImportSchemaGen'], 'schema_file') == (
      '/tfzoo/data/schemas/mnist/schema.pbtxt')
  # What runs write: under the pipeline root.
  assert job['runtimeConfig']['gcsOutputDirectory'] == f'{ROOT}/pipelines/cnn'
  assert _parameter(tasks['TfdsExampleGen'], 'data_dir') == f'{ROOT}/tensorflow_datasets'
  assert json.loads(_parameter(tasks['Pusher'], 'push_destination')) == {
      'filesystem': {'base_directory': f'{ROOT}/serving/cnn'}}
  # Nothing of this machine: no checkout path, no SQLite store, no wheels built here.
  assert cnn_spec['project'] not in text and REPO not in text
  assert 'sqlite' not in text and '_wheels' not in text
  resolvers = {name: e['resolver'] for name, e in executors.items() if 'resolver' in e}
  assert 'tfx.ModelBlessing' in json.dumps(
      resolvers['baseline_resolver-model-blessing-resolver_executor'])
  assert 'tfx.Model' in json.dumps(resolvers['baseline_resolver-model-resolver_executor'])


def test_compile_kubeflow_quality_evaluator_model(tmp_path, monkeypatch):
  """seq2seq (CSV data, QualityEvaluator): the CSV folder and the evaluator's module file in
  the image, its executor from the project; in process, and TFX's packaging switch is set for
  the compile only."""
  from pipelines import kubeflow  # pylint: disable=g-import-not-at-top
  monkeypatch.delenv('UNSUPPORTED_DO_NOT_PACKAGE_USER_MODULES', raising=False)
  job = kubeflow.compile_pipeline(registry.get_spec('seq2seq'), str(tmp_path / 'seq2seq.json'),
                                  image=IMAGE, pipeline_root=ROOT + '/')
  tasks = job['pipelineSpec']['root']['dag']['tasks']
  executors = job['pipelineSpec']['deploymentSpec']['executors']
  assert _parameter(tasks['CsvExampleGen'], 'input_base') == '/tfzoo/data'
  assert _parameter(tasks['Evaluator'], 'module_file') == '/tfzoo/models/seq2seq/seq2seq_module.py'
  args = executors['Evaluator_executor']['container']['args']
  assert args[args.index('--executor_class_path') + 1] == (
      'components.quality_evaluator.executor.Executor')
  assert job['runtimeConfig']['gcsOutputDirectory'] == f'{ROOT}/pipelines/seq2seq'
  assert (tmp_path / 'seq2seq.json').is_file()
  assert 'UNSUPPORTED_DO_NOT_PACKAGE_USER_MODULES' not in os.environ


def test_compile_kubeflow_refuses_bad_arguments_with_one_line(tmp_path):
  valid = ', '.join(sorted(registry.REGISTRY))
  cases = {
      ('compile-kubeflow', 'resnet'): f"tfzoo: unknown MODEL 'resnet': must be one of {valid}",
      ('run', 'resnet'): f"tfzoo: unknown MODEL 'resnet': must be one of {valid}",
      ('compile-kubeflow', '../cnn'): f"tfzoo: invalid MODEL '../cnn': must be one of {valid}",
      ('compile-kubeflow', 'linear', '--fast'):
          "tfzoo: MODEL 'linear' has no fast mode (it is already small)",
      ('compile-kubeflow', 'cnn', '--pipeline-root', 'bucket/tfzoo'):
          "tfzoo: --pipeline-root 'bucket/tfzoo': expected a URI such as gs://bucket/tfzoo (or "
          'an absolute path mounted in every pod)',
  }
  for args, message in cases.items():
    result = run_tfzoo(REPO, str(tmp_path), *args, timeout=120)
    assert result.returncode == 2, (args, result.stderr)
    assert result.stderr.strip() == message


def test_compile_kubeflow_names_with_underscores(tmp_path):
  """Kubeflow pipeline names allow no '_': mlp_bn compiles as mlp-bn (it failed before)."""
  from pipelines import kubeflow  # pylint: disable=g-import-not-at-top
  output = str(tmp_path / 'mlp_bn.json')
  job = kubeflow.compile_pipeline(registry.get_spec('mlp_bn'), output,
                                  pipeline_root='gs://bucket/tfzoo')
  assert job['pipelineSpec']['pipelineInfo']['name'] == 'mlp-bn'
  assert os.path.isfile(output)
