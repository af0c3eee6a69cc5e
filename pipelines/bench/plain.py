"""The plain Keras baseline, in its own process (`python -m pipelines.bench _plain MODEL`): the
same data in memory, the same network and steps, without TFX."""
from __future__ import annotations

import argparse
import importlib
import importlib.abc
import importlib.util
import json
import os
import sys
import time
import types
from typing import Any, Dict, List, Optional, Sequence

from pipelines import registry
from pipelines.bench.common import BENCH_MODELS, BenchError
from pipelines.paths import PROJECT_ROOT


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
  block_tfx()
  spec = registry.get_spec(model)
  module = importlib.import_module(f'models.{spec.model_folder}.{spec.model_folder}_module')
  from models.common import training  # pylint: disable=g-import-not-at-top
  from models.common.features import transformed_name  # pylint: disable=g-import-not-at-top
  steps, batch_size, seed = spec.train_steps, spec.batch_size, module.SEED

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
    # The contract's builder; an MNIST network needs nothing from Transform or the config.
    # In the precision the Trainer would choose on this machine (images.train_and_export).
    precision = training.precision_for(getattr(module, 'BFLOAT16', False))
    with training.dtype_policy(precision):
      network = module.build_model(None, {}, train_steps=steps)
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
    from models.common import tabular  # pylint: disable=g-import-not-at-top
    # The network the module's build_model wraps, here without a Transform output to ask
    # for the class count (the plain script learns its vocabulary itself).
    network = module.network(*tabular.model_inputs(spec.features), n_classes)
    precision = training.FLOAT32
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
      'precision': precision,
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


def plain_main(argv: Sequence[str]) -> int:
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
