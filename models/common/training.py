"""Shared Trainer plumbing: seeded input pipelines, a step schedule, TensorBoard logging."""
from __future__ import annotations

from typing import Any, Dict, List, Optional

import keras
import tensorflow as tf
import tensorflow_transform as tft
from tfx.components.trainer.fn_args_utils import FnArgs
from tfx_bsl.public import tfxio

from models.common import resume
from models.common.features import transformed_name


def seed_everything(seed: int) -> None:
  """Python, NumPy and TensorFlow seeds plus deterministic ops: a rerun trains the same model."""
  keras.utils.set_random_seed(seed)
  tf.config.experimental.enable_op_determinism()


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


def learning_rate(base: float, decay_steps: Optional[int]):
  """The MNIST classifiers' schedule: `base` decaying to 0 along a cosine over the run's steps
  (constant `base` when decay_steps is None, e.g. in unit tests of one step).

  The decay, where the seed kept the rate constant: at a constant rate mlp and cnn ended just
  under their gates, the last steps' noise costing the final tenths of a percent (docs/models.md).
  """
  if decay_steps:
    return keras.optimizers.schedules.CosineDecay(base, decay_steps)
  return base


def epochs_for(total_steps: int, max_epochs: int = 10) -> tuple[int, int]:
  """Splits `total_steps` into (epochs, steps_per_epoch) exactly, with up to `max_epochs`
  epochs so TensorBoard gets a curve rather than one point."""
  for epochs in range(min(max_epochs, total_steps), 0, -1):
    if total_steps % epochs == 0:
      return epochs, total_steps // epochs
  return 1, total_steps


def fit(model: keras.Model, fn_args: FnArgs, train: tf.data.Dataset,
        evaluation: Optional[tf.data.Dataset],
        callbacks: Optional[List[keras.callbacks.Callback]] = None) -> Dict[str, Any]:
  """Trains for exactly fn_args.train_steps steps, logging scalars and weight histograms (the
  seed logged W1) to the Trainer's model_run_dir, which TFX records as ModelRun.

  A checkpoint after every epoch lets the next run of a killed Trainer resume from its last
  completed epoch (models/common/resume.py); the ModelRun records how many steps this one
  trained.
  """
  epochs, steps_per_epoch = epochs_for(fn_args.train_steps)
  tensorboard = keras.callbacks.TensorBoard(log_dir=fn_args.model_run_dir, histogram_freq=1)
  checkpoints = resume.EpochCheckpoints.for_run(fn_args)
  resumed_from = checkpoints.restore(model)
  history = model.fit(
      train, epochs=epochs, initial_epoch=resumed_from, steps_per_epoch=steps_per_epoch,
      validation_data=evaluation, validation_steps=fn_args.eval_steps if evaluation else None,
      callbacks=[tensorboard, checkpoints] + list(callbacks or []), verbose=2)
  resume.write_record(fn_args.model_run_dir, epochs, steps_per_epoch, resumed_from)
  checkpoints.clear()
  return {k: v[-1] for k, v in history.history.items()}
