"""The registry of model specs: what each pipeline ingests, trains and gates on.

A ModelSpec (pipelines/specs.py) is data. `pipelines.factory.create_pipeline` turns any spec into the same TFX DAG;
adding a model is one folder under models/ plus one entry here. This module imports nothing
heavy, so the CLI can validate a MODEL name before paying for TensorFlow.
"""
from __future__ import annotations

import re
from typing import Dict, Optional, Tuple

from pipelines.datafile import CharRule
from pipelines.specs import (CsvSource, FastMode, Gate, ModelSpec, TfdsSource, TuneMode,
                             UnknownModelError, fast_spec)

__all__ = ['REGISTRY', 'get_spec', 'pipeline_spec', 'tunable', 'CsvSource', 'FastMode',
           'Gate', 'ModelSpec', 'TfdsSource', 'TuneMode', 'UnknownModelError', 'fast_spec']


def _accuracy(bound: float, max_regression: float, per_class: Optional[float] = None) -> Gate:
  return Gate(metric='SparseCategoricalAccuracy', key='sparse_categorical_accuracy',
              bound=bound, higher_is_better=True, max_regression=max_regression,
              per_class_bound=per_class)


MNIST_TRAIN_SIZE = 60_000
MNIST_BATCH = 100  # the seed's, for every MNIST model but rnn


def _epochs(epochs: int, batch_size: int) -> int:
  """Training steps for `epochs` passes over the 60,000 training images."""
  return epochs * -(-MNIST_TRAIN_SIZE // batch_size)


def _mnist_tune(batch_size: int, fast: bool) -> TuneMode:
  """--tune on MNIST (docs/pipeline.md): 8 trials, each 2 epochs over 10,000 training images
  scored on the next 5,000; fast mode: 3 trials of 2 epochs over 1,000, scored on the next 500."""
  examples = 1_000 if fast else 10_000
  return TuneMode(trials=3 if fast else 8, train_steps=2 * examples // batch_size,
                  train_examples=examples, validation_examples=examples // 2)


def _mnist(name: str, description: str, accuracy: float, per_digit: float, epochs: int,
           batch_size: int = MNIST_BATCH, tunable: bool = False) -> ModelSpec:
  """An MNIST classifier: trained on all 60,000 training images, gated on all 10,000 test
  images, and every digit on its own at `per_digit` (docs/pipeline.md: the bounds against the
  measured per-digit accuracies). A retrain may be up to 0.2 points below the last blessed
  model (run-to-run noise of a code change) and still be pushed. Fast mode: 2,000 / 1,000
  images, 10 epochs (200 steps at the seed's batch of 100: fewer left the cosine decay too
  short, docs/models.md), gate 0.8, every digit 0.5."""
  return ModelSpec(
      name=name, description=description,
      source=TfdsSource(dataset='mnist:3.0.1', schema='schemas/mnist/schema.pbtxt'),
      task='classification', features=('image',), label='label',
      gates=(_accuracy(accuracy, max_regression=0.002, per_class=per_digit),),
      train_steps=_epochs(epochs, batch_size), batch_size=batch_size, materialize=False,
      label_via_transform=False, tune=_mnist_tune(batch_size, fast=False) if tunable else None,
      fast=FastMode(train_split='train[:2000]', eval_split='test[:1000]',
                    train_steps=10 * 2_000 // batch_size,
                    gates=(_accuracy(0.8, max_regression=1.0, per_class=0.5),),
                    tune=_mnist_tune(batch_size, fast=True) if tunable else None))


def _mse(bound: float, max_regression: float) -> Gate:
  return Gate(metric='mse', key='mse', bound=bound, higher_is_better=False,
              max_regression=max_regression)


def _quality(key: str, bound: float, max_regression: float) -> Gate:
  """A gate on a metric the model's evaluate_fn reports (QualityEvaluator), higher better."""
  return Gate(metric=key, key=key, bound=bound, higher_is_better=True,
              max_regression=max_regression)


_MLP = _mnist('mlp', 'MNIST multilayer perceptron 784->256->256->10', 0.98, 0.96, epochs=3,
              tunable=True)
# The GANs' judge: the mlp's network as the mlp pipeline trained it until its recipe changed
# for speed (the seed's N(0, 0.01) weights, Adam from 1e-3 along a cosine without warm-up, 15
# epochs), trained in the GAN's own pipeline (ReferenceTrainer) so that a GAN run needs no
# other run first; fixed here, so that a change to the mlp pipeline cannot move the GANs'
# gates (docs/gans.md: the faster mlp read the same generator's rarest digit at 4.9% where
# this judge reads 5.15%). Its own accuracy on the eval images is gated too.
_JUDGE_STEPS = _epochs(15, MNIST_BATCH)
_JUDGE_CONFIG = (('init', 'seed'), ('learning_rate', 1e-3), ('warmup', 0.0))
_REFERENCE_ACCURACY = _quality('reference_accuracy', 0.97, max_regression=1.0)


def _gan(name: str, description: str, conditional: bool, epochs: int,
         gates: Tuple[Gate, ...]) -> ModelSpec:
  """A GAN on all of MNIST, judged by a reference mlp (gated itself at accuracy 0.97).

  Fast mode keeps the real gates, since a gate lowered until a few thousand steps' blurry
  strokes pass would gate nothing (docs/gans.md): `--fast` runs the whole pipeline in a few
  minutes and ends, correctly, unblessed with nothing pushed (exit 3); the judge there trains
  500 steps on the 10,000 images and must read 0.9 of the 1,000 eval images.
  """
  return ModelSpec(
      name=name, description=description,
      source=TfdsSource(dataset='mnist:3.0.1', schema='schemas/mnist/schema.pbtxt'),
      task='generation', features=('image',) + (('label',) if conditional else ()),
      label='label', gates=gates + (_REFERENCE_ACCURACY,),
      train_steps=_epochs(epochs, MNIST_BATCH), batch_size=MNIST_BATCH, materialize=False,
      label_via_transform=False, evaluator='quality', generative=True,
      reference_model=_MLP.name, reference_steps=_JUDGE_STEPS, reference_config=_JUDGE_CONFIG,
      fast=FastMode(train_split='train[:10000]', eval_split='test[:1000]', train_steps=1000,
                    reference_steps=500,
                    gates=gates + (_quality('reference_accuracy', 0.9, max_regression=1.0),)))


# --tune on the small CSVs: 6 trials of the full run's 100 steps on the whole table, the seed's
# protocol (trained and evaluated on the same rows).
_ROWS_TUNE = TuneMode(trials=6, train_steps=100)
_ANIMALS = CsvSource(path='animals.csv', schema='schemas/animals/schema.pbtxt')
_LETTERS = 'lowercase letters a-z'
_ALL_SIX_RIGHT = _accuracy(1.0, max_regression=0.0, per_class=1.0)  # every species too

REGISTRY: Dict[str, ModelSpec] = {
    spec.name: spec for spec in [
        ModelSpec(
            name='linear',
            description='linear regression y = W*x + b on x=[1,2,3] -> y=[1,2,3]',
            source=CsvSource(path='linear.csv', schema='schemas/linear/schema.pbtxt'),
            task='regression', features=('x',), label='y',
            gates=(Gate(metric='MeanSquaredError', key='mean_squared_error', bound=1e-3,
                        higher_is_better=False, max_regression=1e-3),),
            train_steps=300, batch_size=3),  # the whole table, as in the seed
        ModelSpec(
            name='classifier',
            description='animal classifier: fur, wings -> other/mammal/bird, one softmax layer',
            source=_ANIMALS, task='classification', features=('fur', 'wings'),
            label='species', gates=(_ALL_SIX_RIGHT,), train_steps=100,
            batch_size=6),  # the whole table, as in the seed
        ModelSpec(
            name='dnn',
            description='deep network 2->10->20->3 on the animals CSV',
            source=_ANIMALS, task='classification', features=('fur', 'wings'),
            label='species', gates=(_ALL_SIX_RIGHT,), train_steps=100, batch_size=6,
            tune=_ROWS_TUNE),
        _MLP,
        _mnist('mlp_dropout', 'MNIST MLP with dropout (keep 0.8)', 0.98, 0.96, epochs=10),
        _mnist('mlp_bn', 'MNIST MLP with batch normalization', 0.98, 0.96, epochs=6),
        _mnist('cnn', 'MNIST CNN conv32-pool-conv64-pool-dense256-dropout', 0.99, 0.98,
               epochs=4, batch_size=250, tunable=True),
        _mnist('rnn', 'MNIST rows as 28 steps, RNN cell 128', 0.97, 0.95, epochs=10,
               batch_size=128),
        ModelSpec(
            name='autoencoder',
            description='MNIST autoencoder 784 -> 256 -> 784, sigmoid',
            source=TfdsSource(dataset='mnist:3.0.1', schema='schemas/mnist/schema.pbtxt'),
            task='reconstruction', features=('image',), label='label',
            # Mean squared error per pixel (pixels in [0, 1]) on the 10,000 test images: a
            # bound a fully trained model passes with room for noise and an undertrained one
            # does not (docs/models.md).
            gates=(_mse(0.008, max_regression=0.0005),),
            train_steps=_epochs(20, MNIST_BATCH), batch_size=MNIST_BATCH, materialize=False,
            label_via_transform=False, evaluator='quality',
            # 1,000 steps, where the 200 of the classifiers' fast mode learn next to nothing.
            fast=FastMode(train_split='train[:2000]', eval_split='test[:1000]', train_steps=1000,
                          gates=(_mse(0.03, max_regression=1.0),))),
        _gan('gan', 'MNIST GAN: noise -> a digit image, MLP generator and discriminator',
             conditional=False, epochs=40,
             # All ten digits present: the rarest is at least 5% of the samples (uniform
             # would be 10%); and most samples are digits the judge reads with confidence.
             gates=(_quality('min_digit_share', 0.05, max_regression=0.03),
                    _quality('confident_share', 0.8, max_regression=0.05))),
        _gan('cgan', 'MNIST conditional GAN: noise + digit -> that digit, projection '
             'discriminator', conditional=True, epochs=30,
             # Asked for digit d, at least 90% of samples read as d, for every d.
             gates=(_quality('min_digit_agreement', 0.9, max_regression=0.03),)),
        ModelSpec(
            name='autocomplete',
            description="word autocomplete: a word's first 3 letters -> the 4th, 2-layer LSTM 128",
            source=CsvSource(path='words.csv', schema='schemas/words/schema.pbtxt',
                             rules=(CharRule('word', '[a-z]', _LETTERS, 4, 4),)),
            task='classification', features=('word',), label='next',
            # 100 steps, not the seed's 30, which did not always complete every word
            # (docs/models.md); the nine words are one batch, as in the seed.
            gates=(_accuracy(1.0, max_regression=0.0, per_class=1.0),), train_steps=100,
            batch_size=9, tune=_ROWS_TUNE,
            word_input=True),
        ModelSpec(
            name='seq2seq',
            description='word translation English -> Korean, encoder/decoder RNN 128',
            # Lengths: models/seq2seq's MAX_SOURCE and MAX_TARGET.
            source=CsvSource(path='translations.csv', schema='schemas/translations/schema.pbtxt',
                             rules=(CharRule('english', '[a-z]', _LETTERS, 1, 8),
                                    CharRule('korean', '[가-힣]', 'Hangul syllables 가-힣', 1, 8))),
            task='translation', features=('english',), label='korean',
            gates=(Gate(metric='exact_match', key='exact_match', bound=1.0,
                        higher_is_better=True),),
            train_steps=100, batch_size=6,  # the six pairs are one batch, as in the seed
            evaluator='quality', word_input=True),
    ]
}

_NAME_RE = re.compile(r'^[a-z][a-z0-9_]*$')


def get_spec(name: str) -> ModelSpec:
  """Returns the spec for `name`, refusing anything that is not a registered model name."""
  valid = ', '.join(sorted(REGISTRY))
  if not _NAME_RE.match(name or ''):
    raise UnknownModelError(f'invalid MODEL {name!r}: must be one of {valid}')
  if name not in REGISTRY:
    raise UnknownModelError(f'unknown MODEL {name!r}: must be one of {valid}')
  return REGISTRY[name]


def tunable() -> Tuple[str, ...]:
  """The models `--tune` can search: those with a Tuner budget (their module has tuner_fn)."""
  return tuple(name for name, spec in REGISTRY.items() if spec.tune)


def pipeline_spec(pipeline: str) -> ModelSpec:
  """The spec behind a pipeline name: a model (`cnn`) or a model's fast mode (`cnn_fast`)."""
  base = pipeline[:-len('_fast')] if pipeline.endswith('_fast') else None
  if base and base in REGISTRY and REGISTRY[base].fast is not None:
    return fast_spec(REGISTRY[base])
  return get_spec(pipeline)
