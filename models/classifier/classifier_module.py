"""Animal classifier: [fur, wings] -> other / mammal / bird, one softmax layer (the seed's 2->3).

The seed put a ReLU on the logits and ran plain gradient descent (lr 0.01) for 100 steps; it
stalls at 66% (four of six rows) and the seed's note blames the single layer. The data is in
fact linearly separable: without the ReLU (which zeroes negative logits, so rows tie) and with
Adam, the same one layer classifies all six rows. tests/test_models.py reproduces both.
"""
import keras

from models.common import tabular

LEARNING_RATE = 0.1
BATCH_SIZE = 6  # the whole table, as in the seed
SEED = 42


def build_model(inputs, stacked, n_classes):
  probabilities = keras.layers.Dense(n_classes, activation='softmax', name='softmax')(stacked)
  model = keras.Model(inputs, probabilities, name='classifier')
  model.compile(optimizer=keras.optimizers.Adam(LEARNING_RATE),
                loss='sparse_categorical_crossentropy', metrics=['sparse_categorical_accuracy'])
  return model


# Called by Transform.
preprocessing_fn = tabular.preprocessing_fn


# Called by Trainer.
def run_fn(fn_args):
  tabular.train_and_export(fn_args, build_model, batch_size=BATCH_SIZE, seed=SEED)
