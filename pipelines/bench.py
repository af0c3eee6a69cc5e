"""tfzoo bench: what the pipeline costs against a plain Keras script, and what serving costs.

  python -m pipelines.bench [--models classifier,linear,mlp,cnn] [--home DIR]
                            [--output bench.json] [--tfds-manual-dir DIR] [--latency-calls 1000]

For each model, in a fresh work directory (<home>/<model>, TFZOO_HOME for the runs):
  - the whole pipeline, `python -m pipelines.cli run MODEL` (what `make run-pipeline` runs) as
    a subprocess: wall time of the first run, then of the same command again (every component
    cached); each run's per-component seconds and states read back from its ML Metadata;
  - a plain Keras script (`python -m pipelines.bench _plain MODEL`, a subprocess too): the
    same data loaded straight into memory (MNIST from TFDS, the CSV with the csv module), the
    same network built by the model module's own builder, trained for the spec's steps at the
    module's batch size and seed, evaluated on the eval split. Its wall time includes the
    interpreter start and the imports (TensorFlow, Keras, TFDS), as the pipeline's subprocess
    pays its own. It loads no TFX: the model modules import TFX / Transform / tfx_bsl at the
    top for their pipeline plumbing, so in this process those names resolve to empty
    placeholders that fail if anything calls them (the builders do not); the result records
    that no real TFX module was loaded;
  - peak memory of each subprocess tree (see run_measured).
Then the latency of the pushed cnn's `serving_raw` signature, called in this process for a
batch of 1 and of 100 images: p50 / p99 over --latency-calls timed calls after a warm-up, and
images per second.

MNIST is prepared once, into <home>/tensorflow_datasets (TFDS_DATA_DIR for every run), before
anything is timed; that one-time preparation is reported on its own.

Prints a table and writes the same figures as JSON (--output, default <home>/bench.json).
Exit status 0, or 1 with one line `tfzoo bench: ...` naming the cause (a pipeline that failed,
MNIST missing, ...); what was measured until then is still written to the JSON, with `error`.
"""
from __future__ import annotations

import argparse
import dataclasses
import datetime
import gzip
import importlib
import importlib.abc
import importlib.metadata
import importlib.util
import json
import math
import os
import platform
import shlex
import shutil
import subprocess
import sys
import threading
import time
import types
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence

from pipelines import registry
from pipelines.paths import PROJECT_ROOT

DEFAULT_MODELS = ('classifier', 'linear', 'mlp', 'cnn')
# The models whose training the plain script can mirror: the CSV models built by
# models/common/tabular.py and the MNIST classifiers built by models/common/images.py.
TABULAR_MODELS = ('linear', 'classifier', 'dnn')
IMAGE_MODELS = ('mlp', 'mlp_dropout', 'mlp_bn', 'cnn', 'rnn')
BENCH_MODELS = TABULAR_MODELS + IMAGE_MODELS
MNIST = 'mnist:3.0.1'
MNIST_FILES = ('train-images-idx3-ubyte.gz', 'train-labels-idx1-ubyte.gz',
               't10k-images-idx3-ubyte.gz', 't10k-labels-idx1-ubyte.gz')
MARKER = '.tfzoo-bench'  # a work directory the bench made, so it may delete it
LATENCY_BATCHES = (1, 100)
RAW_SIGNATURE = 'serving_raw'
POLL_SECONDS = 0.2
MB = 2 ** 20
_SET_HERE = set()  # environment variables this process set for itself only


class BenchError(RuntimeError):
  """Stops the bench; the message is the one line printed."""


# ---------------------------------------------------------------------------------------------
# Measuring a subprocess: wall time and peak memory.


@dataclasses.dataclass
class Measured:
  returncode: int
  seconds: float
  peak_rss_bytes: int  # max over the samples of the summed RSS of the process tree
  max_process_rss_bytes: int  # the kernel's high-water mark of the largest single process
  samples: int

  @property
  def peak_rss_mb(self) -> float:
    """The figure reported as peak RSS: the tree's sampled peak, or the kernel's exact peak of
    one process where a spike between two samples was higher."""
    return max(self.peak_rss_bytes, self.max_process_rss_bytes) / MB


def tree_rss(pid: int, include_root: bool = True) -> int:
  """Summed resident memory of `pid`'s descendants (and of `pid` itself if include_root) now;
  0 once they have exited."""
  import psutil  # pylint: disable=g-import-not-at-top
  try:
    root = psutil.Process(pid)
    processes = ([root] if include_root else []) + root.children(recursive=True)
  except psutil.Error:
    return 0
  total = 0
  for process in processes:
    try:
      total += process.memory_info().rss
    except psutil.Error:  # exited (or a zombie) since it was listed
      pass
  return total


# Runs argv[2:], then writes its children's ru_maxrss (KiB) to argv[1] and exits with the
# child's status. Started with -S -E and importing only os/resource, it stays ~10 MB.
_WRAPPER = """import os, resource, sys
pid = os.fork()
if pid == 0:
  try:
    os.execvp(sys.argv[2], sys.argv[2:])
  finally:
    os._exit(127)
while True:
  try:
    status = os.waitpid(pid, 0)[1]
    break
  except InterruptedError:
    pass
with open(sys.argv[1], 'w') as f:
  f.write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss))
code = os.waitstatus_to_exitcode(status)
sys.exit(code if code >= 0 else 128 - code)
"""


def run_measured(argv: Sequence[str], env: Optional[Mapping[str, str]] = None,
                 cwd: Optional[str] = None, log_path: Optional[str] = None,
                 poll_seconds: float = POLL_SECONDS) -> Measured:
  """Runs argv to completion; returns its exit status, wall seconds and peak memory.

  Peak memory, two ways, both kept:
  - the process *tree* (a pipeline may start Beam workers, TFX its wheel build) is sampled
    every `poll_seconds` from /proc (psutil), its RSS summed: the memory the run held at
    once. Sampling can miss a spike shorter than the period;
  - the kernel's exact high-water mark (ru_maxrss) of the largest single process in the
    tree, which misses nothing but does not add up processes alive together. It is read by a
    tiny wrapper process that starts argv and reports getrusage(RUSAGE_CHILDREN) when argv
    ends: RUSAGE_CHILDREN in this process would be a max over every child it ever had (a
    later, smaller run would report an earlier one's peak), and even wait4's per-child
    figure would not do, since Linux starts a child's ru_maxrss at the RSS of the process
    that forked it: this one, holding TensorFlow after the first ML Metadata read. The
    wrapper is ~10 MB, so that floor is 10 MB.
  The reported peak is the larger of the two (Measured.peak_rss_mb); the wrapper itself is
  not counted. RSS counts pages shared between processes once per process.
  """
  import tempfile  # pylint: disable=g-import-not-at-top
  with tempfile.NamedTemporaryFile('r', prefix='tfzoo-bench-maxrss-', suffix='.txt') as maxrss:
    started = time.perf_counter()
    if log_path:
      os.makedirs(os.path.dirname(os.path.abspath(log_path)), exist_ok=True)
    log = open(log_path, 'wb') if log_path else subprocess.DEVNULL  # pylint: disable=consider-using-with
    try:
      wrapper = subprocess.Popen(
          [sys.executable, '-S', '-E', '-c', _WRAPPER, maxrss.name] + list(argv),
          env=dict(env) if env is not None else None, cwd=cwd, stdout=log,
          stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    finally:
      if log_path:
        log.close()
    peak, samples = 0, 0
    done = threading.Event()

    def sample() -> None:
      nonlocal peak, samples
      while not done.is_set():
        peak = max(peak, tree_rss(wrapper.pid, include_root=False))
        samples += 1
        done.wait(poll_seconds)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
      returncode = wrapper.wait()
    finally:
      seconds = time.perf_counter() - started
      done.set()
      sampler.join()
    text = maxrss.read().strip()
  return Measured(returncode=returncode, seconds=seconds, peak_rss_bytes=peak,
                  max_process_rss_bytes=int(text) * 1024 if text else 0,  # Linux: KiB
                  samples=samples)


# ---------------------------------------------------------------------------------------------
# Latency statistics.


def percentile(values: Sequence[float], q: float) -> float:
  """The q-th percentile (0-100), linear between the closest ranks (numpy's default)."""
  if not values:
    raise ValueError('percentile of no values')
  if not 0 <= q <= 100:
    raise ValueError(f'percentile {q} outside 0-100')
  ordered = sorted(values)
  position = (len(ordered) - 1) * q / 100
  low, high = math.floor(position), math.ceil(position)
  return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def time_calls(call: Callable[[], Any], calls: int, warmup: int) -> List[float]:
  """Seconds of each of `calls` calls of call(), after `warmup` untimed ones."""
  for _ in range(warmup):
    call()
  times = []
  for _ in range(calls):
    started = time.perf_counter()
    call()
    times.append(time.perf_counter() - started)
  return times


def latency_stats(times: Sequence[float], batch: int) -> Dict[str, float]:
  return {
      'batch': batch,
      'calls': len(times),
      'p50_ms': percentile(times, 50) * 1000,
      'p99_ms': percentile(times, 99) * 1000,
      'mean_ms': sum(times) / len(times) * 1000,
      'images_per_s': batch * len(times) / sum(times),
  }


def signature_inputs(declared: Dict[str, Any], batch: int, images=None) -> Dict[str, Any]:
  """A NumPy batch for each input a signature declares ({name: (dtype, shape)}, as
  ServingSession.input_specs gives them): `images` (float32 [N, 28, 28], pixels 0-255) from
  the given ones, repeated as needed; other numeric inputs 0/1 values, strings 'a' (enough to
  time a model whose raw inputs are not images)."""
  import numpy as np  # pylint: disable=g-import-not-at-top
  rng = np.random.default_rng(0)
  inputs = {}
  for name, (dtype, dims) in declared.items():
    shape = [batch] + [d if d is not None else 1 for d in (dims or [None])[1:]]
    if name == 'images' and images is not None:
      picked = np.resize(np.asarray(images, np.float32), [batch] + list(np.shape(images)[1:]))
      inputs[name] = picked.reshape(shape).astype(dtype)
    elif dtype == 'string':
      inputs[name] = np.full(shape, b'a', dtype=object)
    else:
      inputs[name] = rng.integers(0, 2, shape).astype(dtype)
  return inputs


def serving_latency(version_dir: str, calls: int, batches: Sequence[int] = LATENCY_BATCHES,
                    images=None, warmup: int = 50,
                    signature_name: str = RAW_SIGNATURE) -> Dict[str, Any]:
  """Loads the SavedModel with TF Serving's loader (a session, components/infra_validator/
  session_loader.py) in this process and times its signature per batch size: TF Serving's
  Session::Run without the network. Each call includes copying its outputs out as NumPy."""
  from components.infra_validator.session_loader import ServingSession  # pylint: disable=g-import-not-at-top
  started = time.perf_counter()
  session = ServingSession(version_dir)
  load_seconds = time.perf_counter() - started
  if signature_name not in session.signatures:
    raise BenchError(f'{version_dir} has no {signature_name} signature '
                     f'(has {", ".join(sorted(session.signatures))})')
  declared = session.input_specs(signature_name)
  takes_images = 'images' in declared
  results = []
  with session:
    for batch in batches:
      inputs = signature_inputs(declared, batch, images)
      results.append(latency_stats(time_calls(
          lambda inputs=inputs: session.run(signature_name, **inputs), calls, warmup), batch))
  if takes_images:
    described = 'MNIST test images' if images is not None else 'blank images'
  else:
    described = 'generated inputs (0/1 numbers, "a" strings)'
  return {'model_dir': version_dir, 'signature': signature_name, 'loader': 'TF Serving (C API)',
          'load_seconds': load_seconds, 'inputs': described, 'warmup_calls': warmup,
          'batches': results}


def mnist_test_images(manual_dir: Optional[str], data_dir: Optional[str], count: int = 100):
  """The first `count` MNIST test images, float32 [count, 28, 28] pixels 0-255: from the
  original file if there is a manual directory, else from the prepared TFDS dataset; None if
  neither has them (the latency is then taken on blank images)."""
  import numpy as np  # pylint: disable=g-import-not-at-top
  path = os.path.join(manual_dir or '', 't10k-images-idx3-ubyte.gz')
  if manual_dir and os.path.isfile(path):
    with gzip.open(path, 'rb') as f:
      header = np.frombuffer(f.read(16), '>u4')
      rows, cols = int(header[2]), int(header[3])
      pixels = np.frombuffer(f.read(count * rows * cols), np.uint8)
    return pixels.reshape(-1, rows, cols).astype(np.float32)
  if data_dir and mnist_prepared(data_dir):
    import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
    data = tfds.as_numpy(tfds.load(MNIST, split=f'test[:{count}]', data_dir=data_dir,
                                   batch_size=-1, download=False))
    return data['image'].reshape(-1, 28, 28).astype(np.float32)
  return None


def latest_version_dir(serving_dir: str) -> Optional[str]:
  """The newest pushed version under serving/<model>/ (a numbered folder with a graph)."""
  if not os.path.isdir(serving_dir):
    return None
  versions = sorted(int(v) for v in os.listdir(serving_dir)
                    if v.isdigit() and os.path.isfile(os.path.join(serving_dir, v,
                                                                   'saved_model.pb')))
  return os.path.join(serving_dir, str(versions[-1])) if versions else None


# ---------------------------------------------------------------------------------------------
# The plain Keras baseline (runs in its own process: `python -m pipelines.bench _plain MODEL`).


class _Absent:
  """What `tfx.anything` is in the plain process: any attribute chain, failing when called."""

  def __init__(self, name: str):
    self._name = name

  def __getattr__(self, attribute: str) -> '_Absent':
    if attribute.startswith('__'):
      raise AttributeError(attribute)
    return _Absent(f'{self._name}.{attribute}')

  def __call__(self, *args, **kwargs):
    raise RuntimeError(f'{self._name} called in the plain Keras baseline, which loads no TFX')

  def __mro_entries__(self, bases):
    raise RuntimeError(f'{self._name} subclassed in the plain Keras baseline')


class _NoTfx(importlib.abc.MetaPathFinder, importlib.abc.Loader):
  """Resolves tfx, tfx_bsl and tensorflow_transform (and their submodules) to placeholder
  modules, so the model modules' pipeline imports cost nothing and load nothing."""
  BLOCKED = ('tfx', 'tfx_bsl', 'tensorflow_transform')

  def find_spec(self, fullname, path=None, target=None):  # pylint: disable=unused-argument
    if fullname.split('.')[0] in self.BLOCKED:
      return importlib.util.spec_from_loader(fullname, self, is_package=True)
    return None

  def create_module(self, spec):
    module = types.ModuleType(spec.name)

    def absent(attribute: str) -> _Absent:
      if attribute.startswith('__'):
        raise AttributeError(attribute)
      return _Absent(f'{spec.name}.{attribute}')

    module.__getattr__ = absent
    return module

  def exec_module(self, module):
    pass


def block_tfx() -> None:
  for name in _NoTfx.BLOCKED:
    if name in sys.modules:
      raise BenchError(f'{name} is already imported; the plain baseline must run in its own '
                       'process')
  sys.meta_path.insert(0, _NoTfx())


def real_tfx_loaded() -> bool:
  """Whether any real (not placeholder) TFX / Transform / tfx_bsl module is in this process."""
  for name, module in sys.modules.items():
    if name.split('.')[0] in _NoTfx.BLOCKED:
      spec = getattr(module, '__spec__', None)
      if spec is None or not isinstance(spec.loader, _NoTfx):
        return True
  return False


def vocabulary(values: Sequence[str]) -> List[str]:
  """tft.compute_and_apply_vocabulary's order: decreasing frequency, ties in reverse
  lexicographical order (its documented order; ids are positions in this list)."""
  counts: Dict[str, int] = {}
  for value in values:
    counts[value] = counts.get(value, 0) + 1
  return [v for v, _ in sorted(counts.items(), key=lambda item: (item[1], item[0].encode()),
                               reverse=True)]


def read_csv_columns(path: str) -> Dict[str, List[str]]:
  import csv  # pylint: disable=g-import-not-at-top
  with open(path, newline='', encoding='utf-8') as f:
    rows = list(csv.DictReader(f))
  return {column: [row[column] for row in rows] for column in (rows[0] if rows else {})}


def plain_keras(model: str, data_dir: Optional[str]) -> Dict[str, Any]:
  """Trains `model`'s network as a plain Keras script would; returns its figures. Call in a
  fresh process (it blocks TFX from loading)."""
  started = time.perf_counter()
  import numpy as np  # pylint: disable=g-import-not-at-top
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  import keras  # pylint: disable=g-import-not-at-top
  block_tfx()
  spec = registry.get_spec(model)
  module = importlib.import_module(f'models.{spec.model_folder}.{spec.model_folder}_module')
  from models.common import training  # pylint: disable=g-import-not-at-top
  from models.common.features import transformed_name  # pylint: disable=g-import-not-at-top
  steps, batch_size, seed = spec.train_steps, module.BATCH_SIZE, module.SEED

  if isinstance(spec.source, registry.TfdsSource):
    import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
    imported = time.perf_counter()
    train, evaluation = tfds.as_numpy(tfds.load(
        spec.source.dataset, split=[spec.source.train_split, spec.source.eval_split],
        data_dir=data_dir, batch_size=-1, download=False))
    name = transformed_name('image')

    def features(data):
      return {name: data['image'].astype(np.float32) / 255.0}

    x_train, y_train = features(train), train['label']
    x_eval, y_eval = features(evaluation), evaluation['label']
    loaded = time.perf_counter()
    training.seed_everything(seed)  # keras seeds + deterministic ops, as the Trainer
    from models.common import images  # pylint: disable=g-import-not-at-top
    network = module.build_model(images.image_input(), decay_steps=steps)
    data_note = f'{spec.source.dataset} {spec.source.train_split} / {spec.source.eval_split}'
  else:
    imported = time.perf_counter()
    path = spec.source.resolve()
    columns = read_csv_columns(path)
    x = {transformed_name(f): np.asarray(columns[f], np.float32).reshape(-1, 1)
         for f in spec.features}
    if spec.task == 'classification':
      names = vocabulary(columns[spec.label])
      y = np.asarray([names.index(v) for v in columns[spec.label]], np.int64)
      n_classes = len(names)
    else:
      y = np.asarray(columns[spec.label], np.float32).reshape(-1, 1)
      n_classes = None
    x_train, y_train, x_eval, y_eval = x, y, x, y  # the seed's protocol: eval = the same rows
    loaded = time.perf_counter()
    training.seed_everything(seed)
    inputs = {transformed_name(f): keras.Input(shape=(1,), name=transformed_name(f))
              for f in spec.features}
    values = list(inputs.values())
    stacked = values[0] if len(values) == 1 else keras.layers.Concatenate()(values)
    network = module.build_model(inputs, stacked, n_classes)
    data_note = os.path.relpath(path, PROJECT_ROOT)

  count = len(y_train)
  dataset = (tf.data.Dataset.from_tensor_slices((x_train, y_train))
             .shuffle(min(count, 10_000), seed=seed).batch(batch_size).repeat())
  epochs, steps_per_epoch = training.epochs_for(steps)  # the Trainer's split of the steps
  built = time.perf_counter()
  history = network.fit(dataset, epochs=epochs, steps_per_epoch=steps_per_epoch, verbose=0)
  trained = time.perf_counter()
  results = network.evaluate(x_eval, y_eval, batch_size=max(batch_size, 1000), verbose=0,
                             return_dict=True)
  evaluated = time.perf_counter()
  key = spec.gates[0].key
  value = results.get(key, results['loss'] if spec.task == 'regression' else None)
  return {
      'model': model,
      'data': data_note,
      'train_examples': int(count),
      'eval_examples': int(len(y_eval)),
      'train_steps': steps,
      'batch_size': batch_size,
      'epochs': epochs,
      'metric': {'key': key, 'value': None if value is None else float(value)},
      'final_train_loss': float(history.history['loss'][-1]),
      'import_seconds': imported - started,
      'load_seconds': loaded - imported,
      'build_seconds': built - loaded,
      'train_seconds': trained - built,
      'eval_seconds': evaluated - trained,
      'in_process_seconds': evaluated - started,
      'tfx_loaded': real_tfx_loaded(),
  }


def _plain_main(argv: Sequence[str]) -> int:
  parser = argparse.ArgumentParser(prog='python -m pipelines.bench _plain')
  parser.add_argument('model', choices=BENCH_MODELS)
  parser.add_argument('--data-dir', help='TFDS data dir holding the prepared dataset')
  parser.add_argument('--output', required=True, help='where to write the result (JSON)')
  args = parser.parse_args(argv)
  os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
  result = plain_keras(args.model, args.data_dir)
  with open(args.output, 'w', encoding='utf-8') as f:
    json.dump(result, f, indent=1)
  return 0


# ---------------------------------------------------------------------------------------------
# The bench.


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


def mnist_prepared(data_dir: str) -> bool:
  name, version = MNIST.split(':')
  return os.path.isfile(os.path.join(data_dir, name, version, 'dataset_info.json'))


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
         if not k.startswith('TFZOO_MLMD_MYSQL_') and k not in _SET_HERE}
  env.pop('TFZOO_TFDS_MANUAL_DIR', None)
  env['PYTHONUNBUFFERED'] = '1'
  env.update(extra)
  return env


def _last_error_line(log_path: str) -> str:
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
  code = ('import sys; from components.tfds_example_gen.executor import prepare_builder, '
          'TfdsExampleGenError\n'
          'try:\n  prepare_builder(sys.argv[1], sys.argv[2], sys.argv[3] or None)\n'
          'except TfdsExampleGenError as e:\n  print("tfzoo: " + str(e)); sys.exit(1)\n')
  log_path = os.path.join(log_dir, 'prepare-mnist.log')
  measured = run_measured([sys.executable, '-c', code, MNIST, data_dir, manual_dir or ''],
                          env=child_env(TF_CPP_MIN_LOG_LEVEL='2'), cwd=PROJECT_ROOT,
                          log_path=log_path)
  if measured.returncode != 0 or not mnist_prepared(data_dir):
    raise BenchError(f'MNIST could not be prepared into {data_dir}: '
                     f'{_last_error_line(log_path)} (log: {log_path})')
  return {'dataset': MNIST, 'data_dir': data_dir, 'manual_dir': manual_dir,
          'already_prepared': False, 'seconds': round(measured.seconds, 2)}


def _metric(run, key: str) -> Dict[str, Any]:
  check = next((m for m in run.metrics if m.key == key), None)
  return {'key': key, 'value': check.value if check else None}


def run_pipeline(model: str, home: str, tfds_data_dir: str, manual_dir: Optional[str],
                 label: str) -> Dict[str, Any]:
  """`python -m pipelines.cli run MODEL` with TFZOO_HOME=<home>, timed, and that run's record
  from ML Metadata. Raises BenchError if it does not end blessed (exit 0)."""
  from pipelines.mlmd import summary  # pylint: disable=g-import-not-at-top
  spec = registry.get_spec(model)
  argv = [sys.executable, '-m', 'pipelines.cli', 'run', model]
  extra = {'TFZOO_HOME': home, 'TFDS_DATA_DIR': tfds_data_dir}
  if manual_dir and isinstance(spec.source, registry.TfdsSource):
    extra['TFZOO_TFDS_MANUAL_DIR'] = manual_dir
  log_path = os.path.join(home, f'bench-{label}.log')
  _progress(f'{model}: pipeline, {label.replace("-", " ")}')
  measured = run_measured(argv, env=child_env(**extra), cwd=PROJECT_ROOT,
                          log_path=log_path)
  _progress_done(f'{measured.seconds:.1f} s')
  if measured.returncode != 0:
    raise BenchError(f'pipeline {model} ({label}) failed with exit status {measured.returncode}: '
                     f'{_last_error_line(log_path)} (output: {log_path})')
  run = summary.latest_run(os.path.join(home, 'metadata', f'{model}.sqlite'), model)
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


def run_plain(model: str, home: str, tfds_data_dir: str) -> Dict[str, Any]:
  output = os.path.join(home, 'bench-plain.json')
  log_path = os.path.join(home, 'bench-plain.log')
  argv = [sys.executable, '-m', 'pipelines.bench', '_plain', model, '--data-dir', tfds_data_dir,
          '--output', output]
  _progress(f'{model}: plain Keras')
  measured = run_measured(argv, env=child_env(), cwd=PROJECT_ROOT, log_path=log_path)
  _progress_done(f'{measured.seconds:.1f} s')
  if measured.returncode != 0 or not os.path.isfile(output):
    raise BenchError(f'plain Keras baseline of {model} failed with exit status '
                     f'{measured.returncode}: {_last_error_line(log_path)} (output: {log_path})')
  with open(output, encoding='utf-8') as f:
    result = json.load(f)
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


def bench_model(model: str, home: str, tfds_data_dir: str,
                manual_dir: Optional[str]) -> Dict[str, Any]:
  work = os.path.join(home, model)
  fresh_directory(work)
  first = run_pipeline(model, work, tfds_data_dir, manual_dir, 'first-run')
  cached = run_pipeline(model, work, tfds_data_dir, manual_dir, 'cached-rerun')
  plain = run_plain(model, work, tfds_data_dir)
  return {
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
  serving_dir = os.path.join(home, model, 'serving', model)
  version_dir = latest_version_dir(serving_dir)
  if version_dir is None:
    raise BenchError(f'nothing pushed under {serving_dir}: no model to time')
  _progress(f'{model}: served-model latency, {calls} calls per batch size')
  started = time.perf_counter()
  images = mnist_test_images(manual_dir, tfds_data_dir)
  result = serving_latency(version_dir, calls, images=images)
  result['model'] = model
  _progress_done(f'{time.perf_counter() - started:.1f} s')
  return result


_progress_open = False  # a progress line awaits its ending


def _progress(text: str) -> None:
  global _progress_open
  print(f'tfzoo bench: {text} ...', end='', flush=True)
  _progress_open = True


def _progress_done(text: str) -> None:
  global _progress_open
  print(f' {text}', flush=True)
  _progress_open = False


def _f(value: Optional[float], digits: int = 1) -> str:
  return 'n/a' if value is None else f'{value:.{digits}f}'


def _g(value: Optional[float]) -> str:
  return 'n/a' if value is None else f'{value:.4g}'


def format_table(result: Mapping[str, Any]) -> str:
  """The human-readable report of a bench result (the JSON's content)."""
  machine = result['machine']
  v = machine.get('versions', {})
  lines = [
      f'tfzoo bench, {machine["date"]}: {machine["cpu_count"]} CPUs, '
      f'{machine.get("memory_gib", "?")} GiB, Python {machine["python"]}, '
      f'TensorFlow {v.get("tensorflow")}, Keras {v.get("keras")}, TFX {v.get("tfx")}; '
      f'load average at start {" ".join(str(x) for x in machine["load_average_at_start"])}'
      + (f', at end {" ".join(str(x) for x in machine["load_average_at_end"])}'
         if machine.get('load_average_at_end') else ''),
      f'command: {result["command"]}',
  ]
  prep = result.get('tfds_preparation')
  if prep:
    how = ('already prepared' if prep['already_prepared'] else
           f'prepared once in {prep["seconds"]:.1f} s')
    lines.append(f'TFDS {prep["dataset"]}: {how}, before timing (no run below includes it)')
  models = result.get('models', {})
  if models:
    lines += ['', 'wall seconds of a subprocess each (interpreter start and imports included); '
              'peak RSS of its process tree',
              f'{"model":<12}{"pipeline":>10}{"cached":>9}{"plain":>8}{"pipeline/":>11}  '
              f'{"metric":<28}{"pipeline":>10}{"plain":>10}   {"peak RSS MB":>20}',
              f'{"":<12}{"1st run":>10}{"re-run":>9}{"Keras":>8}{"plain":>11}  {"":<28}'
              f'{"":>10}{"":>10}   {"1st / cached / plain":>20}']
    for name, m in models.items():
      first, cached, plain = m['first_run'], m['cached_rerun'], m['plain']
      rss = (f'{first["peak_rss_mb"]:.0f} / {cached["peak_rss_mb"]:.0f} / '
             f'{plain["peak_rss_mb"]:.0f}')
      lines.append(
          f'{name:<12}{first["seconds"]:>10.1f}{cached["seconds"]:>9.1f}{plain["seconds"]:>8.1f}'
          f'{m["ratio_first_run_to_plain"]:>10.1f}x  {first["metric"]["key"]:<28}'
          f'{_g(first["metric"]["value"]):>10}{_g(plain["metric"]["value"]):>10}   {rss:>20}')
    lines += ['', 'plain Keras, in-process split (s): import / load data / build / train / '
              'evaluate']
    for name, m in models.items():
      p = m['plain']
      lines.append(f'  {name:<12}{p["import_seconds"]:6.1f} /{p["load_seconds"]:6.1f} /'
                   f'{p["build_seconds"]:6.1f} /{p["train_seconds"]:7.1f} /'
                   f'{p["eval_seconds"]:6.1f}   ({p["train_steps"]} steps of {p["batch_size"]})')
    lines += ['', 'per component (ML Metadata): seconds and state, first run | cached re-run']
    for name, m in models.items():
      first, cached = m['first_run'], m['cached_rerun']
      rerun = {c['node']: c for c in cached['components']}
      lines.append(f'  {name}' + ('' if m['fully_cached'] else
                                  '  (re-run NOT fully cached)'))
      for c in first['components']:
        again = rerun.get(c['node'])
        lines.append(f'    {c["node"]:<24}{c["seconds"]:8.1f} {c["state"]:<9}|'
                     + (f'{again["seconds"]:8.1f} {again["state"]}' if again else '      -'))
      lines.append(f'    {"sum":<24}{first["components_seconds"]:8.1f} {"":<9}|'
                   f'{cached["components_seconds"]:8.1f}')
  latency = result.get('latency')
  if latency:
    lines.append('')
    if latency.get('skipped'):
      lines.append(f'served-model latency: skipped ({latency["skipped"]})')
    else:
      lines += [f'served-model latency: {latency["model"]} ({latency["model_dir"]}), '
                f'{latency["signature"]} in process, {latency["inputs"]}, '
                f'{latency["warmup_calls"]} warm-up calls',
                f'  {"batch":>6}{"calls":>7}{"p50 ms":>9}{"p99 ms":>9}{"images/s":>10}']
      for b in latency['batches']:
        lines.append(f'  {b["batch"]:>6}{b["calls"]:>7}{b["p50_ms"]:>9.2f}{b["p99_ms"]:>9.2f}'
                     f'{b["images_per_s"]:>10.0f}')
  if result.get('error'):
    lines += ['', f'STOPPED: {result["error"]}']
  return '\n'.join(lines)


def write_json(result: Mapping[str, Any], path: str) -> None:
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  partial = f'{path}.partial'
  with open(partial, 'w', encoding='utf-8') as f:
    json.dump(result, f, indent=1)
    f.write('\n')
  os.replace(partial, path)


def _parser() -> argparse.ArgumentParser:
  parser = argparse.ArgumentParser(
      prog='python -m pipelines.bench',
      description='Pipeline vs plain Keras wall time, cached re-runs, per-component times, '
                  'peak memory, and served-model latency.')
  parser.add_argument('--models', default=','.join(DEFAULT_MODELS),
                      help=f'comma-separated, from {", ".join(BENCH_MODELS)} '
                           f'(default {",".join(DEFAULT_MODELS)})')
  parser.add_argument('--home', help='bench work directory; each model gets a fresh '
                                     '<home>/<model> (default: $TFZOO_HOME/bench or out/bench)')
  parser.add_argument('--output', help='the JSON result (default <home>/bench.json)')
  parser.add_argument('--tfds-manual-dir', default=os.environ.get('TFZOO_TFDS_MANUAL_DIR'),
                      help="MNIST's original files, for machines without internet (default "
                           '$TFZOO_TFDS_MANUAL_DIR; unset: TFDS downloads)')
  parser.add_argument('--latency-calls', type=int, default=1000,
                      help='timed calls per batch size (default 1000)')
  parser.add_argument('--latency-model', default='cnn',
                      help='the pushed model whose serving_raw is timed (default cnn; it must '
                           'be among --models)')
  return parser


def main(argv: Optional[List[str]] = None) -> int:
  argv = list(sys.argv[1:] if argv is None else argv)
  if argv[:1] == ['_plain']:
    return _plain_main(argv[1:])
  args = _parser().parse_args(argv)
  try:
    return _bench(args, argv)
  except BenchError as e:
    if _progress_open:
      _progress_done('stopped')
    print(f'tfzoo bench: {e}', file=sys.stderr)
    return 1


def _quiet_imports() -> None:
  """This process imports TF (reading the runs' metrics from ML Metadata loads TFMA; the
  latency loads the SavedModel): keep their start-up chatter off the terminal."""
  import logging  # pylint: disable=g-import-not-at-top
  import warnings  # pylint: disable=g-import-not-at-top
  if 'TF_CPP_MIN_LOG_LEVEL' not in os.environ:
    os.environ['TF_CPP_MIN_LOG_LEVEL'] = '3'
    _SET_HERE.add('TF_CPP_MIN_LOG_LEVEL')  # for this process only: child_env drops it
  warnings.filterwarnings('ignore', category=FutureWarning)
  warnings.filterwarnings('ignore', category=DeprecationWarning)
  logging.getLogger('tensorflow').setLevel(logging.ERROR)


def _bench(args: argparse.Namespace, argv: List[str]) -> int:
  models = [m.strip() for m in args.models.split(',') if m.strip()]
  unknown = [m for m in models if m not in BENCH_MODELS]
  if not models or unknown:
    raise BenchError(f'--models {args.models!r}: each must be one of {", ".join(BENCH_MODELS)}')
  if args.latency_calls < 1:
    raise BenchError(f'--latency-calls must be positive, got {args.latency_calls}')
  home = os.path.abspath(args.home or os.path.join(
      os.environ.get('TFZOO_HOME') or os.path.join(PROJECT_ROOT, 'out'), 'bench'))
  output = os.path.abspath(args.output or os.path.join(home, 'bench.json'))
  manual_dir = os.path.abspath(args.tfds_manual_dir) if args.tfds_manual_dir else None
  tfds_data_dir = os.path.join(home, 'tensorflow_datasets')
  os.makedirs(home, exist_ok=True)
  _quiet_imports()
  result: Dict[str, Any] = {
      'command': ' '.join(shlex.quote(a) for a in ['python', '-m', 'pipelines.bench'] + argv),
      'machine': machine_info(),
      'home': home,
      'notes': [
          'seconds: wall time of each subprocess, interpreter start and imports included '
          '(pipeline: python -m pipelines.cli run MODEL; plain: python -m pipelines.bench '
          '_plain MODEL, which loads no TFX)',
          'peak_rss_mb: the larger of the process tree RSS (summed, sampled every 0.2 s) and '
          "the kernel's high-water mark (ru_maxrss) of its largest single process",
          'TFDS preparation of MNIST happens once before timing and is not in any run',
      ],
      'tfds_preparation': None,
      'models': {},
      'latency': None,
  }
  print(f'tfzoo bench: {", ".join(models)} under {home}', flush=True)
  try:
    if any(registry.get_spec(m).source.__class__ is registry.TfdsSource for m in models):
      _progress('preparing MNIST (once, not timed as part of any run)')
      result['tfds_preparation'] = prepare_mnist(tfds_data_dir, manual_dir, home)
      prep = result['tfds_preparation']
      _progress_done('already prepared' if prep['already_prepared'] else
                     f'{prep["seconds"]:.1f} s')
    for model in models:
      result['models'][model] = bench_model(model, home, tfds_data_dir, manual_dir)
    if args.latency_model in models:
      result['latency'] = bench_latency(args.latency_model, home, args.latency_calls,
                                        manual_dir, tfds_data_dir)
    else:
      result['latency'] = {'skipped': f'{args.latency_model} is not among --models, so '
                                      'nothing of it was pushed by this bench'}
  except BenchError as e:
    result['error'] = str(e)
    write_json(result, output)
    raise
  result['machine']['load_average_at_end'] = [round(v, 2) for v in os.getloadavg()]
  write_json(result, output)
  print()
  print(format_table(result))
  print(f'\ntfzoo bench: wrote {output}')
  return 0


if __name__ == '__main__':
  sys.exit(main())
