"""The one pipeline factory: any ModelSpec -> the same TFX DAG.

  CsvExampleGen | TfdsExampleGen -> StatisticsGen -> ImportSchemaGen (curated schema)
  -> StrictExampleValidator (anomalies stop the run) -> Transform -> Trainer
  (+ ReferenceTrainer: the GANs' judge, a classifier trained on the same data)
  -> Evaluator (+ latest blessed model as baseline)
  -> InfraValidator (every signature loaded and queried as TF Serving does) -> AtomicPusher

The Evaluator is TFX's (TFMA) or, for metrics TFMA cannot compute (a generated word),
QualityEvaluator; the Pusher needs its blessing and the InfraValidator's.

The runner decides where it runs (LocalDagRunner here; Beam args pass straight through).
"""
from __future__ import annotations

import dataclasses
import glob
import hashlib
import os
from typing import Dict, List, Optional, Sequence

import tensorflow_model_analysis as tfma
# The classes of TFX's public API (tfx.v1) imported from their modules: `from tfx import v1`
# also imports every extension, Google Cloud AI Platform's among them, which cost about 4 s of
# every run's start (a fully cached re-run's included) and is used by nothing here.
from tfx.components import CsvExampleGen, Evaluator, StatisticsGen, Trainer, Transform
from tfx.components.schema_gen.import_schema_gen.component import ImportSchemaGen
from tfx.dsl.components.common.resolver import Resolver
from tfx.dsl.input_resolution.strategies.latest_blessed_model_strategy import (
    LatestBlessedModelStrategy)
from tfx.orchestration.pipeline import Pipeline
from tfx.proto import example_gen_pb2, pusher_pb2, trainer_pb2
from tfx.types import standard_artifacts
from tfx.types.channel import Channel

from components.atomic_pusher import AtomicPusher
from components.infra_validator.component import ServingInfraValidator
from components.quality_evaluator import QualityEvaluator, QualityGate
from components.strict_example_validator import StrictExampleValidator
from models.common.features import TRANSFORM_SIGNATURE, transformed_name
from pipelines import baseline, registry
from pipelines.paths import MODELS_DIR, PROJECT_ROOT, Paths

SHARED_CODE_DIR = os.path.join(MODELS_DIR, 'common')
# TF Serving's loader, which the Trainers' pictures and the evaluate_fns call the export through.
LOADER_FILES = tuple(os.path.join(PROJECT_ROOT, 'components', 'infra_validator', name)
                     for name in ('session_loader.py', 'capi.py'))


def _python_files_hash(paths: Sequence[str]) -> str:
  """Hash of every .py file (name and content) in `paths`: folders, or single files."""
  h = hashlib.sha256()
  for path in paths:
    files = sorted(glob.glob(os.path.join(path, '*.py'))) if os.path.isdir(path) else [path]
    for name in files:
      h.update(os.path.basename(name).encode())
      with open(name, 'rb') as f:
        h.update(hashlib.sha256(f.read()).digest())
  return h.hexdigest()[:16]


def shared_code_fingerprint() -> str:
  """Hash of the code every model module uses beyond its own folder (models/common and the
  serving loader).

  TFX hashes the module file's own folder into its cache key, not the helpers it imports; this
  fingerprint goes into Transform's and Trainer's custom_config so a change there re-runs them.
  """
  return _python_files_hash([SHARED_CODE_DIR, *LOADER_FILES])


def module_fingerprint(spec: registry.ModelSpec) -> str:
  """Hash of the model's folder and the shared code: the QualityEvaluator's cache key (it
  calls the module's evaluate_fn, and TFX would key it on the module file's path only)."""
  return _python_files_hash([SHARED_CODE_DIR, *LOADER_FILES, spec.module_dir])


def schema_snapshot(spec: registry.ModelSpec, paths: Paths) -> str:
  """A copy of the curated schema at a path named by its content.

  ImportSchemaGen's cache key is the schema file's *path*: an edited schema at the same path
  would be served from cache and the run validated against the old contract. A path that
  changes with the content makes an edit re-import (and re-validate) the schema.
  """
  with open(spec.source.schema_path, 'rb') as f:
    content = f.read()
  directory = os.path.join(paths.schema_snapshot_dir(spec.name),
                           hashlib.sha256(content).hexdigest()[:16])
  path = os.path.join(directory, 'schema.pbtxt')
  if not os.path.exists(path):
    os.makedirs(directory, exist_ok=True)
    partial = f'{path}.{os.getpid()}.partial'
    with open(partial, 'wb') as f:
      f.write(content)
    os.replace(partial, path)
  return path


def module_config(spec: registry.ModelSpec) -> Dict[str, object]:
  """custom_config handed to preprocessing_fn, run_fn and evaluate_fn: the spec's feature
  contract and batch size (the keys: models/common/contract.py)."""
  return {
      'model': spec.name,
      'task': spec.task,
      'features': list(spec.features),
      'label': spec.label,
      'batch_size': spec.batch_size,
      'shared_code': shared_code_fingerprint(),
  }


def eval_config(spec: registry.ModelSpec) -> tfma.EvalConfig:
  """Gates from the spec: an absolute bound and 'no worse than the last blessed model'."""
  metrics = [tfma.MetricConfig(class_name='ExampleCount')]
  for gate in spec.gates:
    direction = (tfma.MetricDirection.HIGHER_IS_BETTER if gate.higher_is_better
                 else tfma.MetricDirection.LOWER_IS_BETTER)
    bound = {'lower_bound' if gate.higher_is_better else 'upper_bound': {'value': gate.bound}}
    # The change threshold compares candidate - baseline; allow a tiny slack so an identical
    # retrain is not refused for float noise.
    slack = max(gate.max_regression, 1e-9)
    metrics.append(tfma.MetricConfig(
        class_name=gate.metric,
        threshold=tfma.MetricThreshold(
            value_threshold=tfma.GenericValueThreshold(**bound),
            change_threshold=tfma.GenericChangeThreshold(
                direction=direction,
                absolute={'value': -slack if gate.higher_is_better else slack}))))
  prediction_key = 'probabilities' if spec.task == 'classification' else spec.label
  if spec.label_via_transform:
    model_spec = tfma.ModelSpec(
        signature_name='serving_default', label_key=transformed_name(spec.label),
        prediction_key=prediction_key, preprocessing_function_names=[TRANSFORM_SIGNATURE])
  else:
    model_spec = tfma.ModelSpec(signature_name='serving_default', label_key=spec.label,
                                prediction_key=prediction_key)
  return tfma.EvalConfig(
      model_specs=[model_spec],
      slicing_specs=[tfma.SlicingSpec()],
      metrics_specs=[tfma.MetricsSpec(metrics=metrics)])


def _example_gen(spec: registry.ModelSpec, data_path: Optional[str], paths: Paths,
                 tfds_manual_dir: Optional[str]):
  if isinstance(spec.source, registry.TfdsSource):
    from components.tfds_example_gen import TfdsExampleGen  # pylint: disable=g-import-not-at-top
    return TfdsExampleGen(
        dataset=spec.source.dataset,
        splits={spec.source.train_split: 'train', spec.source.eval_split: 'eval'},
        data_dir=paths.tfds_data_dir(), manual_dir=tfds_manual_dir)
  data_path = os.path.abspath(spec.source.resolve(data_path))
  csv_dir, csv_name = os.path.split(data_path)
  if spec.source.same_rows_for_eval:
    splits = [example_gen_pb2.Input.Split(name='train', pattern=csv_name),
              example_gen_pb2.Input.Split(name='eval', pattern=csv_name)]
    return CsvExampleGen(
        input_base=csv_dir, input_config=example_gen_pb2.Input(splits=splits))
  return CsvExampleGen(
      input_base=csv_dir,
      input_config=example_gen_pb2.Input(splits=[
          example_gen_pb2.Input.Split(name='single_split', pattern=csv_name)]))


def create_pipeline(spec: registry.ModelSpec,
                    paths: Paths,
                    beam_args: Optional[Sequence[str]] = None,
                    data_path: Optional[str] = None,
                    train_steps: Optional[int] = None,
                    gates: Optional[Sequence[registry.Gate]] = None,
                    tfds_manual_dir: Optional[str] = None,
                    container_root: Optional[str] = None) -> Pipeline:
  """Builds the TFX pipeline for `spec`.

  data_path overrides a CSV model's file; train_steps the step count; gates the thresholds
  (tests use an impossible one to check that an unblessed model is never pushed);
  tfds_manual_dir lets TFDS prepare a dataset from its original files without downloading.
  container_root: the same pipeline for a container image holding this project there
  (Kubeflow / Vertex, pipelines/kubeflow.py; see _in_container); None: this machine.
  """
  if gates is not None:
    spec = dataclasses.replace(spec, gates=tuple(gates))
  config = module_config(spec)

  example_gen = _example_gen(spec, data_path, paths, tfds_manual_dir)
  statistics_gen = StatisticsGen(examples=example_gen.outputs['examples'])
  schema_gen = ImportSchemaGen(schema_file=schema_snapshot(spec, paths))
  example_validator = StrictExampleValidator(
      statistics=statistics_gen.outputs['statistics'],
      schema=schema_gen.outputs['schema']).with_id('ExampleValidator')
  transform = Transform(
      examples=example_gen.outputs['examples'],
      schema=schema_gen.outputs['schema'],
      module_file=spec.module_file,
      materialize=spec.materialize,
      # Transform's own pre- and post-transform statistics are two more StatisticsGen passes
      # over the data, read by nothing here (the examples were described and validated
      # above). Measured on MNIST: Transform 29 s with them, 4.4 s without.
      disable_statistics=True,
      custom_config=config)
  # Nothing reads the anomalies artifact, so without this edge Transform and even Trainer
  # could run before (or beside) the validator; data must pass it before anything is fit.
  transform.add_upstream_node(example_validator)
  trainer = Trainer(
      module_file=spec.module_file,
      examples=(transform.outputs['transformed_examples'] if spec.materialize
                else example_gen.outputs['examples']),
      transform_graph=transform.outputs['transform_graph'],
      schema=schema_gen.outputs['schema'],
      train_args=trainer_pb2.TrainArgs(num_steps=train_steps or spec.train_steps),
      eval_args=trainer_pb2.EvalArgs(num_steps=spec.eval_steps),
      custom_config=config)
  reference_trainer = None
  if spec.reference_model:
    # The judge the QualityEvaluator hands to evaluate_fn: a registered classifier trained here
    # on the same examples through the same Transform graph (its module's preprocessing is the
    # same; images.preprocessing_fn), cached like any Trainer and part of the run's lineage.
    reference = registry.get_spec(spec.reference_model)
    reference_trainer = Trainer(
        module_file=reference.module_file,
        examples=example_gen.outputs['examples'],
        transform_graph=transform.outputs['transform_graph'],
        schema=schema_gen.outputs['schema'],
        train_args=trainer_pb2.TrainArgs(num_steps=spec.reference_steps),
        eval_args=trainer_pb2.EvalArgs(num_steps=reference.eval_steps),
        custom_config=module_config(reference)).with_id('ReferenceTrainer')
  baseline_resolver = Resolver(
      strategy_class=baseline.LatestBlessedOtherModelStrategy,
      candidate=trainer.outputs['model'],
      model=Channel(type=standard_artifacts.Model),
      model_blessing=Channel(type=standard_artifacts.ModelBlessing),
  ).with_id('baseline_resolver')
  if spec.evaluator == 'quality':
    evaluator = QualityEvaluator(
        examples=example_gen.outputs['examples'],
        model=trainer.outputs['model'],
        baseline_model=baseline_resolver.outputs['model'],
        reference_model=reference_trainer.outputs['model'] if reference_trainer else None,
        module_file=spec.module_file,
        module_fingerprint=module_fingerprint(spec),
        gates=[QualityGate(metric=g.key, bound=g.bound, higher_is_better=g.higher_is_better,
                           max_regression=g.max_regression) for g in spec.gates],
        custom_config=config).with_id('Evaluator')
  else:
    evaluator = Evaluator(
        examples=example_gen.outputs['examples'],
        model=trainer.outputs['model'],
        baseline_model=baseline_resolver.outputs['model'],
        example_splits=['eval'],
        eval_config=eval_config(spec))
  # TF Serving's loader, on the eval examples: a model that loads in Python but not in a
  # model server (a Keras export whose variables the restore op cannot find) stops here.
  infra_validator = ServingInfraValidator(
      model=trainer.outputs['model'], examples=example_gen.outputs['examples'],
      model_name=spec.name).with_id('InfraValidator')
  pusher = AtomicPusher(
      model=trainer.outputs['model'],
      model_blessing=evaluator.outputs['blessing'],
      infra_blessing=infra_validator.outputs['blessing'],
      push_destination=pusher_pb2.PushDestination(
          filesystem=pusher_pb2.PushDestination.Filesystem(
              base_directory=paths.serving_dir(spec.name)))).with_id('Pusher')

  components: List = [example_gen, statistics_gen, schema_gen, example_validator, transform,
                      trainer] + ([reference_trainer] if reference_trainer else []) + [
                          baseline_resolver, evaluator, infra_validator, pusher]
  if container_root is not None:  # Kubeflow / Vertex: see _in_container
    components = _in_container(components, spec, container_root)
  return Pipeline(
      pipeline_name=spec.name,
      pipeline_root=paths.pipeline_root(spec.name),
      components=components,
      enable_cache=True,
      metadata_connection_config=_metadata_connection(paths, spec, container_root),
      beam_pipeline_args=list(beam_args or []))


def _metadata_connection(paths: Paths, spec: registry.ModelSpec, container_root: Optional[str]):
  """This machine's ML Metadata (pipelines.mlmd.metadata: SQLite, or MySQL when configured); none in
  a container: Kubeflow / Vertex record the run in the cluster's own ML Metadata."""
  if container_root is not None:
    return None
  from pipelines.mlmd import metadata  # pylint: disable=g-import-not-at-top
  return metadata.pipeline_connection_config(paths, spec.name)


def _in_container(components: List, spec: registry.ModelSpec, container_root: str) -> List:
  """The same components, for a container image holding this project at `container_root`
  (Kubeflow Pipelines v2 / Vertex AI: pipelines/kubeflow.py):

  - every parameter naming a file of this checkout (module files, the CSV folder) names it
    under container_root instead; the schema is the curated file there (the content-named
    copy under the work directory does not exist in the image). The module files are used
    in place, not packaged as wheels: build with UNSUPPORTED_DO_NOT_PACKAGE_USER_MODULES=1
    (TFX's switch), or compiling would look for container paths on this machine;
  - the baseline resolver is TFX's LatestBlessedModelStrategy: Kubeflow's compiler turns only
    that strategy and LatestArtifactStrategy into resolver tasks (tfx/orchestration/kubeflow/
    v2/step_builder.py), not a custom ResolverStrategy such as baseline.py's. Same id and
    output keys, so the Evaluator's input reads from it unchanged.
  """
  from tfx.components.util import udf_utils  # pylint: disable=g-import-not-at-top
  if udf_utils.should_package_user_modules():
    raise ValueError('container_root needs UNSUPPORTED_DO_NOT_PACKAGE_USER_MODULES=1 set before '
                     'create_pipeline: the module files are in the image')
  local_root = PROJECT_ROOT + os.sep
  schema_file = os.path.relpath(spec.source.schema_path, PROJECT_ROOT)
  result = []
  for component in components:
    if component.id == 'baseline_resolver':
      component = Resolver(
          strategy_class=LatestBlessedModelStrategy,
          model=Channel(type=standard_artifacts.Model),
          model_blessing=Channel(type=standard_artifacts.ModelBlessing),
      ).with_id('baseline_resolver')
    for key, value in component.exec_properties.items():
      if isinstance(value, str) and (value + os.sep).startswith(local_root):
        relative = os.path.relpath(value, PROJECT_ROOT)
        component.exec_properties[key] = '/'.join(
            [container_root.rstrip('/')] + ([] if relative == '.' else relative.split(os.sep)))
    if 'schema_file' in component.exec_properties:
      component.exec_properties['schema_file'] = '/'.join(
          [container_root.rstrip('/')] + schema_file.split(os.sep))
    result.append(component)
  return result
