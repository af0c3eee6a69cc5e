"""Serving latency: a signature called through TF Serving's loader, timed per batch size."""
from __future__ import annotations

import gzip
import math
import os
import time
from typing import Any, Callable, Dict, List, Optional, Sequence

from models.common.features import RAW_SIGNATURE
from pipelines.bench.common import BenchError, LATENCY_BATCHES, MNIST, mnist_prepared


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
