"""ImageExampleGen: TFX's FileBasedExampleGen with an executor for folders of image files.

    ImageExampleGen(input_base='/path/to/digits', input_config=example_gen_pb2.Input(
        splits=[example_gen_pb2.Input.Split(name='score', pattern='*')]))

Each image file (PNG, JPEG, BMP, GIF) matching a split's pattern becomes one tf.Example:
`image` = PNG bytes of the digit as the client converts it (28x28 grayscale, light on dark),
`filename` = the file's name. Other files are skipped. The output is a standard `Examples`
artifact (gzipped TFRecords, payload format recorded), so BulkInferrer reads it unchanged.
"""
from tfx.components.example_gen.component import FileBasedExampleGen
from tfx.dsl.components.base import executor_spec

from components.image_example_gen import executor


class ImageExampleGen(FileBasedExampleGen):
  EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(executor.Executor)
