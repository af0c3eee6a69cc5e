"""Baselines: the Evaluator's (the latest blessed model other than the candidate) and the
DistributionValidator's (the statistics of the data the served model was trained on).

TFX's LatestBlessedModelStrategy returns the latest blessed model, which after a first run is
the very model a cached Trainer hands in again: the Evaluator then sees a new input (the model
as its own baseline), re-runs, blesses a fresh artifact, and the Pusher pushes the same model a
second time. Excluding the candidate keeps a re-run with nothing changed fully cached, and still
compares every new model with the last one that was blessed.
"""
from typing import Dict, List, Optional

from tfx import types
from tfx.dsl.components.common import resolver

from pipelines.mlmd import pushes

_BLESSED = 'blessed'
_CURRENT_MODEL_ID = 'current_model_id'


class LatestBlessedOtherModelStrategy(resolver.ResolverStrategy):
  """Inputs: `candidate` (the Trainer's model), `model` and `model_blessing` (all of them).

  Outputs the same keys; `model`/`model_blessing` hold the baseline, or nothing.
  """

  def resolve_artifacts(
      self, store, input_dict: Dict[str, List[types.Artifact]]
  ) -> Optional[Dict[str, List[types.Artifact]]]:
    del store  # everything needed is in input_dict
    candidate_ids = {a.id for a in input_dict['candidate']}
    blessings = {b.get_int_custom_property(_CURRENT_MODEL_ID): b
                 for b in input_dict['model_blessing'] if b.get_int_custom_property(_BLESSED) == 1}
    result = {'candidate': list(input_dict['candidate']), 'model': [], 'model_blessing': []}
    for model in sorted(input_dict['model'], key=lambda a: a.id, reverse=True):
      if model.id not in candidate_ids and model.id in blessings:
        result['model'] = [model]
        result['model_blessing'] = [blessings[model.id]]
        break
    return result


class ServedModelStatisticsStrategy(resolver.ResolverStrategy):
  """The DistributionValidator's baseline: the statistics of the data the served model (the
  highest version on disk, a rollback's included) was trained on, found by lineage in ML
  Metadata (pipelines/mlmd/pushes.py).

  Inputs: `candidate` (this run's statistics) and `statistics` (all of the pipeline's). Outputs
  the same keys; `statistics` holds the baseline, or nothing when no version is served or it
  was trained on these very statistics: nothing to compare, and a re-run with nothing
  changed keeps the validator cached.
  """

  def __init__(self, pipeline: str):
    self._pipeline = pipeline

  def resolve_artifacts(
      self, store, input_dict: Dict[str, List[types.Artifact]]
  ) -> Optional[Dict[str, List[types.Artifact]]]:
    result = {'candidate': list(input_dict['candidate']), 'statistics': []}
    served = pushes.served(store, self._pipeline)
    trained_on = (pushes.training_statistics(store, served.model_id)
                  if served is not None and served.model_id is not None else None)
    if trained_on is None or trained_on.id in {a.id for a in input_dict['candidate']}:
      return result
    result['statistics'] = [a for a in input_dict['statistics'] if a.id == trained_on.id]
    return result
