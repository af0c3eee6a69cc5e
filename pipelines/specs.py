"""What a model's pipeline is made of, as plain data: its data source, gates, fast mode.

`pipelines.registry` holds one ModelSpec per model; `pipelines.factory.create_pipeline` turns
any of them into the same TFX DAG. Nothing here imports TensorFlow.
"""
from __future__ import annotations

import dataclasses
import os
from typing import Any, Optional, Tuple, Union

from pipelines.datafile import CharRule
from pipelines.paths import DATA_DIR, MODELS_DIR


class UnknownModelError(ValueError):
  """A MODEL that is not registered (or has no such mode): one line naming the valid ones."""


class _Curated:
  """A data source's curated files under data/: its schema and, beside it, its drift
  thresholds (components/drift_validator)."""
  schema: str

  @property
  def schema_path(self) -> str:
    return os.path.join(DATA_DIR, self.schema)

  @property
  def drift_path(self) -> str:
    """The drift thresholds, beside the curated schema (components/drift_validator)."""
    return os.path.join(os.path.dirname(self.schema_path), 'drift.pbtxt')


@dataclasses.dataclass(frozen=True)
class CsvSource(_Curated):
  """A CSV file read by CsvExampleGen.

  The seed trains and evaluates on the same few rows; `same_rows_for_eval` keeps that protocol
  with two explicit input splits over the one file (CsvExampleGen's default hash split would
  send identical rows to the same split and leave eval with a single class).
  """
  path: str  # relative to data/, or absolute
  schema: str  # curated schema (schema.pbtxt text format), relative to data/
  same_rows_for_eval: bool = True
  # Per-character rules the pre-flight checks (TFDV's schema judges whole values only).
  rules: Tuple[CharRule, ...] = ()

  def resolve(self, path: Optional[str] = None) -> str:
    path = path or self.path
    return path if os.path.isabs(path) else os.path.join(DATA_DIR, path)


@dataclasses.dataclass(frozen=True)
class TfdsSource(_Curated):
  """A tensorflow-datasets dataset read by TfdsExampleGen (components/tfds_example_gen)."""
  dataset: str  # TFDS name with its version pinned, e.g. 'mnist:3.0.1'
  schema: str  # curated schema, relative to data/
  train_split: str = 'train'  # TFDS split expressions (slicing allowed: 'train[:2000]')
  eval_split: str = 'test'


@dataclasses.dataclass(frozen=True)
class Gate:
  """A TFMA metric the Evaluator gates on.

  `bound` is the absolute value the model must reach (lower bound when higher is better, upper
  bound otherwise). `max_regression` is how much worse than the latest blessed model a candidate
  may be (0 = no worse); TFMA skips that check on the first run, when there is no baseline.
  Every threshold but `per_class_bound` gates the overall slice.
  """
  metric: str  # TFMA / Keras metric class name, e.g. 'SparseCategoricalAccuracy'
  key: str  # the metric's name in the evaluation, e.g. 'sparse_categorical_accuracy'
  bound: float
  higher_is_better: bool
  max_regression: float = 0.0
  # Classifiers: the metric on every label value's slice must reach this too (higher is
  # better), so a model failing one class is refused even when the average passes.
  per_class_bound: Optional[float] = None


@dataclasses.dataclass(frozen=True)
class ModelSpec:
  """Everything the pipeline factory needs to know about one model."""
  name: str
  description: str
  source: Union[CsvSource, TfdsSource]
  task: str  # 'classification', 'regression', 'translation', 'reconstruction', 'generation'
  features: Tuple[str, ...]  # raw feature columns fed to the model
  label: str  # raw label column
  gates: Tuple[Gate, ...]
  train_steps: int
  # The Trainer's batch size: its one place (the module reads custom_config['batch_size']).
  batch_size: int
  eval_steps: int = 1
  # Transform writes transformed examples for the Trainer (small tabular data), or only its
  # graph, which the Trainer then applies in its input pipeline (images: decoding 60,000 PNGs
  # into floats on disk would cost more than it saves).
  materialize: bool = True
  # --fast: a slice of the data, few steps, and lower gates under their own pipeline name, so
  # a fast model never reaches this model's serving/ directory.
  fast: Optional['FastMode'] = None
  module_name: Optional[str] = None  # set for derived specs (fast mode) only
  # TFMA reads the label through Transform (a string label becomes its vocabulary id), or
  # straight from the examples when it is already the class id (MNIST).
  label_via_transform: bool = True
  # 'tfma': TFX's Evaluator. 'quality': components/quality_evaluator, for metrics TFMA cannot
  # compute (the gate's key is what the module's evaluate_fn reports).
  evaluator: str = 'tfma'
  # The served model takes a word (the client sends a string), not numbers or an image.
  word_input: bool = False
  # A registered classifier the pipeline also trains, on the same examples and Transform
  # graph (its own Trainer, `ReferenceTrainer`), for `reference_steps` steps; the
  # QualityEvaluator hands it to evaluate_fn as the judge (the GANs' digit reader).
  reference_model: Optional[str] = None
  reference_steps: int = 0
  # custom_config entries added to the judge's own ((key, value) pairs; the keys:
  # models/common/contract.py), e.g. the GANs' judge's weights.
  reference_config: Tuple[Tuple[str, Any], ...] = ()
  # The served model generates images from noise (and a digit): the client sends those.
  generative: bool = False
  # --tune: TFX's Tuner searches the module's space before the Trainer (None: not tunable;
  # set exactly for the models whose module defines tuner_fn).
  tune: Optional['TuneMode'] = None

  @property
  def model_folder(self) -> str:
    """models/<folder>: the model's own name, also for its fast-mode pipeline."""
    return self.module_name or self.name

  @property
  def module_dir(self) -> str:
    return os.path.join(MODELS_DIR, self.model_folder)

  @property
  def module_file(self) -> str:
    """The Transform + Trainer module file (preprocessing_fn, run_fn).

    Named after the model: TFX imports module files by their bare name, so two models must not
    share one.
    """
    return os.path.join(self.module_dir, f'{self.model_folder}_module.py')


@dataclasses.dataclass(frozen=True)
class TuneMode:
  """The Tuner's budget (`--tune`, models/common/tuning.py): `trials` trials of the module's
  search space, each training `train_steps` steps on the first `train_examples` examples of the
  training split and scored on the `validation_examples` after them. The eval split, which the
  Evaluator gates on, never chooses the hyperparameters. None for both slices: the whole
  training split for both (the CSV models, which the seed trains and evaluates on the same rows).
  """
  trials: int
  train_steps: int
  train_examples: Optional[int] = None
  validation_examples: Optional[int] = None

  def as_config(self) -> dict:
    """What tuner_fn reads, custom_config['tune']."""
    return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class FastMode:
  train_split: str
  eval_split: str
  train_steps: int
  gates: Tuple[Gate, ...]
  reference_steps: int = 0
  tune: Optional[TuneMode] = None  # the Tuner's budget on the fast slice


def fast_spec(spec: ModelSpec) -> ModelSpec:
  """The spec of `spec`'s fast mode: pipeline `<name>_fast`, sliced data, lowered gates."""
  if spec.fast is None:
    raise UnknownModelError(f'MODEL {spec.name!r} has no fast mode (it is already small)')
  fast = spec.fast
  return dataclasses.replace(
      spec, name=f'{spec.name}_fast', module_name=spec.model_folder,
      source=dataclasses.replace(spec.source, train_split=fast.train_split,
                                 eval_split=fast.eval_split),
      train_steps=fast.train_steps, gates=fast.gates, fast=None,
      reference_steps=fast.reference_steps or spec.reference_steps,
      tune=fast.tune if spec.tune else None)


