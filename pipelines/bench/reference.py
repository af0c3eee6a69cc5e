"""The hand-written script the bench races the pipeline against (`make bench`, docs/benchmarks.md).

MNIST trained as a user writes it from keras.io's "Simple MNIST convnet" example: the seed's
network (cnn: conv3x3x32 -> maxpool2 -> conv3x3x64 -> maxpool2 -> dense 256 + dropout 0.3 -> 10;
mlp: 784 -> 256 -> 256 -> 10; weights N(0, 0.01) as the seed's), float32, Adam 1e-3 at a
constant rate, batches of 100, MNIST from tfds.load straight into memory, and the 10,000 test
images evaluated after every epoch. It is fixed on purpose: it imports nothing of tfzoo and
takes none of the pipeline's tuning, so it stands for what a user would have without tfzoo.

  python pipelines/bench/reference.py {cnn,mlp} --epochs 40 --until 0.98 --min-epochs 15 \
      --data-dir DIR --output result.json

Trains up to --epochs epochs; with --until it stops after the first epoch whose test accuracy
reaches that value, once it has trained --min-epochs (the bench asks for the pipeline's
epochs, to report the reference's accuracy there too). Stopping changes nothing in the epochs
trained. Writes, per epoch, the test accuracy and when the epoch ended (seconds since the
epoch, so the bench can count from the moment it started this process, interpreter start
included).
"""
import argparse
import json
import time

import keras
import tensorflow_datasets as tfds

SEED = 42


def cnn():
  init = keras.initializers.RandomNormal(stddev=0.01)
  return keras.Sequential([
      keras.Input((28, 28, 1)),
      keras.layers.Conv2D(32, 3, padding='same', activation='relu', kernel_initializer=init),
      keras.layers.MaxPooling2D(2, padding='same'),
      keras.layers.Conv2D(64, 3, padding='same', activation='relu', kernel_initializer=init),
      keras.layers.MaxPooling2D(2, padding='same'),
      keras.layers.Flatten(),
      keras.layers.Dense(256, activation='relu', kernel_initializer=init),
      keras.layers.Dropout(0.3),
      keras.layers.Dense(10, activation='softmax', kernel_initializer=init),
  ])


def mlp():
  init = keras.initializers.RandomNormal(stddev=0.01)
  return keras.Sequential([
      keras.Input((28, 28, 1)),
      keras.layers.Flatten(),
      keras.layers.Dense(256, activation='relu', kernel_initializer=init),
      keras.layers.Dense(256, activation='relu', kernel_initializer=init),
      keras.layers.Dense(10, activation='softmax', kernel_initializer=init),
  ])


class EpochClock(keras.callbacks.Callback):
  """Each epoch's end time and test accuracy; stops the training once the accuracy reached
  `until` (if given) after at least `min_epochs`."""

  def __init__(self, until=None, min_epochs=0):
    super().__init__()
    self.epochs = []
    self.until, self.min_epochs = until, min_epochs

  def on_epoch_end(self, epoch, logs=None):
    self.epochs.append({'epoch': epoch + 1, 'ended_at': time.time(),
                        'test_accuracy': float(logs['val_accuracy'])})
    if (self.until is not None and epoch + 1 >= self.min_epochs
        and any(e['test_accuracy'] >= self.until for e in self.epochs)):
      self.model.stop_training = True


def main():
  parser = argparse.ArgumentParser()
  parser.add_argument('model', choices=['cnn', 'mlp'])
  parser.add_argument('--epochs', type=int, default=15)
  parser.add_argument('--until', type=float, help='stop once the test accuracy reached this')
  parser.add_argument('--min-epochs', type=int, default=0, help='but not before this epoch')
  parser.add_argument('--data-dir')
  parser.add_argument('--output', required=True)
  args = parser.parse_args()
  keras.utils.set_random_seed(SEED)
  (x_train, y_train), (x_test, y_test) = tfds.as_numpy(tfds.load(
      'mnist', split=['train', 'test'], batch_size=-1, as_supervised=True,
      data_dir=args.data_dir, download=False))
  x_train, x_test = x_train.astype('float32') / 255, x_test.astype('float32') / 255
  model = cnn() if args.model == 'cnn' else mlp()
  model.compile(optimizer=keras.optimizers.Adam(1e-3), loss='sparse_categorical_crossentropy',
                metrics=['accuracy'])
  clock = EpochClock(args.until, args.min_epochs)
  trained_from = time.time()
  model.fit(x_train, y_train, batch_size=100, epochs=args.epochs,
            validation_data=(x_test, y_test), callbacks=[clock], verbose=2)
  with open(args.output, 'w', encoding='utf-8') as f:
    json.dump({'model': args.model, 'batch_size': 100, 'train_examples': len(y_train),
               'test_examples': len(y_test), 'training_started_at': trained_from,
               'epochs': clock.epochs}, f, indent=1)


if __name__ == '__main__':
  main()
