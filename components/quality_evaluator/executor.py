"""QualityEvaluator's executor: evaluate_fn on candidate (and baseline), gates, blessing.

Every model evaluate_fn gets (candidate, baseline, reference) is loaded as TF Serving loads
it, a ServingSession (components/infra_validator/session_loader.py): the numbers gated on are
the served model's answers, and a model TF Serving could not run fails here.
"""
from __future__ import annotations

import contextlib
import dataclasses
import glob
import json
import os
from typing import Any, Dict, List, Optional

import tensorflow as tf
from absl import logging
from tfx.dsl.components.base import base_executor
from tfx.types import artifact_utils
from tfx.utils import import_utils, io_utils, path_utils

from components.infra_validator.session_loader import ServingSession
from components.quality_evaluator.keys import METRICS_FILE

MODULE_FILE_KEY = 'module_file'
MODULE_FINGERPRINT_KEY = 'module_fingerprint'
GATES_KEY = 'gates'
CUSTOM_CONFIG_KEY = 'custom_config'
EXAMPLE_SPLIT_KEY = 'example_split'


@dataclasses.dataclass(frozen=True)
class QualityGate:
  """`metric` must reach `bound` (>= when higher is better, else <=) and be no worse than the
  baseline's by more than `max_regression` (skipped when there is no baseline)."""
  metric: str
  bound: float
  higher_is_better: bool
  max_regression: float = 0.0

  def to_json(self) -> Dict[str, Any]:
    return dataclasses.asdict(self)

  def describe(self) -> str:
    return f'{">=" if self.higher_is_better else "<="} {self.bound:g}'


def check_gates(gates: List[QualityGate], metrics: Dict[str, float],
                baseline: Optional[Dict[str, float]]) -> List[Dict[str, Any]]:
  """One check per gate: value, threshold text, passed, and why not."""
  checks = []
  for gate in gates:
    value = metrics.get(gate.metric)
    threshold = gate.describe()
    if value is None:
      checks.append({'key': gate.metric, 'value': None, 'threshold': threshold,
                     'passed': False, 'reason': 'evaluate_fn did not report it'})
      continue
    sign = 1.0 if gate.higher_is_better else -1.0
    passed = sign * (value - gate.bound) >= 0
    reason = '' if passed else f'{value:.6g} misses the bound {threshold}'
    if baseline is not None and gate.metric in baseline:
      threshold += (f', no worse than the blessed baseline ({baseline[gate.metric]:.6g}) '
                    f'by more than {gate.max_regression:g}')
      if passed and sign * (value - baseline[gate.metric]) < -gate.max_regression - 1e-9:
        passed = False
        reason = f'worse than the blessed baseline {baseline[gate.metric]:.6g}'
    checks.append({'key': gate.metric, 'value': value, 'threshold': threshold,
                   'passed': passed, 'reason': reason})
  return checks


def read_examples(examples_artifact, split: str) -> List[bytes]:
  """The split's serialized tf.Examples, in file order (ExampleGen writes gzipped TFRecords)."""
  split_uri = artifact_utils.get_split_uri([examples_artifact], split)
  files = sorted(glob.glob(os.path.join(split_uri, '*')))
  if not files:
    raise ValueError(f'no examples in split {split!r} ({split_uri})')
  return [r.numpy() for r in tf.data.TFRecordDataset(files, compression_type='GZIP')]


class Executor(base_executor.BaseExecutor):
  """Runs evaluate_fn on the candidate (and the baseline), checks the gates, blesses."""

  def Do(self, input_dict: Dict[str, List[Any]], output_dict: Dict[str, List[Any]],
         exec_properties: Dict[str, Any]) -> None:
    self._log_startup(input_dict, output_dict, exec_properties)
    evaluate_fn = import_utils.import_func_from_source(exec_properties[MODULE_FILE_KEY],
                                                       'evaluate_fn')
    config = json.loads(exec_properties[CUSTOM_CONFIG_KEY])
    gates = [QualityGate(**g) for g in json.loads(exec_properties[GATES_KEY])]
    examples = read_examples(artifact_utils.get_single_instance(input_dict['examples']),
                             exec_properties[EXAMPLE_SPLIT_KEY])

    model = artifact_utils.get_single_instance(input_dict['model'])
    baseline_model = (input_dict.get('baseline_model') or [None])[0]
    reference_model = (input_dict.get('reference_model') or [None])[0]
    with contextlib.ExitStack() as sessions:

      def load(model_artifact) -> ServingSession:
        return sessions.enter_context(
            ServingSession(path_utils.serving_model_path(model_artifact.uri)))

      extra = {'reference': load(reference_model)} if reference_model is not None else {}

      def evaluate(model_artifact) -> Dict[str, Any]:
        result = evaluate_fn(load(model_artifact), examples, config, **extra)
        result['metrics'] = {k: float(v) for k, v in result['metrics'].items()}
        return result

      candidate = evaluate(model)
      baseline = evaluate(baseline_model) if baseline_model is not None else None
    checks = check_gates(gates, candidate['metrics'],
                         baseline['metrics'] if baseline else None)
    blessed = all(c['passed'] for c in checks)
    logging.info('QualityEvaluator: %s -> %s', checks, 'blessed' if blessed else 'not blessed')

    evaluation = artifact_utils.get_single_instance(output_dict['evaluation'])
    io_utils.write_string_file(os.path.join(evaluation.uri, METRICS_FILE), json.dumps({
        'examples': len(examples),
        'metrics': candidate['metrics'],
        'gates': checks,
        'samples': candidate.get('samples', {}),
        'baseline_metrics': baseline['metrics'] if baseline else None,
        'reference_model': reference_model.uri if reference_model is not None else None,
    }, indent=1, ensure_ascii=False))
    if reference_model is not None:
      evaluation.set_string_custom_property('reference_model', reference_model.uri)
    for name, value in candidate['metrics'].items():
      evaluation.set_float_custom_property(f'metric:{name}', value)
    for check in checks:
      evaluation.set_string_custom_property(
          f'gate:{check["key"]}', f'{check["threshold"]}: '
          + ('passed' if check['passed'] else f'FAILED, {check["reason"]}'))

    blessing = artifact_utils.get_single_instance(output_dict['blessing'])
    io_utils.write_string_file(
        os.path.join(blessing.uri, 'BLESSED' if blessed else 'NOT_BLESSED'), '')
    blessing.set_int_custom_property('blessed', int(blessed))
    blessing.set_string_custom_property('current_model', model.uri)
    blessing.set_int_custom_property('current_model_id', model.id)
    if baseline_model is not None:
      blessing.set_string_custom_property('baseline_model', baseline_model.uri)
      blessing.set_int_custom_property('baseline_model_id', baseline_model.id)
