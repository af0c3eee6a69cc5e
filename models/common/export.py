"""Self-contained serving SavedModels: Transform's graph + the Keras model + readable outputs.

Every pushed model has three signatures:
  serving_default     serialized tf.Example (what TFX, TFMA and TF Serving's REST `b64` send)
  serving_raw         one plain tensor per raw feature, for JSON clients
  transform_features  serialized tf.Example -> transformed features (TFMA reads labels here)
Classifiers return `classes` (names from Transform's vocabulary), `class_ids` and
`probabilities`; regressors return the predicted label value under the label's name.
"""
from __future__ import annotations

from typing import Callable, Dict, List, Mapping

import keras
import tensorflow as tf
import tensorflow_transform as tft

from models.common.features import RAW_SIGNATURE, TRANSFORM_SIGNATURE, transformed_name

RawBuilder = Callable[..., Dict[str, tf.Tensor]]
# The input of every signature that takes serialized tf.Examples.
EXAMPLES = tf.TensorSpec([None], tf.string, name='examples')


def tabular_raw_inputs(raw_spec: Mapping[str, tf.io.FixedLenFeature],
                       features: List[str]) -> tuple[List[tf.TensorSpec], RawBuilder]:
  """JSON-friendly inputs for CSV features: numbers as float32 (a JSON client cannot tell
  1 from 1.0), strings as strings; each cast back to the dtype the schema declares."""
  specs, dtypes = [], []
  for name in features:
    dtype = raw_spec[name].dtype
    dtypes.append(dtype)
    specs.append(tf.TensorSpec([None], tf.string if dtype == tf.string else tf.float32, name=name))

  def to_raw(*tensors: tf.Tensor) -> Dict[str, tf.Tensor]:
    raw = {}
    for name, dtype, tensor in zip(features, dtypes, tensors):
      if dtype == tf.int64:
        tensor = tf.cast(tf.round(tensor), tf.int64)
      raw[name] = tf.reshape(tf.cast(tensor, dtype), [-1, 1])
    return raw

  return specs, to_raw


def serving_function(fn: Callable, *input_signature: tf.TensorSpec):
  """A signature's function, traced without autograph: its code is TF ops and Python decided
  at trace time. With autograph, tracing rewrote the source of every function it reached,
  tf_keras's call machinery under Transform's layer included: about 5 of an export's 5.4 s
  (the classifier; see save() for the other half of that fix)."""
  return tf.function(fn, input_signature=list(input_signature), autograph=False)


def transform_signature(module: tf.Module, raw_spec: Mapping[str, tf.io.FixedLenFeature]):
  """transform_features: serialized tf.Example -> Transform's outputs (TFMA reads labels
  here). `module.tft_layer` is Transform's layer; save() keeps what it tracks."""
  def transform_features(examples):
    return module.tft_layer(tf.io.parse_example(examples, raw_spec))
  return serving_function(transform_features, EXAMPLES).get_concrete_function()


def save(module: tf.Module, export_dir: str, signatures: Mapping[str, object]) -> None:
  """tf.saved_model.save(module, …) so that TF Serving's loader can run every signature.

  Keras 3 hands tf.saved_model.save a copy of each variable: the checkpoint's restore op fills
  the copies while the traced functions read the originals, and a session (TF Serving,
  saved_model_cli run, BulkInferrer) answers "Could not find variable". Tracking each Keras
  variable's own tf.Variable on the module makes the functions' variables the saved ones; the
  Keras objects themselves are then dropped (the signatures are traced already), or every
  weight would be stored twice.

  Transform's layer is a tf_keras Model: saved as one, tf_keras traces a default signature
  for it, with autograph, that no server reads (the same 5 s as above, paid here instead).
  The module keeps what the layer tracks for the functions, the loaded transform graph with
  its tables and vocabulary assets, and drops the layer.
  """
  layers = {k: v for k, v in vars(module).items() if isinstance(v, keras.layers.Layer)}
  module.serving_variables = [v.value for layer in layers.values() for v in layer.variables]
  for name in layers:
    delattr(module, name)
  tft_layer = vars(module).get('tft_layer')
  if tft_layer is not None:
    # TFT's layer tracks its loader's objects under this name (tensorflow_transform 1.16).
    module.transform_graph = tft_layer._saved_model_loader_tracked_dict  # pylint: disable=protected-access
    del module.tft_layer
  tf.saved_model.save(module, export_dir, signatures=dict(signatures))


def save_serving_model(model, tf_transform_output: tft.TFTransformOutput,
                       config: Mapping[str, object], export_dir: str,
                       raw_inputs: tuple[List[tf.TensorSpec], RawBuilder] | None = None,
                       extra_outputs: Callable[[Dict[str, tf.Tensor], Dict[str, tf.Tensor]],
                                               Dict[str, tf.Tensor]] | None = None) -> None:
  """Exports `model` with Transform embedded, in the signatures described above.
  extra_outputs(raw features, outputs) adds model-specific outputs (autocomplete: the word)."""
  features = list(config['features'])
  label = str(config['label'])
  raw_spec = tf_transform_output.raw_feature_spec()
  serving_spec = {k: v for k, v in raw_spec.items() if k != label}
  raw_specs, to_raw = raw_inputs or tabular_raw_inputs(raw_spec, features)

  module = tf.Module()
  module.model = model
  module.tft_layer = tf_transform_output.transform_features_layer()
  classification = config['task'] == 'classification'
  if classification:
    # Class names become a constant of the graph: the served model names classes itself —
    # for a string label, the vocabulary Transform learned (its ids are the training ids);
    # for an integer label (MNIST digits), the ids written out.
    names = config.get('class_names') or tf_transform_output.vocabulary_by_name(label)
    class_names = tf.constant([n if isinstance(n, bytes) else str(n).encode() for n in names])

  def predict(raw: Dict[str, tf.Tensor]) -> Dict[str, tf.Tensor]:
    transformed = module.tft_layer(raw)
    inputs = {transformed_name(f): transformed[transformed_name(f)] for f in features}
    outputs = module.model(inputs, training=False)
    if classification:
      class_ids = tf.argmax(outputs, axis=-1)
      result = {'classes': tf.gather(class_names, class_ids), 'class_ids': class_ids,
                'probabilities': outputs}
    else:
      result = {label: tf.reshape(outputs, [-1])}
    if extra_outputs is not None:
      result.update(extra_outputs(raw, result))
    return result

  def serve_examples(examples):
    return predict(tf.io.parse_example(examples, serving_spec))

  serve_raw = serving_function(lambda *tensors: predict(to_raw(*tensors)), *raw_specs)

  save(module, export_dir, {
      'serving_default': serving_function(serve_examples, EXAMPLES).get_concrete_function(),
      RAW_SIGNATURE: serve_raw.get_concrete_function(),
      TRANSFORM_SIGNATURE: transform_signature(module, raw_spec),
  })
