"""MNIST conditional GAN (the seed's, made to work): noise + the digit wanted -> an image of
that digit. Its networks are in networks.py; the training, the export and the judging it
shares with the gan (models/common: adversarial, drawing, judging). Its gate
(pipelines/registry.py) reads digit_agreement below: the worst digit's."""
from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional

import numpy as np
import tensorflow_transform as tft
from tfx.components.trainer.fn_args_utils import FnArgs

from components.infra_validator.session_loader import ServingSession
from models.cgan import networks
from models.common import adversarial, images, judging
from models.common.contract import Evaluation

SEED = 42

# Called by Transform.
preprocessing_fn = images.preprocessing_fn


# Called by run_fn and the tests (the contract: models/common/contract.py).
def build_model(tf_transform_output: tft.TFTransformOutput, config: Mapping[str, Any],
                train_steps: Optional[int] = None) -> adversarial.GAN:
  del tf_transform_output, config, train_steps  # MNIST's digits are 0-9; a constant rate
  gan = adversarial.GAN(networks.build_generator, networks.build_discriminator,
                        networks.discriminator_digit_loss, networks.generator_digit_loss,
                        name='cgan')
  gan.compile()
  return gan


# Called by Trainer.
def run_fn(fn_args: FnArgs) -> None:
  adversarial.train_and_export(fn_args, build_model, SEED, takes_digit=True,
                               title='cgan: row d asks for digit d')


def digit_agreement(asked: np.ndarray, read_as: np.ndarray) -> Dict[str, float]:
  """For each digit d, the share of the samples asked to be d that the judge reads as d, and
  the worst digit's (the gate)."""
  agreement = [float(np.mean(read_as[asked == d] == d)) for d in range(networks.NUM_DIGITS)]
  return {'min_digit_agreement': min(agreement),
          **{f'digit_{d}_agreement': a for d, a in enumerate(agreement)}}


# Called by the QualityEvaluator, with the pipeline's reference classifier.
def evaluate_fn(model: ServingSession, examples: List[bytes], custom_config: Mapping[str, Any],
                reference: Optional[ServingSession] = None) -> Evaluation:
  del custom_config
  return judging.evaluate(model, examples, reference, digit_agreement)
