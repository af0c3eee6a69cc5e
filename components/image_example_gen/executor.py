"""ImageExampleGen's executor: every image file of the split's folder -> one tf.Example."""
from __future__ import annotations

import glob
import os
from typing import Any, Dict

import apache_beam as beam
import tensorflow as tf
from tfx.components.example_gen import base_example_gen_executor
from tfx.types import standard_component_specs

from components.image_example_gen import images
from components.image_example_gen.images import FILENAME_KEY, IMAGE_KEY


def to_example(path: str) -> bytes:
  """A serialized tf.Example: `image` (PNG of the 28x28 digit) and `filename` (the name)."""
  return tf.train.Example(features=tf.train.Features(feature={
      IMAGE_KEY: tf.train.Feature(bytes_list=tf.train.BytesList(value=[images.digit_png(path)])),
      FILENAME_KEY: tf.train.Feature(bytes_list=tf.train.BytesList(
          value=[os.path.basename(path).encode()])),
  })).SerializeToString()


@beam.ptransform_fn
@beam.typehints.with_input_types(beam.Pipeline)
@beam.typehints.with_output_types(bytes)
def _ImagesToExample(pipeline: beam.Pipeline, exec_properties: Dict[str, Any],
                     split_pattern: str) -> beam.pvalue.PCollection:
  pattern = os.path.join(exec_properties[standard_component_specs.INPUT_BASE_KEY], split_pattern)
  files = sorted(p for p in glob.glob(pattern) if images.is_image_file(p))
  if not files:
    # Listed here, in the executor, so an empty folder stops the component before Beam starts.
    raise images.ImageFolderError(f'{pattern}: no image files '
                                  f'({", ".join(images.IMAGE_EXTENSIONS)})')
  return (pipeline
          | 'Files' >> beam.Create(files)
          | 'ToExample' >> beam.Map(to_example))


class Executor(base_example_gen_executor.BaseExampleGenExecutor):
  """BaseExampleGenExecutor does the splitting and writing; this supplies the records."""

  def GetInputSourceToExamplePTransform(self) -> beam.PTransform:
    return _ImagesToExample
