"""MNIST multilayer perceptron (the seed's): 784 -> 256 -> 256 -> 10 ReLU, Adam 1e-3
(cosine decay, models/common/training.py), batch 100, 15 epochs."""
from models.common import images, networks

LEARNING_RATE = 1e-3
BATCH_SIZE = 100
SEED = 42


def build_model(image, decay_steps=None):
  return networks.mlp(image, name='mlp', learning_rate=LEARNING_RATE,
                      decay_steps=decay_steps)


# Called by Transform.
preprocessing_fn = images.preprocessing_fn


# Called by Trainer.
def run_fn(fn_args):
  images.train_and_export(fn_args, build_model, batch_size=BATCH_SIZE, seed=SEED)
