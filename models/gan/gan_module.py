"""MNIST GAN (the seed's, made to work): noise -> a handwritten digit. Networks, training,
signatures and the quality gate are shared with the cgan: models/common/generative.py."""
from models.common import generative, images

SEED = 42
CONDITIONAL = False

# Called by Transform.
preprocessing_fn = images.preprocessing_fn


def build_model() -> generative.GAN:
  gan = generative.GAN(CONDITIONAL, name='gan')
  gan.compile()
  return gan


# Called by Trainer.
def run_fn(fn_args):
  generative.run_fn(fn_args, build_model, SEED, title='gan: samples from 100 noise vectors')


# Called by the QualityEvaluator, with the pipeline's reference classifier.
evaluate_fn = generative.evaluate_fn_for(CONDITIONAL)
