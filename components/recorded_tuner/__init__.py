"""RecordedTuner: TFX's Tuner, recording every trial and the chosen values in ML Metadata.

The package imports nothing heavy (the run summary reads `keys` without TFX); the component is
imported on first use.
"""
_LAZY = {'RecordedTuner': 'component'}
__all__ = sorted(_LAZY)


def __getattr__(name):
  if name in _LAZY:
    import importlib  # pylint: disable=g-import-not-at-top
    return getattr(importlib.import_module(f'components.recorded_tuner.{_LAZY[name]}'), name)
  raise AttributeError(name)
