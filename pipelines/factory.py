"""The one pipeline factory: any ModelSpec -> the same TFX DAG.

  CsvExampleGen | TfdsExampleGen -> StatisticsGen (in process on the local runner)
  (+ ImportSchemaGen: the curated schema)
  -> StrictExampleValidator (anomalies stop the run) -> DriftValidator (so does drift from the
  served model's training data) -> Transform -> (--tune: Tuner ->) Trainer
  (+ ReferenceTrainer: the GANs' judge)
  -> Evaluator (+ latest blessed model as baseline)
  -> InfraValidator (every signature loaded and queried as TF Serving does) -> AtomicPusher

The Evaluator is TFX's (TFMA) or, for metrics TFMA cannot compute (a generated word),
QualityEvaluator; the Pusher needs its blessing and the InfraValidator's. The runner decides
where it runs (LocalDagRunner here; Beam args pass straight through).
"""
from __future__ import annotations

import contextlib
import dataclasses
import os
from typing import Dict, Iterator, List, Optional, Sequence

import tensorflow_data_validation as tfdv
# tfx.v1's classes imported from their modules: `from tfx import v1` also imports every
# extension (Google Cloud AI Platform's: about 4 s of every run's start, used by nothing here).
from tfx.components import CsvExampleGen, Evaluator, Transform
from tfx.components.schema_gen.import_schema_gen.component import ImportSchemaGen
from tfx.orchestration.pipeline import Pipeline
from tfx.proto import example_gen_pb2, pusher_pb2, trainer_pb2

from components.atomic_pusher import AtomicPusher
from components.infra_validator.component import ServingInfraValidator
from components.local_statistics_gen.component import LocalStatisticsGen
from components.quality_evaluator import QualityEvaluator, QualityGate
from components.recorded_tuner.component import RecordedTuner
from components.resumable_trainer import ResumableTrainer
from components.strict_example_validator import StrictExampleValidator
from pipelines import registry
from pipelines.cache_keys import module_fingerprint
from pipelines.gating import eval_config
from pipelines.mlmd import metadata
from pipelines.paths import Paths
from pipelines.placement import Placement


@contextlib.contextmanager
def module_files_in_place() -> Iterator[None]:
  """TFX's switch, read by Transform, Trainer and Tuner when they are built: their module file
  is imported where it is (this checkout, or the image), as the QualityEvaluator imports its
  own, instead of being packaged into a wheel under the pipeline root at compile time and
  pip-installed into a temporary folder at every execution (three times in Transform): about
  6 s of a 40 s classifier run on 2 cores (docs/benchmarks.md). The module's content stays in
  the cache keys through `code` (module_config). Set while the components are built, not for
  the rest of the process."""
  name = 'UNSUPPORTED_DO_NOT_PACKAGE_USER_MODULES'
  saved = os.environ.get(name)
  os.environ[name] = '1'
  try:
    yield
  finally:
    if saved is None:
      del os.environ[name]
    else:
      os.environ[name] = saved


def module_config(spec: registry.ModelSpec) -> Dict[str, object]:
  """custom_config handed to preprocessing_fn, run_fn and evaluate_fn: the spec's feature
  contract and batch size (the keys: models/common/contract.py)."""
  return {
      'model': spec.name,
      'task': spec.task,
      'features': list(spec.features),
      'label': spec.label,
      'batch_size': spec.batch_size,
      'code': module_fingerprint(spec),
  }


def _example_gen(spec: registry.ModelSpec, data_path: Optional[str], paths: Paths,
                 tfds_manual_dir: Optional[str], placement: Placement):
  if isinstance(spec.source, registry.TfdsSource):
    from components.tfds_example_gen import TfdsExampleGen  # pylint: disable=g-import-not-at-top
    return TfdsExampleGen(
        dataset=spec.source.dataset,
        splits={spec.source.train_split: 'train', spec.source.eval_split: 'eval'},
        data_dir=paths.tfds_data_dir(), manual_dir=tfds_manual_dir)
  data_path = os.path.abspath(spec.source.resolve(data_path))
  csv_dir, csv_name = os.path.split(data_path)
  csv_dir = placement.file(csv_dir)
  if spec.source.same_rows_for_eval:
    splits = [example_gen_pb2.Input.Split(name='train', pattern=csv_name),
              example_gen_pb2.Input.Split(name='eval', pattern=csv_name)]
    return CsvExampleGen(
        input_base=csv_dir, input_config=example_gen_pb2.Input(splits=splits))
  return CsvExampleGen(
      input_base=csv_dir,
      input_config=example_gen_pb2.Input(splits=[
          example_gen_pb2.Input.Split(name='single_split', pattern=csv_name)]))


def _tuner(spec: registry.ModelSpec, examples, transform_graph, schema, placement: Placement,
           config: Dict[str, object]) -> RecordedTuner:
  """TFX's Tuner (--tune): the module's tuner_fn searching its space within the spec's budget
  (registry.TuneMode) on slices of the training split; its best values feed the Trainer."""
  tune = spec.tune
  if tune is None:
    raise ValueError(f'{spec.name} cannot be tuned: its module defines no tuner_fn (tunable: '
                     f'{", ".join(registry.tunable())})')
  validation_steps = 1 if tune.validation_examples is None else \
      -(-tune.validation_examples // spec.batch_size)
  return RecordedTuner(
      module_file=placement.file(spec.module_file), examples=examples,
      transform_graph=transform_graph, schema=schema,
      train_args=trainer_pb2.TrainArgs(num_steps=tune.train_steps),
      eval_args=trainer_pb2.EvalArgs(num_steps=validation_steps),
      custom_config=dict(config, tune=tune.as_config())).with_id('Tuner')


def create_pipeline(spec: registry.ModelSpec,
                    paths: Paths,
                    beam_args: Optional[Sequence[str]] = None,
                    data_path: Optional[str] = None,
                    train_steps: Optional[int] = None,
                    gates: Optional[Sequence[registry.Gate]] = None,
                    tfds_manual_dir: Optional[str] = None,
                    container_root: Optional[str] = None,
                    accept_drift: bool = False, tune: bool = False) -> Pipeline:
  """Builds the TFX pipeline for `spec`.

  data_path overrides a CSV model's file; train_steps the step count; gates the thresholds;
  tfds_manual_dir lets TFDS prepare a dataset from its original files without downloading;
  accept_drift trains on data that drifted from the served model's (--accept-drift); tune
  adds the Tuner, whose best values the Trainer trains with (--tune; without it the DAG is
  exactly the untuned one, so its cache still holds).
  container_root: the same pipeline for a container image holding this project there
  (Kubeflow / Vertex, pipelines/kubeflow.py: see Placement); None: this machine.
  """
  with module_files_in_place():
    return _create_pipeline(spec, paths, beam_args, data_path, train_steps, gates,
                            tfds_manual_dir, Placement(container_root), accept_drift, tune)


def _create_pipeline(spec: registry.ModelSpec, paths: Paths, beam_args, data_path, train_steps,
                     gates, tfds_manual_dir, placement: Placement, accept_drift: bool,
                     tune: bool) -> Pipeline:
  if gates is not None:
    spec = dataclasses.replace(spec, gates=tuple(gates))
  config = module_config(spec)

  example_gen = _example_gen(spec, data_path, paths, tfds_manual_dir, placement)
  schema_gen = ImportSchemaGen(schema_file=placement.schema(spec, paths))
  # With the schema, a categorical integer (MNIST's label) gets counts per value. Top values
  # and unique counts from TFDV's sketches on every runner, so that the statistics computed in
  # process (the local runner) and on Beam are the same (components/local_statistics_gen).
  statistics_gen = LocalStatisticsGen(
      examples=example_gen.outputs['examples'], schema=schema_gen.outputs['schema'],
      stats_options=tfdv.StatsOptions(use_sketch_based_topk_uniques=True)).with_id(
          'StatisticsGen')
  example_validator = StrictExampleValidator(
      statistics=statistics_gen.outputs['statistics'],
      schema=schema_gen.outputs['schema']).with_id('ExampleValidator')
  transform = Transform(
      examples=example_gen.outputs['examples'],
      schema=schema_gen.outputs['schema'],
      module_file=placement.file(spec.module_file),
      materialize=spec.materialize,
      # Its own pre/post statistics passes are read by nothing (docs/benchmarks.md).
      disable_statistics=True,
      custom_config=config)
  drift = placement.drift_check(spec, statistics_gen.outputs['statistics'], accept_drift,
                                after=example_validator)
  # Nothing reads the validators' anomalies: without these edges Transform (even Trainer) could
  # run before or beside them; data must pass them before anything is fit.
  for validator in [example_validator] + drift[1:]:
    transform.add_upstream_node(validator)
  examples = (transform.outputs['transformed_examples'] if spec.materialize
              else example_gen.outputs['examples'])
  tuner = _tuner(spec, examples, transform.outputs['transform_graph'],
                 schema_gen.outputs['schema'], placement, config) if tune else None
  trainer = ResumableTrainer(
      module_file=placement.file(spec.module_file), examples=examples,
      transform_graph=transform.outputs['transform_graph'],
      schema=schema_gen.outputs['schema'],
      hyperparameters=tuner.outputs['best_hyperparameters'] if tuner else None,
      train_args=trainer_pb2.TrainArgs(num_steps=train_steps or spec.train_steps),
      eval_args=trainer_pb2.EvalArgs(num_steps=spec.eval_steps),
      custom_config=config).with_id('Trainer')
  reference_trainer = None
  if spec.reference_model:
    # The QualityEvaluator's judge: a registered classifier trained here on the same examples
    # and Transform graph (images.preprocessing_fn), cached and in the run's lineage.
    reference = registry.get_spec(spec.reference_model)
    reference_trainer = ResumableTrainer(
        module_file=placement.file(reference.module_file),
        examples=example_gen.outputs['examples'],
        transform_graph=transform.outputs['transform_graph'],
        schema=schema_gen.outputs['schema'],
        train_args=trainer_pb2.TrainArgs(num_steps=spec.reference_steps),
        eval_args=trainer_pb2.EvalArgs(num_steps=reference.eval_steps),
        custom_config=dict(module_config(reference), **dict(spec.reference_config)),
    ).with_id('ReferenceTrainer')
  baseline_resolver = placement.baseline_resolver(trainer.outputs['model'])
  if spec.evaluator == 'quality':
    evaluator = QualityEvaluator(
        examples=example_gen.outputs['examples'],
        model=trainer.outputs['model'],
        baseline_model=baseline_resolver.outputs['model'],
        reference_model=reference_trainer.outputs['model'] if reference_trainer else None,
        module_file=placement.file(spec.module_file),
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

  components: List = [example_gen, schema_gen, statistics_gen, example_validator] + drift + [
      transform] + ([tuner] if tuner else []) + [trainer] + (
          [reference_trainer] if reference_trainer else []) + [
          baseline_resolver, evaluator, infra_validator, pusher]
  return Pipeline(
      pipeline_name=spec.name,
      pipeline_root=paths.pipeline_root(spec.name),
      components=components,
      enable_cache=True,
      # Kubeflow / Vertex record the run in the cluster's own ML Metadata.
      metadata_connection_config=(None if placement.root else
                                  metadata.pipeline_connection_config(paths, spec.name)),
      beam_pipeline_args=list(beam_args or []))
