"""MNIST as a sequence (the seed's RNN): 28 rows of 28 pixels as 28 steps, a basic RNN cell of
128 units, its last output -> dense 10; Adam 1e-3 (cosine decay), batch 128, 10 epochs."""
import keras

from models.common import images, training

LEARNING_RATE = 1e-3
BATCH_SIZE = 128
HIDDEN = 128
SEED = 42


def build_model(image, decay_steps=None):
  rows = keras.layers.Reshape((images.SIDE, images.SIDE), name='rows_as_steps')(image)
  last = keras.layers.SimpleRNN(HIDDEN, name='rnn')(rows)
  probabilities = keras.layers.Dense(images.NUM_CLASSES, activation='softmax', name='output')(last)
  model = keras.Model(image, probabilities, name='rnn')
  model.compile(optimizer=keras.optimizers.Adam(training.learning_rate(LEARNING_RATE,
                                                                       decay_steps)),
                loss='sparse_categorical_crossentropy', metrics=['sparse_categorical_accuracy'])
  return model


# Called by Transform.
preprocessing_fn = images.preprocessing_fn


# Called by Trainer.
def run_fn(fn_args):
  images.train_and_export(fn_args, build_model, batch_size=BATCH_SIZE, seed=SEED)
