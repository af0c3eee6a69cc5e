"""The seed's MLP with batch normalization after each hidden layer."""
from models.common import images, networks

LEARNING_RATE = 1e-3
BATCH_SIZE = 100
SEED = 42


def build_model(image, decay_steps=None):
  return networks.mlp(image, name='mlp_bn', learning_rate=LEARNING_RATE, batch_norm=True,
                      decay_steps=decay_steps)


# Called by Transform.
preprocessing_fn = images.preprocessing_fn


# Called by Trainer.
def run_fn(fn_args):
  images.train_and_export(fn_args, build_model, batch_size=BATCH_SIZE, seed=SEED)
