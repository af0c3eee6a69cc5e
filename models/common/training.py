"""Shared Trainer plumbing: seeded input pipelines, a step schedule, the compute precision,
TensorBoard logging."""
from __future__ import annotations

import contextlib
import os
from typing import Any, Dict, Iterator, List, Optional

import keras
import tensorflow as tf
import tensorflow_transform as tft
from tfx.components.trainer.fn_args_utils import FnArgs
from tfx_bsl.public import tfxio

from components.resumable_trainer import keys
from models.common import resume
from models.common.features import transformed_name


def seed_everything(seed: int) -> None:
  """Python, NumPy and TensorFlow seeds plus deterministic ops: a rerun trains the same model."""
  keras.utils.set_random_seed(seed)
  tf.config.experimental.enable_op_determinism()


# The cores tf.data's work may use where autotuning is off (without_autotuning).
CORES = len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else os.cpu_count() or 1


def without_autotuning(dataset: tf.data.Dataset) -> tf.data.Dataset:
  """`dataset` with tf.data's autotuning off (the MNIST Trainers' input, images.dataset). Its
  model thread sleeps up to a minute between optimizations, and deleting an iterator (the
  validation one after the last epoch, the training one when fit returns) waited for it to
  wake: 14-23 s more in 5 of 12 mlp Trainer runs (docs/benchmarks.md). Stages given AUTOTUNE
  then run at tf.data's defaults, so the caller sets its own. The tabular and word Trainers'
  `dataset` keeps autotuning: not measured with it off."""
  options = tf.data.Options()
  options.autotune.enabled = False
  return dataset.with_options(options)


def dataset(fn_args: FnArgs, file_pattern: List[str],
            tf_transform_output: tft.TFTransformOutput, label: str, batch_size: int,
            seed: int, shuffle: bool = True) -> tf.data.Dataset:
  """Transformed examples as (features, label) batches, repeated forever."""
  return fn_args.data_accessor.tf_dataset_factory(
      file_pattern,
      tfxio.TensorFlowDatasetOptions(
          batch_size=batch_size, label_key=transformed_name(label), shuffle=shuffle,
          shuffle_seed=seed),
      tf_transform_output.transformed_metadata.schema).repeat()


# The share of the steps over which the one-cycle rate rises (cnn's and mlp's `warmup`).
ONE_CYCLE_WARMUP = 0.2


def learning_rate(base: float, decay_steps: Optional[int], warmup: float = 0.0):
  """The MNIST classifiers' schedule: `base` decaying to 0 along a cosine over the run's steps
  (constant `base` when decay_steps is None, e.g. in unit tests of one step). With `warmup` (a
  fraction of the steps), a one-cycle schedule: the rate first rises linearly from base / 10 to
  `base` over those steps, then decays along the cosine over the rest.

  The decay, where the seed kept the rate constant: at a constant rate mlp and cnn ended just
  under their gates, the last steps' noise costing the final tenths of a percent (docs/models.md).
  The warm-up lets cnn train at a peak rate that diverges from the first step (docs/benchmarks.md).
  """
  if not decay_steps:
    return base
  warmup_steps = int(decay_steps * warmup)
  if warmup_steps:
    return keras.optimizers.schedules.CosineDecay(
        base / 10, decay_steps - warmup_steps, warmup_target=base, warmup_steps=warmup_steps)
  return keras.optimizers.schedules.CosineDecay(base, decay_steps)


FLOAT32, MIXED_BFLOAT16 = 'float32', 'mixed_bfloat16'
# CPU flags (Linux's /proc/cpuinfo names) of native bfloat16 arithmetic, which oneDNN's kernels
# use; without them oneDNN emulates bfloat16, 12.6x slower than float32 (docs/benchmarks.md).
BF16_CPU_FLAGS = ('avx512_bf16', 'amx_bf16')


def cpu_flags(cpuinfo: str = '/proc/cpuinfo') -> frozenset:
  """The first processor's flags; empty where the file is missing (not Linux) or unreadable."""
  try:
    with open(cpuinfo, encoding='utf-8', errors='replace') as f:
      for line in f:
        name, _, value = line.partition(':')
        if name.strip() == 'flags':
          return frozenset(value.split())
  except OSError:
    pass
  return frozenset()


def training_precision(flags: Optional[frozenset] = None) -> str:
  """What a model that allows it trains in: $TFZOO_PRECISION when set, else mixed_bfloat16
  (bfloat16 arithmetic, float32 weights) on a CPU with native bfloat16 and oneDNN on and no GPU
  visible, else float32. Only the training's arithmetic: the exported model is float32
  (float32_copy)."""
  chosen = os.environ.get(keys.PRECISION_ENV) or 'auto'
  error = keys.precision_error(chosen)
  if error:  # `tfzoo run` says so before any component runs
    raise ValueError(error)
  if chosen != 'auto':
    return chosen
  if os.environ.get('TF_ENABLE_ONEDNN_OPTS', '1') in ('0', 'false', 'False'):
    return FLOAT32
  if tf.config.list_physical_devices('GPU'):
    return FLOAT32  # not measured on a GPU
  flags = cpu_flags() if flags is None else flags
  return MIXED_BFLOAT16 if flags & set(BF16_CPU_FLAGS) else FLOAT32


def precision_for(allows_bfloat16: bool) -> str:
  """What a model trains in: training_precision() if its module allows bfloat16 (measured per
  model, docs/benchmarks.md), else float32."""
  return training_precision() if allows_bfloat16 else FLOAT32


@contextlib.contextmanager
def dtype_policy(name: str) -> Iterator[None]:
  """Keras's global dtype policy set to `name` for the models built inside, then restored."""
  previous = keras.config.dtype_policy()
  keras.config.set_dtype_policy(name)
  try:
    yield
  finally:
    keras.config.set_dtype_policy(previous)


def float32_copy(model: keras.Model, build) -> keras.Model:
  """`model` itself when it computes in float32; else the same network built by `build()` under
  float32, holding `model`'s (float32) weights: what is exported, so TF Serving runs float32
  kernels on any CPU."""
  if all(layer.dtype_policy.compute_dtype == 'float32' for layer in model.layers):
    return model
  with dtype_policy(FLOAT32):
    copy = build()
  copy.set_weights(model.get_weights())
  return copy


def epochs_for(total_steps: int, max_epochs: int = 10) -> tuple[int, int]:
  """Splits `total_steps` into (epochs, steps_per_epoch) exactly, with up to `max_epochs`
  epochs so TensorBoard gets a curve rather than one point."""
  for epochs in range(min(max_epochs, total_steps), 0, -1):
    if total_steps % epochs == 0:
      return epochs, total_steps // epochs
  return 1, total_steps


class EpochTensorBoard(keras.callbacks.TensorBoard):
  """Keras's TensorBoard logging once per epoch, without its per-batch hook after the first
  batch (which writes the model's graph): at update_freq='epoch' that hook records nothing,
  yet it cost 0.8 ms a step, 7.4 s of mlp's 9,000 (docs/benchmarks.md)."""

  def on_train_batch_end(self, batch, logs=None):
    if self._should_write_train_graph or self.update_freq != 'epoch':
      super().on_train_batch_end(batch, logs)


def fit(model: keras.Model, fn_args: FnArgs, train: tf.data.Dataset,
        evaluation: Optional[tf.data.Dataset],
        callbacks: Optional[List[keras.callbacks.Callback]] = None,
        precision: str = FLOAT32) -> Dict[str, Any]:
  """Trains for exactly fn_args.train_steps steps, logging scalars and weight histograms (the
  seed logged W1) to the Trainer's model_run_dir, which TFX records as ModelRun.

  A checkpoint after every epoch lets the next run of a killed Trainer resume from its last
  completed epoch (models/common/resume.py); the ModelRun records how many steps this one
  trained and in which `precision` (training_precision).
  """
  epochs, steps_per_epoch = epochs_for(fn_args.train_steps)
  tensorboard = EpochTensorBoard(log_dir=fn_args.model_run_dir, histogram_freq=1)
  checkpoints = resume.EpochCheckpoints.for_run(fn_args)
  resumed_from = checkpoints.restore(model)
  history = model.fit(
      train, epochs=epochs, initial_epoch=resumed_from, steps_per_epoch=steps_per_epoch,
      validation_data=evaluation, validation_steps=fn_args.eval_steps if evaluation else None,
      callbacks=[tensorboard, checkpoints] + list(callbacks or []), verbose=2)
  resume.write_record(fn_args.model_run_dir, epochs, steps_per_epoch, resumed_from, precision)
  checkpoints.clear()
  return {k: v[-1] for k, v in history.history.items()}
