"""What a resumable Trainer records (read by the run summary without TFX)."""

RECORD_FILE = 'training.json'  # in the ModelRun folder, written by the module's training
# Custom properties of the ModelRun artifact, copied from RECORD_FILE by the executor:
EPOCHS = 'epochs'
STEPS_PER_EPOCH = 'steps_per_epoch'
RESUMED_FROM_EPOCH = 'resumed_from_epoch'  # 0: trained from the start
STEPS_TRAINED = 'steps_trained'  # by this execution (fewer than train_steps when resumed)
PRECISION = 'precision'  # training's arithmetic: float32 or mixed_bfloat16 (the export: float32)
# What a model that allows bfloat16 trains in (models/common/training.py): auto chooses by the CPU.
PRECISION_ENV = 'TFZOO_PRECISION'
PRECISIONS = ('auto', 'float32', 'mixed_bfloat16')
INT_PROPERTIES = (EPOCHS, STEPS_PER_EPOCH, RESUMED_FROM_EPOCH, STEPS_TRAINED)


def precision_error(value: str) -> str:
  """The one line naming a bad $TFZOO_PRECISION value; '' for a good or an empty one."""
  if not value or value in PRECISIONS:
    return ''
  return f'{PRECISION_ENV}={value!r}: expected one of {", ".join(PRECISIONS)}'
