"""StatisticsGen's executor: TFDV's statistics in this process on the local runner, on Beam
otherwise.

TFX's executor builds a Beam pipeline per run: TFDV's statistics transform (a dozen stages of
combines, flattens and keyed merges) over a source that hands Beam every serialized example.
On the default runner (DirectRunner, in memory, one worker) all of that runs in this process
on one thread anyway, and it cost MNIST's 70,000 examples 5-7 s, nearly all of it Beam's
per-element and per-stage overhead: TFDV's combiners themselves take 0.05 s over the training
split (docs/benchmarks.md). So on that runner the executor runs the same thing without Beam:
each split read with the same TFXIO (its RecordBatches instead of its BeamSource, the same
decoder), fed a batch at a time to the same combiner generators Beam would run (TFDV's
`get_generators`), merged and extracted as Beam's combine would, and written where TFX writes
it (`Split-<name>/FeatureStats.pb`), with the artifact's properties TFX sets.

Beam runs it instead, through TFX's own executor, when a Beam argument asks for another runner
or for parallel workers (a distributed run must stay distributed), or when the options ask for
something only TFDV's Beam path does (sampling, slicing, sharded output, lift statistics,
generators that are not combiners). The two paths give the same statistics
only if they run the same generators: TFDV's in-memory top-k and unique counts are its sketches,
so the pipeline asks for the sketches on every runner (`use_sketch_based_topk_uniques`,
pipelines/factory.py), as TFDV recommends for large data. Up to 1,024 distinct values of a
feature the sketches count exactly and both paths write the same protos; beyond, both write
estimates that depend on how the examples were batched (Beam's batch sizes vary from run to
run). tests/test_local_statistics_gen.py compares the two paths.
"""
from __future__ import annotations

import os
from typing import Any, Dict, List, Optional

from absl import logging
from apache_beam.options import pipeline_options
import tensorflow_data_validation as tfdv
from tensorflow_data_validation.statistics import stats_impl
from tensorflow_data_validation.statistics.generators import stats_generator
from tensorflow_metadata.proto.v0 import statistics_pb2
from tfx import types
from tfx.components.statistics_gen import executor as tfx_executor
from tfx.components.util import examples_utils, tfxio_utils
from tfx.dsl.io import fileio
from tfx.types import artifact_utils, standard_component_specs as specs
from tfx.utils import io_utils, json_utils, stats_utils
from tfx_bsl.tfxio import dataset_options

# Examples decoded and fed to the generators at once: large batches amortize each generator's
# per-batch Python; memory stays bounded by one batch plus the generators' sketches.
BATCH_SIZE = 10_000
# Recorded on the statistics artifact (ML Metadata): 'in process', or 'on Beam (<why>)'.
COMPUTED_PROPERTY = 'computed'
IN_PROCESS, ON_BEAM = 'in process', 'on Beam'


def beam_needed(beam_args: List[str], options: tfdv.StatsOptions,
                exec_properties: Dict[str, Any]) -> Optional[str]:
  """Why these statistics must run on Beam (TFX's executor), in words; None when the in-process
  path computes what Beam would, in the process Beam would use."""
  parsed = pipeline_options.PipelineOptions(beam_args)
  runner = parsed.view_as(pipeline_options.StandardOptions).runner
  if runner not in (None, 'DirectRunner', 'direct'):
    return f'the runner is {runner}'
  direct = parsed.view_as(pipeline_options.DirectOptions)
  if direct.direct_running_mode != 'in_memory' or direct.direct_num_workers != 1:
    return (f'the direct runner runs {direct.direct_running_mode} with '
            f'{direct.direct_num_workers} workers')
  asks = {
      'sampling': options.sample_rate is not None or json_utils.loads(
          exec_properties.get(specs.SAMPLE_RATE_BY_SPLIT_KEY, 'null')),
      'slicing': (options.slicing_config or options.experimental_slice_functions
                  or options.experimental_slice_sqls),
      'sharded output': exec_properties.get(specs.SHARDED_STATS_OUTPUT_KEY),
      'lift statistics': options.label_feature,
      'filtered reads': options.experimental_filter_read_paths,
  }
  for name, asked in asks.items():
    if asked:
      return f'the options ask for {name}'
  try:
    stats_impl.get_generators(options, in_memory=True)
  except TypeError as e:  # a custom generator that is not a combiner
    return str(e)
  return None


def split_statistics(tfxio, options: tfdv.StatsOptions
                     ) -> statistics_pb2.DatasetFeatureStatisticsList:
  """One split's statistics: every record batch through TFDV's combiner generators."""
  generators: List[stats_generator.CombinerStatsGenerator] = stats_impl.get_generators(
      options, in_memory=True)
  accumulators = [g.create_accumulator() for g in generators]
  for batch in tfxio.RecordBatches(dataset_options.RecordBatchesOptions(
      batch_size=BATCH_SIZE, shuffle=False, num_epochs=1)):
    partial = stats_impl.generate_partial_statistics_in_memory(batch, options, generators)
    accumulators = [g.merge_accumulators([a, p])
                    for g, a, p in zip(generators, accumulators, partial)]
  return stats_impl.extract_statistics_output(accumulators, generators)


class Executor(tfx_executor.Executor):
  """TFX's StatisticsGen executor, in process where Beam would add only its overhead."""

  def Do(self, input_dict: Dict[str, List[types.Artifact]],
         output_dict: Dict[str, List[types.Artifact]],
         exec_properties: Dict[str, Any]) -> None:
    options = _options(input_dict, exec_properties)
    reason = (beam_needed(self._beam_pipeline_args or [], options, exec_properties)
              if options else 'TFX refuses a schema both as input and in the options')
    statistics = artifact_utils.get_single_instance(output_dict[specs.STATISTICS_KEY])
    if reason:
      logging.info('StatisticsGen: statistics %s (%s).', ON_BEAM, reason)
      super().Do(input_dict, output_dict, exec_properties)
      statistics.set_string_custom_property(COMPUTED_PROPERTY, f'{ON_BEAM} ({reason})')
      return
    examples = artifact_utils.get_single_instance(input_dict[specs.EXAMPLES_KEY])
    excluded = json_utils.loads(exec_properties.get(specs.EXCLUDE_SPLITS_KEY, 'null')) or []
    splits = [s for s in _split_names(examples) if s not in excluded]
    if not splits:
      raise ValueError(f'No splits for examples artifact: {examples}')
    # The properties TFX's executor sets.
    statistics.split_names = artifact_utils.encode_split_names(splits)
    statistics.span = examples.span
    try:
      link = stats_utils.generate_stats_dashboard_link(statistics)
    except Exception:  # pylint: disable=broad-except  # as TFX: a link is not worth a failure
      link = ''
    statistics.set_string_custom_property(tfx_executor.STATS_DASHBOARD_LINK, link)
    statistics.set_json_value_custom_property(
        tfx_executor.SAMPLE_RATE_BY_SPLIT_PROPERTY_NAME,
        json_utils.dumps({split: 1.0 for split in splits}))
    for split in splits:
      tfxio = tfxio_utils.get_split_tfxio(examples=[examples], split=split,
                                          telemetry_descriptors=['StatisticsGen'])
      result = split_statistics(tfxio, options)
      path = os.path.join(artifact_utils.get_split_uri([statistics], split),
                          tfx_executor.DEFAULT_FILE_NAME)
      fileio.makedirs(os.path.dirname(path))
      with fileio.open(path, 'wb') as f:
        f.write(result.SerializeToString())
      logging.info('StatisticsGen: statistics for split %s %s, written to %s.', split,
                   IN_PROCESS, path)
    statistics.set_string_custom_property(COMPUTED_PROPERTY, IN_PROCESS)


def _options(input_dict, exec_properties) -> Optional[tfdv.StatsOptions]:
  """The StatsOptions TFX's executor would use: the component's, with the schema input; None
  where both give a schema (TFX's executor then fails with its own error)."""
  text = exec_properties.get(specs.STATS_OPTIONS_JSON_KEY)
  options = tfdv.StatsOptions.from_json(text) if text else tfdv.StatsOptions()
  if input_dict.get(specs.SCHEMA_KEY):
    if options.schema is not None:
      return None
    options.schema = io_utils.SchemaReader().read(io_utils.get_only_uri_in_dir(
        artifact_utils.get_single_uri(input_dict[specs.SCHEMA_KEY])))
  return options


def _split_names(examples: types.Artifact) -> List[str]:
  if examples.has_custom_property(examples_utils.CUSTOM_SPLIT_PATTERN_PROPERTY_NAME):
    return list(json_utils.loads(examples.get_string_custom_property(
        examples_utils.CUSTOM_SPLIT_PATTERN_PROPERTY_NAME)))
  return artifact_utils.decode_split_names(examples.split_names)
