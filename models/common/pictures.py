"""The seed's pictures: grids of images with a caption over each, written as a PNG next to the
Trainer's run outputs (its ModelRun directory) and as a TensorBoard image summary there.

Drawn with matplotlib's Agg backend (no display needed), so a run on a server writes the same
picture a notebook would show.
"""
from __future__ import annotations

import io
import os
from typing import Optional, Sequence

import numpy as np
import tensorflow as tf

PICTURES_DIR = 'pictures'  # under the Trainer's model_run_dir; TensorBoard reads it too


def grid_png(images: np.ndarray, captions: Optional[Sequence[str]] = None,
             colors: Optional[Sequence[str]] = None, columns: int = 10,
             row_labels: Optional[Sequence[str]] = None, title: Optional[str] = None) -> bytes:
  """images: [N, H, W] (or [N, H, W, 1]) grey values in [0, 1] -> PNG bytes of a grid, with
  captions[i] over image i and row_labels[r] left of row r."""
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use('Agg')
  from matplotlib import pyplot as plt  # pylint: disable=g-import-not-at-top

  images = np.asarray(images, dtype=np.float32).reshape(len(images), *np.shape(images)[1:3])
  rows = -(-len(images) // columns)
  figure, axes = plt.subplots(rows, columns, figsize=(columns * 0.9, rows * 1.05 + 0.3),
                              squeeze=False)
  for i, ax in enumerate(axes.flat):
    ax.set_xticks([])
    ax.set_yticks([])
    if i >= len(images):
      ax.axis('off')
      continue
    ax.imshow(images[i], cmap='gray_r', vmin=0.0, vmax=1.0)
    if captions is not None:
      ax.set_title(captions[i], fontsize=10, color=(colors[i] if colors else 'black'))
  for r, label in enumerate(row_labels or []):
    axes[r][0].set_ylabel(label, rotation=0, fontsize=10, labelpad=14, va='center')
  if title:
    figure.suptitle(title, fontsize=10)
  figure.tight_layout()
  buffer = io.BytesIO()
  figure.savefig(buffer, format='png', dpi=80)
  plt.close(figure)
  return buffer.getvalue()


def write(run_dir: str, name: str, png: bytes, step: int = 0) -> str:
  """Writes `<run_dir>/pictures/<name>.png` and the same image as a TensorBoard summary in
  `<run_dir>/pictures`; returns the PNG's path."""
  directory = os.path.join(run_dir, PICTURES_DIR)
  tf.io.gfile.makedirs(directory)
  path = os.path.join(directory, f'{name}.png')
  with tf.io.gfile.GFile(path, 'wb') as f:
    f.write(png)
  writer = tf.summary.create_file_writer(directory)
  with writer.as_default():
    tf.summary.image(name, tf.io.decode_png(png)[tf.newaxis], step=step)
  writer.close()
  return path


def first_examples(file_patterns: Sequence[str], count: int) -> np.ndarray:
  """The first `count` serialized tf.Examples of an Examples split (gzipped TFRecords), as a
  NumPy array of bytes: what ServingSession.run takes for a string input."""
  files = sorted(f for pattern in file_patterns for f in tf.io.gfile.glob(pattern))
  records = tf.data.TFRecordDataset(files, compression_type='GZIP').take(count)
  return np.array([r.numpy() for r in records], dtype=object)
