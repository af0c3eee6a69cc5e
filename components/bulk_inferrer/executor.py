"""BulkInferrer's executor, with a model loader whose string outputs tfx_bsl can split.

tfx_bsl's Predict handler (1.16) splits every output per example with `output[i]` and reads the
piece's dtype. A session returns string tensors as NumPy object arrays, whose items are plain
bytes without a dtype, so a signature with a [batch] string output (a classifier's `classes`,
a word) fails with "'bytes' object has no attribute 'dtype'". The loader here loads the model
exactly as tfx_bsl's does (a TF1 session and the restore op, as TF Serving) and only hands
string outputs back as fixed-width bytes arrays, whose items carry a dtype. Everything else,
reading the examples and writing the PredictionLogs, is TFX's executor.
"""
from __future__ import annotations

from typing import Any, Dict, Sequence
from unittest import mock

import apache_beam as beam
import numpy as np
import tensorflow as tf
from tensorflow_serving.apis import prediction_log_pb2
from tfx.components.bulk_inferrer import executor as tfx_executor
from tfx_bsl.public.beam import run_inference
from tfx_bsl.public.proto import model_spec_pb2


class _StringOutputSession:
  """A loaded model's session whose string outputs come back as NumPy bytes arrays."""

  def __init__(self, session: tf.compat.v1.Session):
    self._session = session

  def run(self, fetches: Dict[str, str], feed_dict: Dict[str, Any]) -> Dict[str, np.ndarray]:
    outputs = self._session.run(fetches, feed_dict=feed_dict)
    return {alias: value.astype(np.bytes_) if value.dtype == object else value
            for alias, value in outputs.items()}


def load_model(model_path: str, tags: Sequence[str]) -> _StringOutputSession:
  """tfx_bsl's load_override_fn: the SavedModel in a TF1 session, as tfx_bsl loads it."""
  session = tf.compat.v1.Session(graph=tf.compat.v1.Graph())
  tf.compat.v1.saved_model.loader.load(session, list(tags), model_path)
  return _StringOutputSession(session)


@beam.ptransform_fn
@beam.typehints.with_output_types(prediction_log_pb2.PredictionLog)
def _RunInference(pipeline: beam.pvalue.PCollection, payload_format: int,
                  inference_endpoint: model_spec_pb2.InferenceSpecType
                  ) -> beam.pvalue.PCollection:
  """TFX's _RunInference, loading the model with load_model."""
  return (pipeline
          | 'ParseExamples' >> beam.Map(tfx_executor._MakeParseFn(payload_format))  # pylint: disable=protected-access
          | 'RunInference' >> run_inference.RunInference(inference_endpoint,
                                                         load_override_fn=load_model))


class Executor(tfx_executor.Executor):
  """TFX's BulkInferrer executor; its Beam graph is built with the _RunInference above."""

  def _run_model_inference(self, *args, **kwargs) -> None:
    # TFX's method builds and runs the Beam pipeline with its module's _RunInference; swapping
    # it for this build only keeps the rest of TFX's executor as it is.
    with mock.patch.object(tfx_executor, '_RunInference', _RunInference):
      super()._run_model_inference(*args, **kwargs)
