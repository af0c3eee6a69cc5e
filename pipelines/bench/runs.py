"""The bench's runs: MNIST prepared once, each model's pipeline (first and cached), its plain
Keras baseline, and the pushed model's latency."""
from __future__ import annotations

import datetime
import importlib
import importlib.metadata
import json
import os
import platform
import shlex
import shutil
import sys
import time
from typing import Any, Dict, Optional

from pipelines import registry
from pipelines.bench.common import (BenchError, MARKER, MB, MNIST, MNIST_FILES,
                                    REFERENCE_MAX_EPOCHS, REFERENCE_MODELS, SET_HERE,
                                    TARGET_MARGIN, TARGET_RATIO, mnist_prepared)
from pipelines.bench.latency import mnist_test_images, serving_latency
from pipelines.serving.server import ServingError, latest_version_dir
from pipelines.bench.measure import run_measured
from pipelines.bench import table
from pipelines.paths import PROJECT_ROOT


def versions() -> Dict[str, str]:
  found = {}
  for package in ('tensorflow', 'keras', 'tfx', 'apache-beam', 'tensorflow-datasets'):
    try:
      found[package] = importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
      found[package] = None
  return found


def machine_info() -> Dict[str, Any]:
  import psutil  # pylint: disable=g-import-not-at-top
  return {
      'date': datetime.datetime.now().astimezone().isoformat(timespec='seconds'),
      'cpu_count': os.cpu_count(),
      'cpus_usable': len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else None,
      'memory_gib': round(psutil.virtual_memory().total / 2 ** 30, 1),
      'platform': platform.platform(),
      'processor': platform.processor() or platform.machine(),
      'python': platform.python_version(),
      'versions': versions(),
      'load_average_at_start': [round(v, 2) for v in os.getloadavg()],
  }


def fresh_directory(path: str) -> None:
  """Empties `path` if the bench made it (its marker file), creates it, marks it as the
  bench's; refuses to delete a directory the bench did not make."""
  if os.path.exists(path):
    if not os.path.isfile(os.path.join(path, MARKER)):
      raise BenchError(f'{path} exists and was not made by the bench; give another --home '
                       'or remove it')
    shutil.rmtree(path)
  os.makedirs(path)
  with open(os.path.join(path, MARKER), 'w', encoding='utf-8') as f:
    f.write('made by python -m pipelines.bench; deleted and remade by every bench run\n')


def child_env(**extra: str) -> Dict[str, str]:
  """The environment of the runs: local SQLite ML Metadata in the work directory (a shared
  MySQL store configured by TFZOO_MLMD_MYSQL_* would not be fresh), plus `extra`."""
  env = {k: v for k, v in os.environ.items()
         if not k.startswith('TFZOO_MLMD_MYSQL_') and k not in SET_HERE}
  env.pop('TFZOO_TFDS_MANUAL_DIR', None)
  env['PYTHONUNBUFFERED'] = '1'
  env.update(extra)
  return env


def last_error_line(log_path: str) -> str:
  """The last line a run wrote: its one-line error (`tfzoo: ...`, or a traceback's last line;
  the runs are unbuffered, so stdout and stderr keep their order in the log)."""
  try:
    with open(log_path, encoding='utf-8', errors='replace') as f:
      lines = [line.strip() for line in f if line.strip()]
  except OSError:
    return ''
  return lines[-1] if lines else '(no output)'


def prepare_mnist(data_dir: str, manual_dir: Optional[str], log_dir: str) -> Dict[str, Any]:
  """Prepares MNIST into data_dir once (a subprocess, timed), unless it is there already."""
  if mnist_prepared(data_dir):
    return {'dataset': MNIST, 'data_dir': data_dir, 'already_prepared': True, 'seconds': 0.0}
  if manual_dir:
    if not os.path.isdir(manual_dir):
      raise BenchError(f'MNIST missing: the TFDS manual directory {manual_dir} does not exist')
    missing = [f for f in MNIST_FILES if not os.path.isfile(os.path.join(manual_dir, f))]
    if missing:
      raise BenchError(f'MNIST missing: {manual_dir} lacks {", ".join(missing)}')
  code = ('import sys; from components.tfds_example_gen.prepare import prepare_builder, '
          'TfdsExampleGenError\n'
          'try:\n  prepare_builder(sys.argv[1], sys.argv[2], sys.argv[3] or None)\n'
          'except TfdsExampleGenError as e:\n  print("tfzoo: " + str(e)); sys.exit(1)\n')
  log_path = os.path.join(log_dir, 'prepare-mnist.log')
  measured = run_measured([sys.executable, '-c', code, MNIST, data_dir, manual_dir or ''],
                          env=child_env(TF_CPP_MIN_LOG_LEVEL='2'), cwd=PROJECT_ROOT,
                          log_path=log_path)
  if measured.returncode != 0 or not mnist_prepared(data_dir):
    raise BenchError(f'MNIST could not be prepared into {data_dir}: '
                     f'{last_error_line(log_path)} (log: {log_path})')
  return {'dataset': MNIST, 'data_dir': data_dir, 'manual_dir': manual_dir,
          'already_prepared': False, 'seconds': round(measured.seconds, 2)}


def _metric(run, key: str) -> Dict[str, Any]:
  check = next((m for m in run.metrics if m.key == key), None)
  return {'key': key, 'value': check.value if check else None}


def run_pipeline(model: str, home: str, tfds_data_dir: str, manual_dir: Optional[str],
                 label: str) -> Dict[str, Any]:
  """`python -m pipelines.cli run MODEL` with TFZOO_HOME=<home>, timed, and that run's record
  from ML Metadata. Raises BenchError if it does not end blessed (exit 0)."""
  from pipelines.mlmd import metadata, summary  # pylint: disable=g-import-not-at-top
  spec = registry.get_spec(model)
  argv = [sys.executable, '-m', 'pipelines.cli', 'run', model]
  extra = {'TFZOO_HOME': home, 'TFDS_DATA_DIR': tfds_data_dir}
  if manual_dir and isinstance(spec.source, registry.TfdsSource):
    extra['TFZOO_TFDS_MANUAL_DIR'] = manual_dir
  log_path = os.path.join(home, f'bench-{label}.log')
  table.progress(f'{model}: pipeline, {label.replace("-", " ")}')
  measured = run_measured(argv, env=child_env(**extra), cwd=PROJECT_ROOT,
                          log_path=log_path)
  table.progress_done(f'{measured.seconds:.1f} s')
  if measured.returncode != 0:
    raise BenchError(f'pipeline {model} ({label}) failed with exit status {measured.returncode}: '
                     f'{last_error_line(log_path)} (output: {log_path})')
  run = summary.latest_run(
      metadata.sqlite_config(os.path.join(home, 'metadata', f'{model}.sqlite')), model)
  if run is None:
    raise BenchError(f'pipeline {model} ({label}) left no run in ML Metadata under {home}')
  components = [{'node': c.node, 'state': c.state, 'seconds': round(c.seconds, 3)}
                for c in run.components]
  return {
      'command': ' '.join(shlex.quote(a) for a in ['python'] + argv[1:]),
      'seconds': round(measured.seconds, 2),
      'peak_rss_mb': round(measured.peak_rss_mb, 1),
      'max_process_rss_mb': round(measured.max_process_rss_bytes / MB, 1),
      'sampled_tree_rss_mb': round(measured.peak_rss_bytes / MB, 1),
      'run_id': run.run_id,
      'components': components,
      'components_seconds': round(sum(c['seconds'] for c in components), 2),
      'cached': sum(c['state'] == 'cached' for c in components),
      'executed': sum(c['state'] == 'executed' for c in components),
      'metric': _metric(run, spec.gates[0].key),
      'blessed': run.blessed,
      'pushed_to': run.pushed_to,
      'log': log_path,
  }


def _run_for_json(argv, name: str, home: str, progress: str, what: str, **env: str):
  """Runs a script that writes its result to `--output` <home>/bench-<name>.json, timed and
  measured; returns (that result, the measurement, the log's path)."""
  output = os.path.join(home, f'bench-{name}.json')
  log_path = os.path.join(home, f'bench-{name}.log')
  table.progress(progress)
  measured = run_measured(argv + ['--output', output], env=child_env(**env), cwd=PROJECT_ROOT,
                          log_path=log_path)
  table.progress_done(f'{measured.seconds:.1f} s')
  if measured.returncode != 0 or not os.path.isfile(output):
    raise BenchError(f'{what} failed with exit status {measured.returncode}: '
                     f'{last_error_line(log_path)} (output: {log_path})')
  with open(output, encoding='utf-8') as f:
    return json.load(f), measured, log_path


def run_plain(model: str, home: str, tfds_data_dir: str) -> Dict[str, Any]:
  argv = [sys.executable, '-m', 'pipelines.bench', '_plain', model, '--data-dir', tfds_data_dir]
  result, measured, log_path = _run_for_json(argv, 'plain', home, f'{model}: plain Keras',
                                             f'plain Keras baseline of {model}')
  result.update({
      'command': ' '.join(shlex.quote(a) for a in ['python'] + argv[1:]),
      'seconds': round(measured.seconds, 2),
      'includes_interpreter_start_and_imports': True,
      'peak_rss_mb': round(measured.peak_rss_mb, 1),
      'max_process_rss_mb': round(measured.max_process_rss_bytes / MB, 1),
      'log': log_path,
  })
  for key in ('import_seconds', 'load_seconds', 'build_seconds', 'train_seconds',
              'eval_seconds', 'in_process_seconds'):
    result[key] = round(result[key], 2)
  return result


def pipeline_epochs(spec: registry.ModelSpec) -> int:
  """The passes over MNIST's training images the model's Trainer makes."""
  return round(spec.train_steps * spec.batch_size / registry.MNIST_TRAIN_SIZE)


def run_reference(model: str, home: str, tfds_data_dir: str,
                  max_epochs: int = REFERENCE_MAX_EPOCHS) -> Dict[str, Any]:
  """pipelines/bench/reference.py until its test accuracy reaches the model's gate, and at
  least for the pipeline's epochs (at most `max_epochs`); each epoch's test accuracy and its
  end in seconds since this process started the script."""
  spec = registry.get_spec(model)
  script = os.path.join('pipelines', 'bench', 'reference.py')
  epochs = min(max_epochs, pipeline_epochs(spec))
  argv = [sys.executable, os.path.join(PROJECT_ROOT, script), model,
          '--epochs', str(max_epochs), '--until', str(spec.gates[0].bound),
          '--min-epochs', str(epochs), '--data-dir', tfds_data_dir]
  launched = time.time()
  result, measured, log_path = _run_for_json(
      argv, 'reference', home,
      f'{model}: hand-written reference, to {spec.gates[0].bound} (at most {max_epochs} epochs)',
      f'the reference script for {model}', TF_CPP_MIN_LOG_LEVEL='2')
  for epoch in result['epochs']:
    epoch['seconds'] = round(epoch.pop('ended_at') - launched, 2)
  result.update({
      'command': ' '.join(shlex.quote(a) for a in ['python', script] + argv[2:]),
      'seconds': round(measured.seconds, 2),
      'training_started': round(result.pop('training_started_at') - launched, 2),
      'peak_rss_mb': round(measured.peak_rss_mb, 1),
      'log': log_path,
  })
  return result


def time_to_accuracy(model: str, first: Dict[str, Any],
                     reference: Dict[str, Any]) -> Dict[str, Any]:
  """The race: the reference's time to the gate against the whole pipeline's fresh run."""
  spec = registry.get_spec(model)
  gate = spec.gates[0].bound
  reached = next((e for e in reference['epochs'] if e['test_accuracy'] >= gate), None)
  epochs = pipeline_epochs(spec)
  at_pipeline_epochs = next((e['test_accuracy'] for e in reference['epochs']
                             if e['epoch'] == epochs), None)
  accuracy = first['metric']['value']
  ratio = round(first['seconds'] / reached['seconds'], 2) if reached else None
  # Epochs after the first, of a fixed script: their spread is the machine's noise, the
  # scale on which one run's ratio can be read.
  ends = [e['seconds'] for e in reference['epochs']]
  lengths = [later - earlier for earlier, later in zip(ends, ends[1:])]
  target = round(gate + TARGET_MARGIN, 4)
  return {
      'gate': gate,
      'reference_seconds_to_gate': reached['seconds'] if reached else None,
      'reference_epochs_to_gate': reached['epoch'] if reached else None,
      'pipeline_epochs': epochs,
      'reference_accuracy_at_pipeline_epochs': at_pipeline_epochs,
      'reference_best_accuracy': max(e['test_accuracy'] for e in reference['epochs']),
      'reference_epoch_seconds': ([round(min(lengths), 1), round(max(lengths), 1)]
                                  if lengths else None),
      'pipeline_seconds': first['seconds'],
      'pipeline_accuracy': accuracy,
      'ratio': ratio,
      'target': f'pipeline accuracy >= {target} in <= {TARGET_RATIO}x the reference\'s time '
                f'to {gate}',
      'target_met': bool(ratio is not None and accuracy is not None and ratio <= TARGET_RATIO
                         and accuracy >= target),
  }


def bench_model(model: str, home: str, tfds_data_dir: str,
                manual_dir: Optional[str]) -> Dict[str, Any]:
  work = os.path.join(home, model)
  fresh_directory(work)
  first = run_pipeline(model, work, tfds_data_dir, manual_dir, 'first-run')
  cached = run_pipeline(model, work, tfds_data_dir, manual_dir, 'cached-rerun')
  plain = run_plain(model, work, tfds_data_dir)
  raced = {}
  if model in REFERENCE_MODELS:
    raced['reference'] = run_reference(model, work, tfds_data_dir)
    raced['time_to_accuracy'] = time_to_accuracy(model, first, raced['reference'])
  return {
      **raced,
      'work_dir': work,
      'first_run': first,
      'cached_rerun': cached,
      'fully_cached': cached['executed'] == 0,
      'plain': plain,
      'ratio_first_run_to_plain': round(first['seconds'] / plain['seconds'], 2),
      'ratio_cached_rerun_to_plain': round(cached['seconds'] / plain['seconds'], 2),
  }


def bench_latency(model: str, home: str, calls: int, manual_dir: Optional[str],
                  tfds_data_dir: str) -> Dict[str, Any]:
  try:
    version_dir = latest_version_dir(os.path.join(home, model, 'serving'), model)
  except ServingError as e:
    raise BenchError(f'no model to time: {e}') from None
  table.progress(f'{model}: served-model latency, {calls} calls per batch size')
  started = time.perf_counter()
  images = mnist_test_images(manual_dir, tfds_data_dir)
  result = serving_latency(version_dir, calls, images=images)
  result['model'] = model
  table.progress_done(f'{time.perf_counter() - started:.1f} s')
  return result


