"""The same pipeline, compiled for Kubeflow Pipelines v2 / Vertex AI Pipelines.

`create_pipeline` builds the DAG exactly as for a local run; TFX's KubeflowV2DagRunner turns it
into a pipeline spec (JSON) whose every task runs in one container image (the repository's
Dockerfile: TFX 1.16 with this project at /tfzoo). What differs from a local run, and why:

- Files of this checkout (module files, the curated schema, the CSVs) are named by their path
  inside the image (create_pipeline's container_root); the module files are used there as they
  are, as in a local run (factory.module_files_in_place).
- Everything a run writes goes under the pipeline root given here (gs://bucket/tfzoo, or any
  filesystem TFX can reach from the pods): `pipelines/<model>/` (artifacts),
  `tensorflow_datasets/` (TFDS prepares MNIST there once), `serving/<model>/` (the Pusher).
- ML Metadata is the cluster's: Kubeflow / Vertex record every run themselves, so the spec has
  no metadata connection (TFZOO_MLMD_* do not apply).
- The baseline resolver is TFX's LatestBlessedModelStrategy (see factory._in_container).
"""
from __future__ import annotations

import dataclasses
import os
import shutil
import tempfile
from typing import Optional, Sequence

from pipelines import registry
from pipelines.paths import Paths

# Where the Dockerfile puts the project.
CONTAINER_ROOT = '/tfzoo'
DEFAULT_IMAGE = 'tfzoo:latest'
# Compiles, but runs nowhere until replaced: a bucket name cannot have capitals.
PLACEHOLDER_ROOT = 'gs://YOUR-BUCKET/tfzoo'


class KubeflowError(ValueError):
  """One line: why the pipeline could not be compiled."""


@dataclasses.dataclass(frozen=True)
class ClusterPaths(Paths):
  """Paths under a remote root (gs://...), as the pods see them. `scratch` is a local folder
  for what the factory writes while building (the schema's content-named copy, which is not
  used in the image)."""
  scratch: str = ''

  def tfds_data_dir(self) -> str:
    return os.path.join(self.home, 'tensorflow_datasets')  # never this machine's $TFDS_DATA_DIR

  def schema_snapshot_dir(self, model: str) -> str:
    return os.path.join(self.scratch, 'schemas', model)


def check_root(pipeline_root: str) -> str:
  """The pipeline root, if pods can use it: a URI (gs://, s3://, hdfs://) or an absolute path
  (a volume mounted in every pod)."""
  root = pipeline_root.rstrip('/')
  if not root or not ('://' in root or root.startswith('/')):
    raise KubeflowError(f'--pipeline-root {pipeline_root!r}: expected a URI such as '
                        'gs://bucket/tfzoo (or an absolute path mounted in every pod)')
  return root


def compile_pipeline(spec: registry.ModelSpec, output_path: str, image: str = DEFAULT_IMAGE,
                     pipeline_root: str = PLACEHOLDER_ROOT,
                     beam_args: Optional[Sequence[str]] = None) -> dict:
  """Writes `spec`'s pipeline as a Kubeflow Pipelines v2 / Vertex AI pipeline spec (JSON) to
  output_path and returns it."""
  root = check_root(pipeline_root)
  from tfx import v1 as tfx  # pylint: disable=g-import-not-at-top
  from pipelines import factory  # pylint: disable=g-import-not-at-top

  scratch = tempfile.mkdtemp(prefix='tfzoo-kubeflow-')
  try:
    pipeline = factory.create_pipeline(
        spec, ClusterPaths(home=root, scratch=scratch), beam_args=list(beam_args or []),
        container_root=CONTAINER_ROOT)
    # Kubeflow names pipelines [a-z0-9][a-z0-9-]*: mlp_bn, cnn_fast -> mlp-bn, cnn-fast (the
    # paths under the pipeline root keep the model's own name).
    pipeline.pipeline_info.pipeline_name = spec.name.replace('_', '-')
    runner = tfx.orchestration.experimental.KubeflowV2DagRunner(
        config=tfx.orchestration.experimental.KubeflowV2DagRunnerConfig(default_image=image),
        output_dir=os.path.dirname(os.path.abspath(output_path)),
        output_filename=os.path.basename(output_path))
    return runner.run(pipeline)
  finally:
    shutil.rmtree(scratch, ignore_errors=True)


def task_order(job: dict) -> list:
  """The spec's task names, each after the tasks it depends on (ties by name)."""
  tasks = job['pipelineSpec']['root']['dag']['tasks']
  done: list = []
  while len(done) < len(tasks):
    ready = sorted(name for name, task in tasks.items() if name not in done
                   and set(task.get('dependentTasks', [])) <= set(done))
    if not ready:
      raise KubeflowError('the pipeline spec has a dependency cycle')
    done.append(ready[0])
  return done
