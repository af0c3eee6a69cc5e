"""The registry of model specs: what each pipeline ingests, trains and gates on.

A ModelSpec is data. `pipelines.factory.create_pipeline` turns any spec into the same TFX DAG;
adding a model is one folder under models/ plus one entry here. This module imports nothing
heavy, so the CLI can validate a MODEL name before paying for TensorFlow.
"""
from __future__ import annotations

import dataclasses
import os
import re
from typing import Dict, Optional, Tuple

PROJECT_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODELS_DIR = os.path.join(PROJECT_ROOT, 'models')
DATA_DIR = os.path.join(PROJECT_ROOT, 'data')


@dataclasses.dataclass(frozen=True)
class CsvSource:
  """A CSV file read by CsvExampleGen.

  The seed trains and evaluates on the same few rows; `same_rows_for_eval` keeps that protocol
  with two explicit input splits over the one file (CsvExampleGen's default hash split would
  send identical rows to the same split and leave eval with a single class).
  """
  path: str  # relative to data/, or absolute
  schema: str  # curated schema (schema.pbtxt text format), relative to data/
  same_rows_for_eval: bool = True

  def resolve(self, path: Optional[str] = None) -> str:
    path = path or self.path
    return path if os.path.isabs(path) else os.path.join(DATA_DIR, path)

  @property
  def schema_path(self) -> str:
    return os.path.join(DATA_DIR, self.schema)


@dataclasses.dataclass(frozen=True)
class Gate:
  """A TFMA metric the Evaluator gates on.

  `bound` is the absolute value the model must reach (lower bound when higher is better, upper
  bound otherwise). `max_regression` is how much worse than the latest blessed model a candidate
  may be (0 = no worse); TFMA skips that check on the first run, when there is no baseline.
  """
  metric: str  # TFMA / Keras metric class name, e.g. 'SparseCategoricalAccuracy'
  key: str  # the metric's name in TFMA's output, e.g. 'sparse_categorical_accuracy'
  bound: float
  higher_is_better: bool
  max_regression: float = 0.0


@dataclasses.dataclass(frozen=True)
class ModelSpec:
  """Everything the pipeline factory needs to know about one model."""
  name: str
  description: str
  source: CsvSource
  task: str  # 'classification' or 'regression'
  features: Tuple[str, ...]  # raw feature columns fed to the model
  label: str  # raw label column
  gates: Tuple[Gate, ...]
  train_steps: int
  eval_steps: int = 1

  @property
  def module_dir(self) -> str:
    return os.path.join(MODELS_DIR, self.name)

  @property
  def module_file(self) -> str:
    """The Transform + Trainer module file (preprocessing_fn, run_fn).

    Named after the model: TFX imports module files by their bare name, so two models must not
    share one.
    """
    return os.path.join(self.module_dir, f'{self.name}_module.py')


_ANIMALS = CsvSource(path='animals.csv', schema='schemas/animals/schema.pbtxt')
_ALL_SIX_RIGHT = Gate(metric='SparseCategoricalAccuracy', key='sparse_categorical_accuracy',
                      bound=1.0, higher_is_better=True)

REGISTRY: Dict[str, ModelSpec] = {
    spec.name: spec for spec in [
        ModelSpec(
            name='linear',
            description='linear regression y = W*x + b on x=[1,2,3] -> y=[1,2,3]',
            source=CsvSource(path='linear.csv', schema='schemas/linear/schema.pbtxt'),
            task='regression', features=('x',), label='y',
            gates=(Gate(metric='MeanSquaredError', key='mean_squared_error', bound=1e-3,
                        higher_is_better=False, max_regression=1e-3),),
            train_steps=300),
        ModelSpec(
            name='classifier',
            description='animal classifier: fur, wings -> other/mammal/bird, one softmax layer',
            source=_ANIMALS, task='classification', features=('fur', 'wings'),
            label='species', gates=(_ALL_SIX_RIGHT,), train_steps=100),
        ModelSpec(
            name='dnn',
            description='deep network 2->10->20->3 on the animals CSV',
            source=_ANIMALS, task='classification', features=('fur', 'wings'),
            label='species', gates=(_ALL_SIX_RIGHT,), train_steps=100),
    ]
}

_NAME_RE = re.compile(r'^[a-z][a-z0-9_]*$')


class UnknownModelError(ValueError):
  pass


def get_spec(name: str) -> ModelSpec:
  """Returns the spec for `name`, refusing anything that is not a registered model name."""
  valid = ', '.join(sorted(REGISTRY))
  if not _NAME_RE.match(name or ''):
    raise UnknownModelError(f'invalid MODEL {name!r}: must be one of {valid}')
  if name not in REGISTRY:
    raise UnknownModelError(f'unknown MODEL {name!r}: must be one of {valid}')
  return REGISTRY[name]
