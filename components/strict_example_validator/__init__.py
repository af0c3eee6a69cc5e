"""StrictExampleValidator: TFX's ExampleValidator, but anomalies stop the run before training.

The package imports nothing heavy (the command line reads `errors` without TFX); the component
and its executor are imported on first use.
"""
from components.strict_example_validator.errors import DataAnomaliesError

_LAZY = {'StrictExampleValidator': 'component', 'describe': 'executor'}
__all__ = ['DataAnomaliesError'] + sorted(_LAZY)


def __getattr__(name):
  if name in _LAZY:
    import importlib  # pylint: disable=g-import-not-at-top
    return getattr(importlib.import_module(f'components.strict_example_validator.{_LAZY[name]}'),
                   name)
  raise AttributeError(name)
