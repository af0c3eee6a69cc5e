"""QualityEvaluator: gates models whose quality TFMA cannot measure (generated words, images).

The package imports nothing heavy (the run summary reads `keys` without TFX); the component
and its executor are imported on first use.
"""
from components.quality_evaluator.keys import METRICS_FILE

_LAZY = {'QualityEvaluator': 'component', 'QualityGate': 'executor', 'check_gates': 'executor',
         'read_examples': 'executor'}
__all__ = ['METRICS_FILE'] + sorted(_LAZY)


def __getattr__(name):
  if name in _LAZY:
    import importlib  # pylint: disable=g-import-not-at-top
    return getattr(importlib.import_module(f'components.quality_evaluator.{_LAZY[name]}'), name)
  raise AttributeError(name)
