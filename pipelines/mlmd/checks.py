"""What a run summary reports beside the gates, read from the artifacts' properties: the drift
check against the served model's training data, the serving check, a Trainer's resume and the
Tuner's search."""
from __future__ import annotations

import dataclasses
import json
from typing import Any, Callable, Dict, List, Optional

from components.drift_validator import keys as drift_keys
from components.infra_validator import keys as infra_keys
from components.recorded_tuner import keys as tuner_keys
from components.resumable_trainer import keys as trainer_keys
from ml_metadata.proto import metadata_store_pb2


@dataclasses.dataclass
class InfraCheck:
  """What the InfraValidator found: whether TF Serving's loader served every signature."""
  passed: bool
  validated_with: str
  signatures: List[str]
  requests: int
  error: str = ''

  def format(self) -> str:
    if not self.passed:
      return f'served by TF Serving: NO, {self.error} ({self.validated_with})'
    return (f'served by TF Serving: yes, {self.requests} requests to '
            f'{", ".join(self.signatures)} answered ({self.validated_with})')


@dataclasses.dataclass
class DriftCheck:
  """What the DriftValidator found against the served model's training statistics."""
  verdict: str  # components/drift_validator/keys.py: passed, accepted, no baseline
  details: str  # each feature's distance against its threshold
  why_not_compared: str = ''  # with no baseline: why there was none

  def format(self) -> str:
    if self.verdict == drift_keys.NO_BASELINE:
      return f'drift: not compared, {self.why_not_compared}'
    if self.verdict == drift_keys.ACCEPTED:
      return f'drift: ACCEPTED on purpose (--accept-drift): {self.details}'
    return f"drift: within the thresholds of the served model's training data: {self.details}"


def drift_check(anomalies: metadata_store_pb2.Artifact,
                why_not_compared: Callable[[], str]) -> Optional[DriftCheck]:
  """From the DriftValidator's anomalies artifact; `why_not_compared` is asked when it had no
  baseline (the resolver hands over none, and cannot say why)."""
  properties = anomalies.custom_properties
  if drift_keys.VERDICT not in properties:
    return None
  verdict = properties[drift_keys.VERDICT].string_value
  return DriftCheck(verdict=verdict, details=properties[drift_keys.DETAILS].string_value,
                    why_not_compared=why_not_compared() if verdict == drift_keys.NO_BASELINE
                    else '')


def infra_check(blessing: metadata_store_pb2.Artifact) -> InfraCheck:
  properties = blessing.custom_properties

  def text(key: str) -> str:
    return properties[key].string_value if key in properties else ''
  return InfraCheck(
      passed=bool(properties['blessed'].int_value) if 'blessed' in properties else False,
      validated_with=text(infra_keys.VALIDATED_WITH),
      signatures=[s for s in text(infra_keys.SIGNATURES).split(',') if s],
      requests=properties[infra_keys.REQUESTS].int_value if infra_keys.REQUESTS in properties
      else 0, error=text(infra_keys.ERROR))


@dataclasses.dataclass
class Resumed:
  """A Trainer that resumed a killed run's training (models/common/resume.py)."""
  after_epoch: int
  epochs: int
  steps_trained: int
  steps: int

  def format(self) -> str:
    return (f'training: resumed after epoch {self.after_epoch} of {self.epochs} from an '
            f'interrupted run\'s checkpoint; trained {self.steps_trained} of {self.steps} steps')


def resumed(model_run: metadata_store_pb2.Artifact) -> Optional[Resumed]:
  """From the Trainer's ModelRun artifact; None when it trained from the start."""
  properties = model_run.custom_properties
  after = properties[trainer_keys.RESUMED_FROM_EPOCH].int_value \
      if trainer_keys.RESUMED_FROM_EPOCH in properties else 0
  if not after:
    return None
  epochs = properties[trainer_keys.EPOCHS].int_value
  return Resumed(after_epoch=after, epochs=epochs,
                 steps_trained=properties[trainer_keys.STEPS_TRAINED].int_value,
                 steps=epochs * properties[trainer_keys.STEPS_PER_EPOCH].int_value)


def format_value(value: Any) -> str:
  """A hyperparameter's value, a float as short as it is exact (0.002, 0.0005)."""
  return f'{value:g}' if isinstance(value, float) else str(value)


def format_values(values: Dict[str, Any]) -> str:
  """Hyperparameter values as `name=value, ...`, by name."""
  return ', '.join(f'{name}={format_value(value)}' for name, value in sorted(values.items()))


@dataclasses.dataclass
class Tuned:
  """What the Tuner chose (components/recorded_tuner) and every trial it ran."""
  values: Dict[str, Any]
  objective: str
  direction: str  # 'max' or 'min'
  best_score: float
  best_trial: str
  seed_score: Optional[float]  # the first trial's, the seed's values
  slice: str  # what each trial trained and was scored on
  trials: List[Dict[str, Any]]  # {trial, values, score, status, seconds}, in the order run

  def format(self) -> str:
    seed = '' if self.seed_score is None else f"; the seed's values {self.seed_score:.4g}"
    return (f'tuned: {format_values(self.values)} (best of {len(self.trials)} trials by '
            f'{self.objective}: {self.best_score:.4g}{seed}); the Trainer trained with them')


def tuned(best: metadata_store_pb2.Artifact,
          results: Optional[metadata_store_pb2.Artifact]) -> Optional[Tuned]:
  """From the Tuner's best_hyperparameters and tuner_results artifacts; None if unrecorded."""
  properties = best.custom_properties
  if tuner_keys.VALUES not in properties:
    return None

  def text(key: str) -> str:
    return properties[key].string_value if key in properties else ''
  recorded = results.custom_properties if results is not None else {}
  trials = (json.loads(recorded[tuner_keys.TRIALS].string_value)
            if tuner_keys.TRIALS in recorded else [])
  return Tuned(values=json.loads(text(tuner_keys.VALUES)), objective=text(tuner_keys.OBJECTIVE),
               direction=text(tuner_keys.DIRECTION),
               best_score=float(text(tuner_keys.BEST_SCORE)),
               best_trial=text(tuner_keys.BEST_TRIAL),
               seed_score=float(text(tuner_keys.SEED_SCORE)) if text(tuner_keys.SEED_SCORE)
               else None,
               slice=text(tuner_keys.SLICE), trials=trials)
