"""Where the pipeline's components find this project's files: this checkout, or a container
image holding the project (Kubeflow Pipelines v2 / Vertex AI), and the parts of the DAG that
differ between the two (the baseline resolver, the drift check)."""
from __future__ import annotations

import dataclasses
import os
from typing import List, Optional

from tfx.dsl.components.common.resolver import Resolver
from tfx.dsl.input_resolution.strategies.latest_blessed_model_strategy import (
    LatestBlessedModelStrategy)
from tfx.types import standard_artifacts
from tfx.types.channel import Channel

from components.drift_validator import DriftValidator, load_config
from pipelines import baseline, registry
from pipelines.cache_keys import schema_snapshot
from pipelines.paths import PROJECT_ROOT, Paths


@dataclasses.dataclass(frozen=True)
class Placement:
  """Where the components find this project's files: this checkout (root None), or a container
  image holding the project at `root` (Kubeflow Pipelines v2 / Vertex AI: pipelines/kubeflow.py),
  where the module files are used in place (TFX's UNSUPPORTED_DO_NOT_PACKAGE_USER_MODULES=1)
  and the curated schema is the file in the image, not this machine's content-named copy."""
  root: Optional[str] = None

  def file(self, path: str) -> str:
    """`path` as the components see it (paths outside the checkout are the user's own)."""
    if self.root is None or not (path + os.sep).startswith(PROJECT_ROOT + os.sep):
      return path
    relative = os.path.relpath(path, PROJECT_ROOT)
    return '/'.join([self.root.rstrip('/')] + ([] if relative == '.' else relative.split(os.sep)))

  def schema(self, spec: registry.ModelSpec, paths: Paths) -> str:
    return self.file(spec.source.schema_path) if self.root else schema_snapshot(spec, paths)

  def baseline_resolver(self, candidate) -> Resolver:
    """The latest blessed model other than the candidate (pipelines/baseline.py). Kubeflow's
    compiler turns only TFX's LatestBlessedModelStrategy (and LatestArtifactStrategy) into
    resolver tasks (tfx/orchestration/kubeflow/v2/step_builder.py), so the image's pipeline
    uses that one: same id and output keys."""
    blessed = dict(model=Channel(type=standard_artifacts.Model),
                   model_blessing=Channel(type=standard_artifacts.ModelBlessing))
    if self.root:
      return Resolver(strategy_class=LatestBlessedModelStrategy,
                      **blessed).with_id('baseline_resolver')
    return Resolver(strategy_class=baseline.LatestBlessedOtherModelStrategy,
                    candidate=candidate, **blessed).with_id('baseline_resolver')

  def drift_check(self, spec: registry.ModelSpec, statistics, accept_drift: bool,
                  after) -> List:
    """[resolver, DriftValidator]: the data's statistics against the served model's training
    data's (pipelines/baseline.py). None in the image: Kubeflow compiles only TFX's two
    strategies, neither of which follows a push back to its statistics (docs/scale-out.md)."""
    if self.root:
      return []
    trained_on = Resolver(strategy_class=baseline.ServedModelStatisticsStrategy,
                          config={'pipeline': spec.name}, candidate=statistics,
                          statistics=Channel(type=standard_artifacts.ExampleStatistics)
                          ).with_id('drift_baseline_resolver')
    validator = DriftValidator(statistics=statistics,
                               baseline_statistics=trained_on.outputs['statistics'],
                               config=load_config(spec.source.drift_path),
                               accept_drift=accept_drift).with_id('DriftValidator')
    validator.add_upstream_node(after)  # data that breaks the schema is named as that first
    return [trained_on, validator]
