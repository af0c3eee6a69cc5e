"""Linear regression y = W*x + b on x = [1, 2, 3] -> y = [1, 2, 3]: MSE, gradient descent lr 0.1.

The seed ran 100 steps and got "roughly" y = x. With lr 0.1 the slow direction of this problem
(mostly b) shrinks by ~2.4% a step, so 100 steps leave ~9% of the initial error; the registry
trains 300 steps, after which the served model predicts 5 for x=5 and 2.5 for x=2.5.
"""
import keras

from models.common import tabular

LEARNING_RATE = 0.1
BATCH_SIZE = 3  # the whole table, as in the seed
SEED = 42


def build_model(inputs, stacked, n_classes):
  del n_classes  # regression
  init = keras.initializers.RandomUniform(-1.0, 1.0)  # the seed's W, b ~ U(-1, 1)
  y = keras.layers.Dense(1, kernel_initializer=init, bias_initializer=init, name='Wx_b')(stacked)
  model = keras.Model(inputs, y, name='linear')
  model.compile(optimizer=keras.optimizers.SGD(LEARNING_RATE), loss='mean_squared_error')
  return model


# Called by Transform.
preprocessing_fn = tabular.preprocessing_fn


# Called by Trainer.
def run_fn(fn_args):
  tabular.train_and_export(fn_args, build_model, batch_size=BATCH_SIZE, seed=SEED)
