"""DriftValidator: TFX's DistributionValidator, but drift from the served model's training data
stops the run before training (unless accepted on purpose).

The package imports nothing heavy (the command line and the run summary read `errors` and
`keys` without TFX); the component and its executor are imported on first use.
"""
from components.drift_validator.errors import DataDriftError

_LAZY = {'DriftValidator': 'component', 'load_config': 'component'}
__all__ = ['DataDriftError'] + sorted(_LAZY)


def __getattr__(name):
  if name in _LAZY:
    import importlib  # pylint: disable=g-import-not-at-top
    return getattr(importlib.import_module(f'components.drift_validator.{_LAZY[name]}'), name)
  raise AttributeError(name)
