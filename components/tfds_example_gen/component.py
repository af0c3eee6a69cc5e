"""TfdsExampleGen component: spec and constructor.

    TfdsExampleGen(dataset='mnist', splits={'train': 'train', 'test': 'eval'})

Each TFDS split expression (slicing included, e.g. 'train[:2000]') becomes one output split of
a standard `Examples` artifact (gzipped TFRecords of tf.Example, payload format recorded), so
StatisticsGen, SchemaGen, Transform, Trainer and Evaluator consume it unchanged. Features keep
TFDS's names; images stay encoded (PNG) as TFDS stores them.
"""
from __future__ import annotations

from typing import Mapping, Optional

from tfx import types
from tfx.dsl.components.base import base_beam_component, executor_spec
from tfx.proto import example_gen_pb2
from tfx.types import standard_artifacts, standard_component_specs
from tfx.types.component_spec import ChannelParameter, ComponentSpec, ExecutionParameter

from components.tfds_example_gen import executor

DATASET_KEY = 'dataset'
DATA_DIR_KEY = 'data_dir'
MANUAL_DIR_KEY = 'manual_dir'


class TfdsExampleGenSpec(ComponentSpec):
  """TfdsExampleGen's parameters: the dataset, its splits, and where TFDS keeps its files."""
  PARAMETERS = {
      DATASET_KEY: ExecutionParameter(type=str),
      standard_component_specs.INPUT_CONFIG_KEY: ExecutionParameter(type=example_gen_pb2.Input),
      standard_component_specs.OUTPUT_CONFIG_KEY: ExecutionParameter(type=example_gen_pb2.Output),
      standard_component_specs.OUTPUT_DATA_FORMAT_KEY: ExecutionParameter(type=int),
      standard_component_specs.OUTPUT_FILE_FORMAT_KEY: ExecutionParameter(type=int),
      DATA_DIR_KEY: ExecutionParameter(type=str, optional=True),
      MANUAL_DIR_KEY: ExecutionParameter(type=str, optional=True),
  }
  INPUTS = {}
  OUTPUTS = {
      standard_component_specs.EXAMPLES_KEY: ChannelParameter(type=standard_artifacts.Examples),
  }


class TfdsExampleGen(base_beam_component.BaseBeamComponent):
  """Ingests a tensorflow-datasets dataset into a TFX pipeline."""
  SPEC_CLASS = TfdsExampleGenSpec
  EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(executor.Executor)

  def __init__(self, dataset: str, splits: Optional[Mapping[str, str]] = None,
               data_dir: Optional[str] = None, manual_dir: Optional[str] = None):
    """Args:
      dataset: TFDS name, optionally with a version ('mnist', 'fashion_mnist:3.0.1').
      splits: TFDS split expression -> output split name; default train -> train,
        test -> eval.
      data_dir: where TFDS keeps prepared datasets (TFDS's default when None).
      manual_dir: a directory holding the dataset's original download files, for machines
        without internet; when None TFDS downloads as usual.
    """
    splits = dict(splits or {'train': 'train', 'test': 'eval'})
    input_config = example_gen_pb2.Input(splits=[
        example_gen_pb2.Input.Split(name=output_split, pattern=tfds_split)
        for tfds_split, output_split in splits.items()])
    super().__init__(spec=TfdsExampleGenSpec(
        dataset=dataset,
        input_config=input_config,
        output_config=example_gen_pb2.Output(),  # one output split per input split
        output_data_format=example_gen_pb2.FORMAT_TF_EXAMPLE,
        output_file_format=example_gen_pb2.FORMAT_TFRECORDS_GZIP,
        data_dir=data_dir,
        manual_dir=manual_dir,
        examples=types.Channel(type=standard_artifacts.Examples)))
