"""ResumableTrainer: TFX's Trainer, recording in ML Metadata whether its training resumed a
killed run's (models/common/resume.py) and how many steps it trained.

The package imports nothing heavy (the run summary reads `keys` without TFX); the component is
imported on first use.
"""
_LAZY = {'ResumableTrainer': 'component'}
__all__ = sorted(_LAZY)


def __getattr__(name):
  if name in _LAZY:
    import importlib  # pylint: disable=g-import-not-at-top
    return getattr(importlib.import_module(f'components.resumable_trainer.{_LAZY[name]}'), name)
  raise AttributeError(name)
