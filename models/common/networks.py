"""The seed's MNIST multilayer perceptron, shared by mlp, mlp_dropout and mlp_bn (each folder
picks its variant, so the three pipelines differ only where the seed's scripts differ), and the
MNIST classifiers' choice of first weights."""
from typing import Optional

import keras

from models.common import images, training


SEED_WEIGHTS = 'seed'


def initializer(init: str):
  """A network's first weights: `init` as Keras names it ('he_normal', the MNIST classifiers'
  default), or SEED_WEIGHTS for the seed's N(0, 0.01) (the GANs' judge, the bench's A/B
  rows)."""
  return keras.initializers.RandomNormal(stddev=0.01) if init == SEED_WEIGHTS else init


def mlp(image: keras.KerasTensor, name: str, learning_rate: float,
        dropout: Optional[float] = None, batch_norm: bool = False,
        decay_steps: Optional[int] = None, units: int = 256,
        init: str = 'he_normal', warmup: float = 0.0) -> keras.Model:
  """784 -> 256 -> 256 -> 10 (hidden layers `units` wide), ReLU; optional dropout (rate = 1 -
  the seed's keep_prob) or batch normalization after each hidden layer; Adam (cosine decay
  over decay_steps, after a linear rise over their `warmup` fraction: training.learning_rate).

  He-normal weights where the seed drew N(0, 0.01) (`init`: initializer): those kept the ReLU
  activations tiny, so the first epochs were spent growing them (docs/benchmarks.md).
  """
  init = initializer(init)
  x = keras.layers.Flatten()(image)
  for i in (1, 2):
    x = keras.layers.Dense(units, kernel_initializer=init, use_bias=not batch_norm,
                           name=f'layer{i}')(x)
    if batch_norm:
      x = keras.layers.BatchNormalization(name=f'batch_norm{i}')(x)
    x = keras.layers.ReLU()(x)
    if dropout:
      x = keras.layers.Dropout(dropout, name=f'dropout{i}')(x)
  probabilities = keras.layers.Dense(images.NUM_CLASSES, activation='softmax',
                                     kernel_initializer=init, dtype='float32', name='output')(x)
  model = keras.Model(image, probabilities, name=name)
  model.compile(optimizer=keras.optimizers.Adam(training.learning_rate(learning_rate,
                                                                       decay_steps, warmup)),
                loss='sparse_categorical_crossentropy', metrics=['sparse_categorical_accuracy'])
  return model
