"""MNIST conditional GAN (the seed's, made to work): noise + the digit wanted -> an image of
that digit. Networks, training, signatures and the quality gate are shared with the gan:
models/common/generative.py."""
from models.common import generative, images

SEED = 42
CONDITIONAL = True

# Called by Transform.
preprocessing_fn = images.preprocessing_fn


def build_model() -> generative.GAN:
  gan = generative.GAN(CONDITIONAL, name='cgan')
  gan.compile()
  return gan


# Called by Trainer.
def run_fn(fn_args):
  generative.run_fn(fn_args, build_model, SEED, title='cgan: row d asks for digit d')


# Called by the QualityEvaluator, with the pipeline's reference classifier.
evaluate_fn = generative.evaluate_fn_for(CONDITIONAL)
