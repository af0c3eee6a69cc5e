"""The GANs' evaluation, which the QualityEvaluator gates on: samples drawn by the export are
read by the pipeline's reference classifier (the judge: an MNIST mlp trained in the same
pipeline on the same data, ReferenceTrainer; docs/gans.md).

Every GAN reports
  reference_accuracy  the judge's own accuracy on the real eval images (a judge that cannot
                      read digits would make every other number meaningless)
  mean_confidence     the judge's mean top probability over the samples
  confident_share     the share of samples it reads with probability >= CONFIDENT
and what its module's digit_metrics makes of the digits asked for and the digits read.
"""
from __future__ import annotations

from typing import Callable, Dict, List, Optional

import numpy as np
import tensorflow as tf

from components.infra_validator.session_loader import ServingSession
from models.common import drawing, images
from models.common.contract import Evaluation

SAMPLES_PER_DIGIT = 1000  # 10,000 samples in all
EVAL_NOISE_SEED = 20_181_021  # the same noise for every model judged, candidate or baseline
CONFIDENT = 0.9
JUDGE_BATCH = 1000

# (the digit each sample was asked to be, the digit the judge read) -> metrics by name
DigitMetrics = Callable[[np.ndarray, np.ndarray], Dict[str, float]]


def evaluation_noise(count: int) -> np.ndarray:
  """The evaluation's fixed noise, [count, NOISE_SIZE]."""
  return drawing.fixed_noise(count, EVAL_NOISE_SEED)


def reference_accuracy(reference: ServingSession, examples: List[bytes]) -> float:
  """The judge's accuracy on the real eval images (its serving_default reads the
  tf.Examples themselves, labels included)."""
  right = 0
  for start in range(0, len(examples), JUDGE_BATCH):
    batch = np.array(examples[start:start + JUDGE_BATCH], dtype=object)
    predicted = reference.run('serving_default', examples=batch)['class_ids']
    labels = tf.io.parse_example(batch, {images.LABEL: tf.io.FixedLenFeature([], tf.int64)})
    right += int(np.sum(predicted == labels[images.LABEL].numpy()))
  return right / len(examples)


def judge(reference: ServingSession, samples: np.ndarray) -> np.ndarray:
  """The judge's probabilities for generated images in [0, 1] (through its serving_raw, which
  takes pixel values 0-255 as a client would send them)."""
  return np.concatenate([
      reference.run('serving_raw', images=(samples[i:i + JUDGE_BATCH] * 255.0).astype(
          np.float32))['probabilities'] for i in range(0, len(samples), JUDGE_BATCH)])


def evaluate(model: ServingSession, examples: List[bytes], reference: Optional[ServingSession],
             digit_metrics: DigitMetrics) -> Evaluation:
  """The metrics above on SAMPLES_PER_DIGIT samples asked for each digit, drawn from the
  evaluation's noise; model and reference are exports loaded as TF Serving loads them."""
  if reference is None:
    raise ValueError('the GAN evaluation needs the pipeline\'s reference classifier')
  digits = np.repeat(np.arange(drawing.NUM_DIGITS), SAMPLES_PER_DIGIT)
  samples = drawing.generate(model, digits, evaluation_noise(len(digits)))
  probabilities = judge(reference, samples)
  confidence = probabilities.max(axis=1)
  metrics = {
      'reference_accuracy': reference_accuracy(reference, examples),
      'mean_confidence': float(confidence.mean()),
      'confident_share': float(np.mean(confidence >= CONFIDENT)),
  }
  metrics.update(digit_metrics(digits, probabilities.argmax(axis=1)))
  return {'metrics': metrics, 'samples': {}}
