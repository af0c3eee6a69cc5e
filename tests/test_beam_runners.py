"""Beam's runners: the classifier pipeline in Beam's multi-processing mode (two worker
processes) and on the PortableRunner against Beam's own job service (the portability API the
Flink and Spark runners use) writes the same examples, statistics, Transform outputs,
evaluation and blessing as in memory; BEAM_ARGS that a shell could not split are refused with
one line."""
from __future__ import annotations

import glob
import json
import os
import subprocess
import sys
import threading
import time
from typing import List

import psutil
import pytest

from conftest import REPO, run_tfzoo, start_tfzoo, statistics_dict
from pipelines.mlmd import metadata, summary


MULTI_PROCESSING = '--direct_running_mode=multi_processing --direct_num_workers=2'
SDK_WORKER = 'apache_beam.runners.worker.sdk_worker_main'


# --- Beam: the other runners give the same outputs -----------------------------------------

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
def job_service(tmp_path_factory):
  """Beam's own Python job service (the portability API that Flink's and Spark's job servers
  also serve), on a free port of localhost (its bind address): the endpoint, `host:port`."""
  root = tmp_path_factory.mktemp('job_service')
  port_file = root / 'port'
  process = subprocess.Popen(
      [sys.executable, '-m', 'apache_beam.runners.portability.local_job_service_main',
       '--port=0', f'--port_file={port_file}', f'--staging_dir={root / "staging"}'],
      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
  try:
    deadline = time.time() + 120
    while not port_file.exists():
      assert process.poll() is None and time.time() < deadline, 'the job service did not start'
      time.sleep(0.2)
    yield f'localhost:{port_file.read_text().strip()}'
  finally:
    process.terminate()
    process.wait(timeout=30)


def _jobs(endpoint: str) -> list:
  """Every job the job service ran, asked through the Job API."""
  import grpc  # pylint: disable=g-import-not-at-top
  from apache_beam.portability.api import beam_job_api_pb2, beam_job_api_pb2_grpc  # pylint: disable=g-import-not-at-top
  with grpc.insecure_channel(endpoint) as channel:
    stub = beam_job_api_pb2_grpc.JobServiceStub(channel)
    return list(stub.GetJobs(beam_job_api_pb2.GetJobsRequest(), timeout=30).job_info)


@pytest.fixture(scope='module')
def runs(project, tmp_path_factory, job_service):
  """The classifier pipeline in memory, with BEAM_ARGS=multi_processing and on the
  PortableRunner against the job service, side by side (three work directories), with the
  Beam worker processes each one started."""
  portable = f'--runner=PortableRunner --job_endpoint={job_service} --environment_type=LOOPBACK'
  runs = {}
  for mode, extra in (('in_memory', {}), ('multi_processing', {'BEAM_ARGS': MULTI_PROCESSING}),
                      ('portable', {'BEAM_ARGS': portable})):
    home = str(tmp_path_factory.mktemp(mode))
    process = start_tfzoo(project, home, 'run', 'classifier', **extra)
    runs[mode] = {'home': home, 'process': process, 'workers': set(), 'most_at_once': 0}
  outputs = {mode: [] for mode in runs}

  def drain(mode):  # the pipes must not fill up while we watch the processes
    outputs[mode].extend(runs[mode]['process'].communicate())
  threads = [threading.Thread(target=drain, args=(mode,)) for mode in runs]
  for thread in threads:
    thread.start()
  deadline = time.time() + 1800  # generous: a busy 2-core machine took 23 minutes for two
  while any(run['process'].poll() is None for run in runs.values()):
    if time.time() > deadline:
      for run in runs.values():
        run['process'].kill()
      pytest.fail('the classifier runs did not finish in 30 minutes')
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


def _log(run: dict) -> str:
  [log] = glob.glob(os.path.join(run['home'], 'logs', 'classifier-*.log'))
  with open(log, encoding='utf-8', errors='replace') as f:
    return f.read()


@pytest.mark.heavy
def test_multi_processing_really_ran_in_worker_processes(runs):
  multi, in_memory = runs['multi_processing'], runs['in_memory']
  # The Beam-based components got the arguments (the pipeline's IR, in the run log)...
  text = _log(multi)
  assert 'beam_pipeline_args: "--direct_running_mode=multi_processing"' in text
  assert 'beam_pipeline_args: "--direct_num_workers=2"' in text
  # ...and Beam used them: SDK worker processes, two at a time, under the multi-processing run
  # and none under the in-memory one.
  assert multi['most_at_once'] >= 2, multi['workers']
  assert in_memory['workers'] == set()


@pytest.mark.heavy
def test_portable_runner_ran_every_beam_component_on_the_job_service(runs, job_service):
  assert 'beam_pipeline_args: "--runner=PortableRunner"' in _log(runs['portable'])
  # Each Beam-based component (CsvExampleGen, StatisticsGen, Transform, Evaluator) submitted
  # its pipeline to the job service as one job, which it ran to the end; the workers ran in
  # the submitting process (LOOPBACK), so no SDK worker processes.
  from apache_beam.portability.api import beam_job_api_pb2  # pylint: disable=g-import-not-at-top
  jobs = _jobs(job_service)
  assert len(jobs) == 4, jobs
  assert {job.state for job in jobs} == {beam_job_api_pb2.JobState.DONE}, jobs
  assert runs['portable']['workers'] == set()


def _same_outputs(in_memory: dict, other: dict) -> None:
  for split in ('train', 'eval'):
    # The examples ExampleGen wrote: the six rows in each split, the same records.
    examples = [_records(os.path.join(_uri(run, 'CsvExampleGen', 'examples'), f'Split-{split}'))
                for run in (in_memory, other)]
    assert len(examples[0]) == 6 and examples[0] == examples[1]
    # StatisticsGen: counts and values per feature.
    stats = [statistics_dict(_uri(run, 'StatisticsGen', 'statistics'), split)
             for run in (in_memory, other)]
    [dataset] = stats[0]['datasets']
    assert dataset['numExamples'] == '6'
    assert {f['path']['step'][0] for f in dataset['features']} == {'fur', 'wings', 'species'}
    assert stats[0] == stats[1]
    # Transform: the transformed examples.
    transformed = [_records(os.path.join(_uri(run, 'Transform', 'transformed_examples'),
                                         f'Split-{split}')) for run in (in_memory, other)]
    assert len(transformed[0]) == 6 and transformed[0] == transformed[1]
  # The transform graph's vocabulary (the label's).
  vocabularies = []
  for run in (in_memory, other):
    with open(os.path.join(_uri(run, 'Transform', 'transform_graph'), 'transform_fn', 'assets',
                           'species'), 'rb') as f:
      vocabularies.append(f.read())
  assert sorted(vocabularies[0].split()) == [b'bird', b'mammal', b'other']
  assert vocabularies[0] == vocabularies[1]
  # The evaluation and the blessing.
  checks = [[(c.key, c.value, c.passed) for c in run['summary'].metrics]
            for run in (in_memory, other)]
  assert checks[0] == [('sparse_categorical_accuracy', 1.0, True),
                       ('sparse_categorical_accuracy per class', 1.0, True)] == checks[1]
  assert in_memory['summary'].blessed and other['summary'].blessed
  assert in_memory['summary'].pushed_to and other['summary'].pushed_to


@pytest.mark.heavy
@pytest.mark.parametrize('mode', ['multi_processing', 'portable'])
def test_runner_gives_the_same_outputs_as_in_memory(runs, mode):
  _same_outputs(runs['in_memory'], runs[mode])
  # StatisticsGen computed its statistics in process in memory, on Beam on the other runner.
  computed = {name: run['summary'].component('StatisticsGen').outputs['statistics'][0]
              .custom_properties['computed'].string_value
              for name, run in (('in_memory', runs['in_memory']), (mode, runs[mode]))}
  assert computed == {'in_memory': 'in process', mode: {
      'multi_processing': 'on Beam (the direct runner runs multi_processing with 2 workers)',
      'portable': 'on Beam (the runner is PortableRunner)'}[mode]}


def test_malformed_beam_args_are_refused_with_one_line(tmp_path):
  for command in (['run', 'classifier'], ['compile-kubeflow', 'cnn']):
    result = run_tfzoo(REPO, str(tmp_path), *command, BEAM_ARGS='--runner="FlinkRunner',
                       timeout=120)
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip() == (
        'tfzoo: BEAM_ARGS=\'--runner="FlinkRunner\': no closing quotation (quote it as in a '
        "shell, e.g. BEAM_ARGS='--runner=FlinkRunner --flink_master=host:8081')")
    assert not os.path.exists(tmp_path / 'logs')
