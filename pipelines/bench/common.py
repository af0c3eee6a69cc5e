"""What every part of the bench shares: the models it measures, its constants, its error."""
from __future__ import annotations

import os


DEFAULT_MODELS = ('classifier', 'linear', 'mlp', 'cnn')
# The models whose training the plain script can mirror: the CSV models built by
# models/common/tabular.py and the MNIST classifiers built by models/common/images.py.
TABULAR_MODELS = ('linear', 'classifier', 'dnn')
IMAGE_MODELS = ('mlp', 'mlp_dropout', 'mlp_bn', 'cnn', 'rnn')
BENCH_MODELS = TABULAR_MODELS + IMAGE_MODELS
# Raced against the hand-written reference (pipelines/bench/reference.py): the whole pipeline
# must reach its gate + TARGET_MARGIN in at most TARGET_RATIO x the reference's time to the gate.
REFERENCE_MODELS = ('mlp', 'cnn')
# The reference trains until it reaches the gate (and the pipeline's epochs), at most this many
# epochs: at a constant rate mlp first reached 0.98 at epoch 19 (docs/benchmarks.md).
REFERENCE_MAX_EPOCHS = 40
TARGET_MARGIN = 0.002
TARGET_RATIO = 0.6
MNIST = 'mnist:3.0.1'
MNIST_FILES = ('train-images-idx3-ubyte.gz', 'train-labels-idx1-ubyte.gz',
               't10k-images-idx3-ubyte.gz', 't10k-labels-idx1-ubyte.gz')
MARKER = '.tfzoo-bench'  # a work directory the bench made, so it may delete it
LATENCY_BATCHES = (1, 100)
POLL_SECONDS = 0.2
MB = 2 ** 20
SET_HERE = set()  # environment variables this process set for itself only


class BenchError(RuntimeError):
  """Stops the bench; the message is the one line printed."""

def mnist_prepared(data_dir: str) -> bool:
  name, version = MNIST.split(':')
  return os.path.isfile(os.path.join(data_dir, name, version, 'dataset_info.json'))
