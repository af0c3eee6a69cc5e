"""One contract for every model module (models/common/contract.py): each builds through
the one build_model signature."""
from __future__ import annotations


import keras
import pytest
import tensorflow_transform as tft

from model_helpers import MNIST_MODELS, build, module_of, transform_output
from pipelines import factory, registry


@pytest.mark.parametrize('name', sorted(registry.REGISTRY))
def test_every_module_builds_through_the_one_contract(name, mnist_data):
  """build_model(tf_transform_output, config, train_steps) in every module: a compiled Keras
  model; the MNIST classifiers decay their rate over exactly the run's steps (after cnn's
  warm-up), the others keep a constant one; no module holds a batch size of its own (the
  spec's is)."""
  spec = registry.get_spec(name)
  module = module_of(spec)
  tf_transform_output = tft.TFTransformOutput(transform_output(name))
  model = build(spec, tf_transform_output, train_steps=spec.train_steps)
  assert isinstance(model, keras.Model) and model.compiled
  # The GANs' own two optimizers (compile() gives Keras' unused default a place too).
  optimizers = ([model.d_optimizer, model.g_optimizer] if spec.generative
                else [model.optimizer])
  rates = [o.get_config()['learning_rate'] for o in optimizers]
  for rate in rates:
    if name in MNIST_MODELS:  # the classifiers
      # cnn's one-cycle: a warm-up over its module's WARMUP share of the steps, then the decay.
      config = rate['config']
      assert rate['class_name'] == 'CosineDecay', rate
      assert config['warmup_steps'] == int(spec.train_steps * getattr(module, 'WARMUP', 0))
      assert config['decay_steps'] + config['warmup_steps'] == spec.train_steps
    else:
      assert isinstance(rate, float), rate
  assert not hasattr(module, 'BATCH_SIZE')
  assert factory.module_config(spec)['batch_size'] == spec.batch_size
