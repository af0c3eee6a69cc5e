"""What the MNIST end-to-end tests share: the components a fast MNIST run executes, and test
digits read through TFDS as pixels, labels and the rows TF Serving is sent."""
from __future__ import annotations

import tensorflow as tf
import tensorflow_datasets as tfds

COMPONENTS = ['TfdsExampleGen', 'ImportSchemaGen', 'StatisticsGen', 'ExampleValidator',
              'DriftValidator', 'Transform', 'Trainer', 'Evaluator', 'InfraValidator', 'Pusher']


def mnist_digits(tfds_data_dir: str, split: str):
  """(pixels uint8 [N, 28, 28], labels, the same digits as rows {image: [PNG], label: [d]})."""
  batch = tfds.as_numpy(tfds.load('mnist:3.0.1', split=split, data_dir=tfds_data_dir,
                                  batch_size=-1))
  pixels, labels = batch['image'][..., 0], batch['label']
  rows = [{'image': [tf.io.encode_png(p[..., None]).numpy()], 'label': [int(l)]}
          for p, l in zip(pixels, labels)]
  return pixels, labels, rows
