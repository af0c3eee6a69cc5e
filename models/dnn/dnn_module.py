"""Deep network on the animals CSV: [fur, wings] -> 10 -> 20 -> 3, ReLU, Adam 0.01 (the seed's).

The seed's final version dropped the biases. With no bias a ReLU network maps [0, 0] to all-zero
logits, and "other" wins only by argmax's tie-break on index 0; biases keep that row an honest
prediction, so they stay.
"""
import keras

from models.common import tabular

HIDDEN_UNITS = (10, 20)
LEARNING_RATE = 0.01
BATCH_SIZE = 6  # the whole table, as in the seed
SEED = 42


def build_model(inputs, stacked, n_classes):
  init = keras.initializers.RandomUniform(-1.0, 1.0)  # the seed's tf.random_uniform(-1, 1)
  x = stacked
  for i, units in enumerate(HIDDEN_UNITS, start=1):
    x = keras.layers.Dense(units, activation='relu', kernel_initializer=init, name=f'layer{i}')(x)
  logits = keras.layers.Dense(n_classes, kernel_initializer=init, name='output')(x)
  probabilities = keras.layers.Softmax(name='probabilities')(logits)
  model = keras.Model(inputs, probabilities, name='dnn')
  model.compile(optimizer=keras.optimizers.Adam(LEARNING_RATE),
                loss='sparse_categorical_crossentropy', metrics=['sparse_categorical_accuracy'])
  return model


# Called by Transform.
preprocessing_fn = tabular.preprocessing_fn


# Called by Trainer.
def run_fn(fn_args):
  tabular.train_and_export(fn_args, build_model, batch_size=BATCH_SIZE, seed=SEED)
