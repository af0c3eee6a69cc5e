"""The MNIST models' training levers as A/B rows (docs/benchmarks.md): the cnn's (or mlp's)
network, as its module builds it, trained on MNIST in memory with one setting changed at a
time, the 10,000 test images scored after every epoch, training seconds counted apart from the
scoring.

  python -m pipelines.bench.levers --data-dir DIR --output rows.json ROW [ROW ...]

A ROW is `name:setting=value,...` over the settings below; unnamed ones keep the defaults,
cnn's previous recipe (the seed's N(0, 0.01) weights, float32 and batch of 100, the seed's Adam
1e-3 decayed to zero along a cosine, 8 epochs). What cnn trains with now is
`pipeline:init=he_normal,batch=250,lr=3e-3,warmup=0.2,epochs=4,precision=auto`; `network=mlp`
trains the mlp's network, whose pipeline recipe is
`mlp:network=mlp,init=he_normal,lr=3e-3,warmup=0.2,epochs=3`.
The network is the module's `build_model` with the row's `init` (models/common/networks.py:
initializer), compiled again with the row's optimizer. The schedule
and the precision are the Trainer's own (models/common/training.py: `learning_rate`, and
`training_precision` for `precision=auto`, bfloat16 only on a CPU that has it); the data comes
straight from TFDS into memory, as in reference.py, so a row measures the lever, not the input
pipeline.
"""
import argparse
import json
import time

import keras
import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds

from models.cnn import cnn_module
from models.common import training
from models.mlp import mlp_module

MODULES = {'cnn': cnn_module, 'mlp': mlp_module}
NETWORKS = tuple(MODULES)
DEFAULTS = {'network': 'cnn', 'precision': 'float32', 'batch': 100, 'lr': 1e-3, 'warmup': 0.0,
            'epochs': 8, 'init': 'seed', 'seed': 42, 'train_examples': 60_000}


def parse_row(text: str) -> dict:
  name, _, settings = text.partition(':')
  row = dict(DEFAULTS, name=name)
  for item in filter(None, settings.split(',')):
    key, _, value = item.partition('=')
    if key not in DEFAULTS:
      raise SystemExit(f'levers: unknown setting {key!r} in {text!r} (settings: '
                       f'{", ".join(DEFAULTS)})')
    row[key] = type(DEFAULTS[key])(value) if not isinstance(DEFAULTS[key], str) else value
  if row['network'] not in NETWORKS:
    raise SystemExit(f"levers: network={row['network']!r} in {text!r} is not one of "
                     f"{', '.join(NETWORKS)}")
  return row


def run_row(row: dict, data) -> dict:
  (x_train, y_train), (x_test, y_test) = data
  x_train, y_train = x_train[:row['train_examples']], y_train[:row['train_examples']]
  precision = row['precision']
  if precision == 'auto':
    precision = training.training_precision()
  keras.utils.set_random_seed(row['seed'])
  with training.dtype_policy(precision):
    # The contract's builder; MNIST's networks need nothing from Transform.
    model = MODULES[row['network']].build_model(None, {'init': row['init']})
  steps_per_epoch = len(y_train) // row['batch']
  rate = training.learning_rate(row['lr'], steps_per_epoch * row['epochs'], warmup=row['warmup'])
  model.compile(optimizer=keras.optimizers.Adam(rate), loss='sparse_categorical_crossentropy')
  train = (tf.data.Dataset.from_tensor_slices((x_train, y_train))
           .shuffle(10_000, seed=row['seed']).batch(row['batch']).prefetch(2))
  epochs, trained = [], 0.0
  for epoch in range(row['epochs']):
    started = time.perf_counter()
    model.fit(train, epochs=epoch + 1, initial_epoch=epoch, steps_per_epoch=steps_per_epoch,
              verbose=0)
    trained += time.perf_counter() - started
    predicted = model.predict(x_test, batch_size=500, verbose=0).argmax(axis=1)
    epochs.append({'epoch': epoch + 1, 'train_seconds': round(trained, 2),
                   'test_accuracy': float(np.mean(predicted == y_test))})
    print(f"{row['name']}: epoch {epoch + 1}, {trained:.1f} s, "
          f"{epochs[-1]['test_accuracy']:.4f}", flush=True)
  return dict(row, precision=precision, epochs=epochs)


def main():
  parser = argparse.ArgumentParser()
  parser.add_argument('rows', nargs='+', help='name:setting=value,... (see the docstring)')
  parser.add_argument('--data-dir')
  parser.add_argument('--output', required=True)
  args = parser.parse_args()
  rows = [parse_row(text) for text in args.rows]
  count = max(row['train_examples'] for row in rows)  # only the training images a row uses
  (x_train, y_train), (x_test, y_test) = tfds.as_numpy(tfds.load(
      'mnist', split=[f'train[:{count}]', 'test'], batch_size=-1, as_supervised=True,
      data_dir=args.data_dir, download=False))
  data = ((x_train.astype('float32') / 255, y_train), (x_test.astype('float32') / 255, y_test))
  results = [run_row(row, data) for row in rows]
  with open(args.output, 'w', encoding='utf-8') as f:
    json.dump(results, f, indent=1)


if __name__ == '__main__':
  main()
