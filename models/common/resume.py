"""A Trainer killed mid-training resumes from its last completed epoch on the next run.

Keras' BackupAndRestore, in production form:
- Keyed by what determines the training: the input artifacts (their URIs: a new ExampleGen or
  Transform output is a new URI), the step counts, the hyperparameters and the custom_config,
  which holds the code's fingerprint (the model's folder, models/common, the serving loader).
  A changed model, config or dataset never resumes an old one; the states of other keys are
  deleted when a Trainer starts.
- Safe against a kill mid-write: each epoch's state is written beside the last one and renamed
  into place, so there is always a whole checkpoint or none (BackupAndRestore overwrites one
  file in place, and a kill during that write would leave every later run unable to start).
- Kept beside the Trainer's outputs (<pipeline root>/<Trainer id>/resume/<key>), where the next
  execution, with its new output folders, finds it; deleted once training has finished.

The state is the model's weights and its optimizers' (their step counters included, so a
decaying learning rate carries on where it stopped). A resumed run does not replay the killed
run's data order: it starts its epochs from the seeded shuffle again.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import re

import keras
import tensorflow as tf
from tfx.components.trainer.fn_args_utils import FnArgs

from components.resumable_trainer import keys

_CHECKPOINT = re.compile(r'^epoch-(\d+)\.weights\.h5$')


def resume_key(fn_args: FnArgs) -> str:
  """Hash of everything that determines the training (see the module's docstring)."""
  determines = {
      'train_files': fn_args.train_files, 'eval_files': fn_args.eval_files,
      'transform_output': fn_args.transform_output, 'schema': fn_args.schema_path,
      'train_steps': fn_args.train_steps, 'eval_steps': fn_args.eval_steps,
      'hyperparameters': fn_args.hyperparameters, 'base_model': fn_args.base_model,
      'custom_config': fn_args.custom_config,
  }
  encoded = json.dumps(determines, sort_keys=True, default=str).encode()
  return hashlib.sha256(encoded).hexdigest()[:16]


def resume_root(fn_args: FnArgs) -> str:
  """<pipeline root>/<Trainer id>/resume, where TFX's local runners write a Trainer's outputs
  to <pipeline root>/<Trainer id>/<output>/<execution id>. Under another layout (Vertex puts
  every job in its own folder) the state stays in the execution's ModelRun folder and a new
  run starts from step 0 (docs/scale-out.md)."""
  outputs, execution = os.path.split(fn_args.model_run_dir.rstrip('/'))
  if execution.isdigit() and os.path.basename(outputs) == 'model_run':
    return os.path.join(os.path.dirname(outputs), 'resume')
  logging.info('No shared resume folder for %s; checkpoints stay in it', fn_args.model_run_dir)
  return os.path.join(fn_args.model_run_dir, 'resume')


def build_optimizers(model: keras.Model) -> None:
  """Creates the optimizer variables a checkpoint holds, which Keras otherwise creates at the
  first step: a model with its own optimizers (the GANs) builds them itself."""
  if hasattr(model, 'build_optimizers'):
    model.build_optimizers()
  elif model.optimizer is not None and not model.optimizer.built:
    model.optimizer.build(model.trainable_variables)


class EpochCheckpoints(keras.callbacks.Callback):
  """Saves the training state after every epoch; `restore` loads the latest one."""

  def __init__(self, directory: str):
    super().__init__()
    self.directory = directory

  @classmethod
  def for_run(cls, fn_args: FnArgs) -> 'EpochCheckpoints':
    """This training's checkpoints; every other key's (a changed model, config or dataset)
    and any half-written file are deleted."""
    root = resume_root(fn_args)
    key = resume_key(fn_args)
    if tf.io.gfile.isdir(root):
      for name in tf.io.gfile.listdir(root):
        if name.rstrip('/') != key:
          tf.io.gfile.rmtree(os.path.join(root, name))
    directory = os.path.join(root, key)
    tf.io.gfile.makedirs(directory)
    for name in tf.io.gfile.listdir(directory):
      if not _CHECKPOINT.match(name):
        tf.io.gfile.remove(os.path.join(directory, name))
    return cls(directory)

  def completed_epochs(self) -> list[int]:
    names = tf.io.gfile.listdir(self.directory) if tf.io.gfile.isdir(self.directory) else []
    return sorted(int(m.group(1)) for m in map(_CHECKPOINT.match, names) if m)

  def _path(self, epochs: int) -> str:
    return os.path.join(self.directory, f'epoch-{epochs:04d}.weights.h5')

  def restore(self, model: keras.Model) -> int:
    """Loads the latest checkpoint into `model`; returns the epochs it holds (0: none). One
    that cannot be read is deleted and training starts over, with a warning."""
    completed = self.completed_epochs()
    if not completed:
      return 0
    path = self._path(completed[-1])
    build_optimizers(model)
    try:
      model.load_weights(path)
    except (OSError, ValueError) as e:
      logging.warning('Cannot resume from %s (%s); training from the start', path, e)
      tf.io.gfile.remove(path)
      return 0
    logging.info('Resuming training after epoch %d from %s', completed[-1], path)
    return completed[-1]

  def on_epoch_end(self, epoch, logs=None):
    partial = os.path.join(self.directory, f'.partial-{os.getpid()}.weights.h5')
    self.model.save_weights(partial, overwrite=True)
    tf.io.gfile.rename(partial, self._path(epoch + 1), overwrite=True)
    for done in self.completed_epochs():
      if done < epoch + 1:
        tf.io.gfile.remove(self._path(done))

  def clear(self) -> None:
    """Training finished: nothing is left to resume."""
    if tf.io.gfile.isdir(self.directory):
      tf.io.gfile.rmtree(self.directory)


def write_record(model_run_dir: str, epochs: int, steps_per_epoch: int,
                 resumed_from_epoch: int, precision: str = 'float32') -> None:
  """What this execution trained, in its ModelRun folder (ResumableTrainer's executor records
  it in ML Metadata)."""
  record = {keys.EPOCHS: epochs, keys.STEPS_PER_EPOCH: steps_per_epoch,
            keys.RESUMED_FROM_EPOCH: resumed_from_epoch,
            keys.STEPS_TRAINED: (epochs - resumed_from_epoch) * steps_per_epoch,
            keys.PRECISION: precision}
  tf.io.gfile.makedirs(model_run_dir)
  with tf.io.gfile.GFile(os.path.join(model_run_dir, keys.RECORD_FILE), 'w') as f:
    f.write(json.dumps(record, indent=1))
