"""The scoring pipeline `<pipeline>_score`: TFX's Importer brings in the latest pushed Model
artifact itself, an ExampleGen reads the user's input (CsvExampleGen, or ImageExampleGen for a
folder of digits), and BulkInferrer answers serving_default for every example.

It records into the model pipeline's own ML Metadata store, and the Importer (reimport=False)
reuses the Trainer's artifact found by its URI: the lineage runs from the training data to
every prediction.
"""
from __future__ import annotations

import os
from typing import List

from tfx.components.example_gen.csv_example_gen.component import CsvExampleGen
from tfx.dsl.components.common.importer import Importer
from tfx.orchestration.pipeline import Pipeline
from tfx.proto import bulk_inferrer_pb2, example_gen_pb2
from tfx.types import standard_artifacts

from components.bulk_inferrer import StringOutputBulkInferrer
from components.image_example_gen.component import ImageExampleGen
from pipelines import registry
from pipelines.mlmd import metadata, summary
from pipelines.paths import Paths
from pipelines.scoring import data

SPLIT = 'score'


def name_of(pipeline: str) -> str:
  return f'{pipeline}_score'


def create_pipeline(spec: registry.ModelSpec, paths: Paths, model_uri: str, input_base: str,
                    pattern: str, images: bool, beam_args: List[str]) -> Pipeline:
  """`<spec.name>_score`, recorded in `spec.name`'s store."""
  name = name_of(spec.name)
  # reimport=False: the Importer finds the Trainer's artifact by its URI and reuses it.
  importer = Importer(source_uri=model_uri, artifact_type=standard_artifacts.Model,
                      reimport=False).with_id('ModelImporter')
  input_config = example_gen_pb2.Input(splits=[
      example_gen_pb2.Input.Split(name=SPLIT, pattern=pattern)])
  # One output split of everything: ExampleGen would hash a single input split into
  # train and eval otherwise.
  output_config = example_gen_pb2.Output(split_config=example_gen_pb2.SplitConfig(splits=[
      example_gen_pb2.SplitConfig.Split(name=SPLIT, hash_buckets=1)]))
  example_gen = (ImageExampleGen if images else CsvExampleGen)(
      input_base=input_base, input_config=input_config, output_config=output_config)
  inferrer = StringOutputBulkInferrer(
      examples=example_gen.outputs['examples'], model=importer.outputs['result'],
      data_spec=bulk_inferrer_pb2.DataSpec(example_splits=[SPLIT]),
      model_spec=bulk_inferrer_pb2.ModelSpec(model_signature_name=['serving_default'])
  ).with_id('BulkInferrer')
  return Pipeline(
      pipeline_name=name, pipeline_root=paths.pipeline_root(name),
      components=[importer, example_gen, inferrer],
      # Every score is a new batch: nothing to reuse, and each run writes its own CSV.
      enable_cache=False,
      metadata_connection_config=metadata.pipeline_connection_config(paths, spec.name),
      beam_pipeline_args=beam_args)


def latest_run(paths: Paths, pipeline: str):
  """The latest run of `pipeline`_score, read from `pipeline`'s store (None before any)."""
  store = summary.open_store(metadata.connection_config(paths, pipeline))
  runs = summary.run_contexts(store, name_of(pipeline))
  return summary.summarize(store, runs[-1], name_of(pipeline)) if runs else None


def write_predictions(spec: registry.ModelSpec, paths: Paths, count: int, images: bool):
  """Writes the latest run's predictions.csv beside its InferenceResult and records its path
  and row count on that artifact; returns (Predictions, the CSV's path)."""
  result = latest_run(paths, spec.name)
  inferrer = result.component('BulkInferrer') if result else None
  if inferrer is None or not inferrer.outputs.get('inference_result'):
    raise RuntimeError('the run finished without an inference result')
  [artifact] = inferrer.outputs['inference_result']
  predictions = data.read_predictions(spec, artifact.uri, images)
  if len(predictions.rows) != count:
    raise RuntimeError(f'{count} inputs, but {len(predictions.rows)} predictions in '
                       f'{artifact.uri}')
  csv_path = os.path.join(artifact.uri, data.PREDICTIONS_FILE)
  data.write_predictions(predictions, csv_path)
  artifact.custom_properties['predictions_csv'].string_value = csv_path
  artifact.custom_properties['predictions'].int_value = len(predictions.rows)
  store = summary.open_store(metadata.connection_config(paths, spec.name, read_only=False))
  store.put_artifacts([artifact])
  return predictions, csv_path
