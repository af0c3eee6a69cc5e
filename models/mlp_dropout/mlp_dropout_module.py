"""The seed's MLP with dropout after each hidden layer (keep_prob 0.8 -> rate 0.2)."""
from models.common import images, networks

LEARNING_RATE = 1e-3
BATCH_SIZE = 100
SEED = 42


def build_model(image, decay_steps=None):
  return networks.mlp(image, name='mlp_dropout', learning_rate=LEARNING_RATE, dropout=0.2,
                      decay_steps=decay_steps)


# Called by Transform.
preprocessing_fn = images.preprocessing_fn


# Called by Trainer.
def run_fn(fn_args):
  images.train_and_export(fn_args, build_model, batch_size=BATCH_SIZE, seed=SEED)
