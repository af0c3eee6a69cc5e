"""Transform and Trainer plumbing for the MNIST image classifiers (mlp*, cnn, rnn).

Examples hold TFDS's features: `image` (PNG bytes) and `label` (0-9). Transform decodes and
scales; the graph is not materialized: the Trainer reads raw examples and applies Transform's
graph in its input pipeline, and the served model embeds the same graph.
"""
from __future__ import annotations

from typing import Any, Dict, Mapping, Optional

import keras
import tensorflow as tf
import tensorflow_transform as tft
from tfx.components.trainer.fn_args_utils import FnArgs
from tfx_bsl.public import tfxio

from components.infra_validator.session_loader import ServingSession
from models.common import export, pictures, training, tuning
from models.common.contract import BuildModel
from models.common.features import transformed_name

IMAGE, LABEL = 'image', 'label'
SIDE = 28
NUM_CLASSES = 10
CLASS_NAMES = [str(d) for d in range(NUM_CLASSES)]  # what a served classifier names digits
DECODE_BATCH = 1000  # examples parsed and decoded at once by the Trainer's input pipeline
SHUFFLE_BUFFER = 10_000
# With tf.data's autotuning off (training.without_autotuning), fixed values: the decode map on
# every core, two batches read ahead.
PARALLEL_DECODES = training.CORES
PREFETCH_BATCHES = 2


def scale_images(images: tf.Tensor) -> tf.Tensor:
  """[batch, 28, 28] or [batch, 28, 28, 1] pixels 0-255 -> float32 [batch, 28, 28, 1] in [0, 1]."""
  return tf.reshape(tf.cast(images, tf.float32) / 255.0, [-1, SIDE, SIDE, 1])


def decode_images(encoded: tf.Tensor) -> tf.Tensor:
  """PNG bytes, shape [batch] or [batch, 1] -> uint8 [batch, 28, 28, 1]."""
  return tf.map_fn(lambda png: tf.io.decode_png(png, channels=1), tf.reshape(encoded, [-1]),
                   fn_output_signature=tf.TensorSpec([None, None, 1], tf.uint8))


def preprocessing_fn(inputs: Mapping[str, tf.Tensor],
                     custom_config: Mapping[str, Any]) -> Dict[str, tf.Tensor]:
  """Decode, scale to [0, 1], reshape to 28x28x1; the label passes through as an id."""
  del custom_config  # MNIST's feature names are TFDS's
  return {
      transformed_name(IMAGE): scale_images(decode_images(inputs[IMAGE])),
      transformed_name(LABEL): tf.reshape(inputs[LABEL], [-1]),
  }


def raw_image_inputs():
  """serving_raw for JSON clients: `images`, a batch of 28x28 pixel values 0-255 (float32, so
  JSON numbers and uint8 arrays both fit), encoded to PNG in-graph so the served model runs
  exactly the decoding path training used."""
  spec = tf.TensorSpec([None, SIDE, SIDE], tf.float32, name='images')

  def to_raw(images: tf.Tensor) -> Dict[str, tf.Tensor]:
    pixels = tf.cast(tf.clip_by_value(tf.round(images), 0, 255), tf.uint8)
    encoded = tf.map_fn(lambda image: tf.io.encode_png(image[..., tf.newaxis]), pixels,
                        fn_output_signature=tf.string)
    return {IMAGE: tf.reshape(encoded, [-1, 1])}

  return [spec], to_raw


def dataset(fn_args: FnArgs, files, tf_transform_output: tft.TFTransformOutput,
            batch_size: int, seed: int, shuffle: bool, skip: int = 0,
            take: Optional[int] = None) -> tf.data.Dataset:
  """Raw examples -> Transform's graph -> (image batch, label batch), repeated forever.

  The examples are parsed and decoded once, in the first epoch, and kept in memory (MNIST's
  60,000 training images are 190 MB as float32): decoding the PNGs again every epoch took the
  CPU from training (docs/benchmarks.md). Each epoch is then shuffled from memory (a
  SHUFFLE_BUFFER window, seeded, reshuffled every epoch), as plain Keras does. `skip` and
  `take` keep a slice of the files' examples in their stored order (the Tuner's).
  """
  raw = fn_args.data_accessor.tf_dataset_factory(
      files,
      tfxio.TensorFlowDatasetOptions(batch_size=DECODE_BATCH, shuffle=False, num_epochs=1),
      tf_transform_output.raw_metadata.schema)
  tft_layer = tf_transform_output.transform_features_layer()

  # Not converted by autograph: Transform's layer is tf_keras code, whose conversion took 4 s
  # per dataset (docs/benchmarks.md); it has no Python control flow on tensors.
  @tf.autograph.experimental.do_not_convert
  def transform(features):
    transformed = tft_layer(features)
    return ({transformed_name(IMAGE): transformed[transformed_name(IMAGE)]},
            transformed[transformed_name(LABEL)])

  examples = raw.map(transform, num_parallel_calls=PARALLEL_DECODES).unbatch()
  if skip or take is not None:
    examples = examples.skip(skip).take(-1 if take is None else take)
  examples = examples.cache()
  if shuffle:
    examples = examples.shuffle(SHUFFLE_BUFFER, seed=seed, reshuffle_each_iteration=True)
  return training.without_autotuning(
      examples.batch(batch_size).repeat().prefetch(PREFETCH_BATCHES))


def image_input() -> keras.KerasTensor:
  return keras.Input(shape=(SIDE, SIDE, 1), name=transformed_name(IMAGE))


def train_and_export(fn_args: FnArgs, build_model: BuildModel, seed: int,
                     bfloat16: bool = False) -> keras.Model:
  """Builds, trains for fn_args.train_steps in batches of the spec's batch size, exports to
  fn_args.serving_model_dir and draws the seed's picture with the export. Returns the model
  exported (float32).

  `bfloat16`: the model may train in mixed bfloat16 where the CPU has it natively
  (training.training_precision; measured per model, docs/benchmarks.md); it is exported as a
  float32 copy, so the Evaluator gates, and TF Serving serves, float32 arithmetic.
  """
  training.seed_everything(seed)
  tf_transform_output = tft.TFTransformOutput(fn_args.transform_output)
  config = tuning.trainer_config(fn_args)
  precision = training.precision_for(bfloat16)
  with training.dtype_policy(precision):
    model = build_model(tf_transform_output, config, fn_args.train_steps)
  batch_size = config['batch_size']
  train = dataset(fn_args, fn_args.train_files, tf_transform_output, batch_size, seed, True)
  evaluation = dataset(fn_args, fn_args.eval_files, tf_transform_output, batch_size, seed, False)
  training.fit(model, fn_args, train, evaluation, precision=precision)
  model = training.float32_copy(model, lambda: build_model(tf_transform_output, config))
  export.save_serving_model(model, tf_transform_output, dict(config, class_names=CLASS_NAMES),
                            fn_args.serving_model_dir, raw_inputs=raw_image_inputs())
  write_prediction_picture(fn_args, title=model.name)
  return model


def tuner_fn_result(fn_args: FnArgs, space: tuning.Space, build_model: BuildModel, seed: int):
  """tuner_fn of an MNIST classifier: each trial trains on the training split's first
  train_examples images and is scored (accuracy) on the validation_examples after them."""
  tf_transform_output = tft.TFTransformOutput(fn_args.transform_graph_path)
  budget, batch_size = fn_args.custom_config[tuning.TUNE], fn_args.custom_config['batch_size']
  first = budget['train_examples']
  train = dataset(fn_args, fn_args.train_files, tf_transform_output, batch_size, seed, True,
                  take=first)
  validation = dataset(fn_args, fn_args.train_files, tf_transform_output, batch_size, seed,
                       False, skip=first, take=budget['validation_examples'])
  return tuning.tuner_fn_result(
      fn_args, space, lambda config, steps: build_model(tf_transform_output, config, steps),
      train, validation, objective='val_sparse_categorical_accuracy', seed=seed)


def write_prediction_picture(fn_args: FnArgs, title: str, count: int = 10) -> str:
  """The seed's picture: the first `count` eval digits with the label the *exported* model
  predicts over each (serving_default called through TF Serving's own loader, so an export
  TF Serving cannot run fails here, with ServingLoadError's line), wrong ones in red with the
  true label. Returns the PNG's path."""
  examples = pictures.first_examples(fn_args.eval_files, count)
  with ServingSession(fn_args.serving_model_dir) as session:
    predicted = session.run('serving_default', examples=examples)['classes']
  parsed = tf.io.parse_example(examples, {IMAGE: tf.io.FixedLenFeature([], tf.string),
                                          LABEL: tf.io.FixedLenFeature([], tf.int64)})
  pixels = decode_images(parsed[IMAGE]).numpy() / 255.0
  truth = [str(label) for label in parsed[LABEL].numpy()]
  names = [p.decode() for p in predicted]
  captions = [p if p == t else f'{p} (is {t})' for p, t in zip(names, truth)]
  colors = ['black' if p == t else 'red' for p, t in zip(names, truth)]
  correct = sum(p == t for p, t in zip(names, truth))
  png = pictures.grid_png(pixels, captions, colors, columns=count,
                          title=f'{title}: predicted digits, {correct}/{len(names)} right')
  return pictures.write(fn_args.model_run_dir, 'predictions', png)
