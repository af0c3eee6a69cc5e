"""TfdsExampleGen: a TFX ExampleGen for tensorflow-datasets (TFX has none).

The package imports nothing heavy (the command line runs `download`'s probe without
TensorFlow or TFX); the component is imported on first use.
"""
from components.tfds_example_gen.errors import TfdsExampleGenError

_LAZY = {'TfdsExampleGen': 'component'}
__all__ = ['TfdsExampleGenError'] + sorted(_LAZY)


def __getattr__(name):
  if name in _LAZY:
    import importlib  # pylint: disable=g-import-not-at-top
    return getattr(importlib.import_module(f'components.tfds_example_gen.{_LAZY[name]}'), name)
  raise AttributeError(name)
