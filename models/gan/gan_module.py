"""MNIST GAN (the seed's, made to work): noise -> a handwritten digit. Its networks are in
networks.py; the training, the export and the judging it shares with the cgan (models/common:
adversarial, drawing, judging). Its gates (pipelines/registry.py) read digit_shares below
and the judge's confidence."""
from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional

import numpy as np
import tensorflow_transform as tft
from tfx.components.trainer.fn_args_utils import FnArgs

from components.infra_validator.session_loader import ServingSession
from models.common import adversarial, images, judging
from models.common.contract import Evaluation
from models.gan import networks

SEED = 42

# Called by Transform.
preprocessing_fn = images.preprocessing_fn


# Called by run_fn and the tests (the contract: models/common/contract.py).
def build_model(tf_transform_output: tft.TFTransformOutput, config: Mapping[str, Any],
                train_steps: Optional[int] = None) -> adversarial.GAN:
  del tf_transform_output, config, train_steps  # noise and images only; a constant rate
  gan = adversarial.GAN(networks.build_generator, networks.build_discriminator,
                        networks.discriminator_code_loss, networks.generator_code_loss,
                        name='gan')
  gan.compile()
  return gan


# Called by Trainer.
def run_fn(fn_args: FnArgs) -> None:
  adversarial.train_and_export(fn_args, build_model, SEED, takes_digit=False,
                               title='gan: samples from 100 noise vectors')


def digit_shares(asked: np.ndarray, read_as: np.ndarray) -> Dict[str, float]:
  """The share of samples the judge reads as each digit, and the rarest one's (the gate)."""
  del asked  # the gan draws whatever digit its noise makes
  shares = np.bincount(read_as, minlength=images.NUM_CLASSES) / len(read_as)
  return {'min_digit_share': float(shares.min()),
          **{f'digit_{d}_share': float(s) for d, s in enumerate(shares)}}


# Called by the QualityEvaluator, with the pipeline's reference classifier.
def evaluate_fn(model: ServingSession, examples: List[bytes], custom_config: Mapping[str, Any],
                reference: Optional[ServingSession] = None) -> Evaluation:
  del custom_config
  return judging.evaluate(model, examples, reference, digit_shares)
