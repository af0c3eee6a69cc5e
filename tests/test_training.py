"""The Trainers' shared plumbing (models/common/training.py): the one-cycle schedule, the choice
of precision by the CPU, and cnn trained in mixed bfloat16 but exported as float32, checked
through TF Serving's loader."""
from __future__ import annotations

import json
import os
import types

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_transform as tft

from components.infra_validator.session_loader import ServingSession
from conftest import REPO, run_tfzoo
from components.resumable_trainer import keys
from model_helpers import build, examples_split, read_mnist_rows, transform_output
from models.cnn import cnn_module
from models.common import export, images, training
from pipelines import factory, registry
from serving_helpers import has_bfloat16_ops, serialized_examples


def test_one_cycle_rises_to_the_peak_then_decays_to_zero():
  rate = training.learning_rate(3e-3, 100, warmup=0.2)
  values = [float(rate(step)) for step in range(101)]
  assert values[0] == pytest.approx(3e-4)
  assert values[20] == pytest.approx(3e-3) == max(values)
  assert values[10] == pytest.approx((3e-4 + 3e-3) / 2)
  assert all(a < b for a, b in zip(values[:20], values[1:21]))  # rising
  assert all(a >= b for a, b in zip(values[20:], values[21:]))  # then falling
  assert values[100] == pytest.approx(0, abs=1e-9)
  plain = training.learning_rate(1e-3, 100)
  assert float(plain(0)) == pytest.approx(1e-3) and float(plain(100)) == pytest.approx(0)
  assert training.learning_rate(1e-3, None, warmup=0.2) == 1e-3


def test_precision_is_bfloat16_only_where_the_cpu_has_it(monkeypatch, tmp_path):
  monkeypatch.delenv(keys.PRECISION_ENV, raising=False)
  monkeypatch.delenv('TF_ENABLE_ONEDNN_OPTS', raising=False)
  assert training.training_precision(frozenset({'avx512f', 'avx512_bf16'})) == 'mixed_bfloat16'
  assert training.training_precision(frozenset({'amx_bf16'})) == 'mixed_bfloat16'
  assert training.training_precision(frozenset({'avx2', 'avx512f', 'avx512_vnni'})) == 'float32'
  assert training.training_precision(frozenset()) == 'float32'
  monkeypatch.setenv('TF_ENABLE_ONEDNN_OPTS', '0')  # no oneDNN: no bfloat16 kernels
  assert training.training_precision(frozenset({'avx512_bf16'})) == 'float32'
  monkeypatch.setenv(keys.PRECISION_ENV, 'mixed_bfloat16')
  assert training.training_precision(frozenset()) == 'mixed_bfloat16'
  monkeypatch.setenv(keys.PRECISION_ENV, 'float32')
  assert training.training_precision(frozenset({'avx512_bf16'})) == 'float32'
  monkeypatch.setenv(keys.PRECISION_ENV, 'half')
  with pytest.raises(ValueError, match="TFZOO_PRECISION='half': expected one of auto, float32, "
                                       'mixed_bfloat16'):
    training.training_precision()

  # `tfzoo run` refuses the bad value before any component runs, in one line.
  result = run_tfzoo(REPO, str(tmp_path / 'home'), 'run', 'cnn', timeout=120,
                     TFZOO_PRECISION='half')
  assert result.returncode == 2, result.stderr
  assert result.stderr.strip() == ("tfzoo: TFZOO_PRECISION='half': expected one of auto, "
                                   'float32, mixed_bfloat16')
  assert not os.path.exists(tmp_path / 'home' / 'logs')

  cpuinfo = tmp_path / 'cpuinfo'
  cpuinfo.write_text('processor\t: 0\nflags\t\t: fpu sse avx512_bf16\n\nprocessor\t: 1\n'
                     'flags\t\t: fpu\n')
  assert training.cpu_flags(str(cpuinfo)) == {'fpu', 'sse', 'avx512_bf16'}
  assert training.cpu_flags(str(tmp_path / 'missing')) == frozenset()


@pytest.mark.parametrize('precision', ['mixed_bfloat16', 'float32'])
def test_cnn_trains_in_the_chosen_precision_and_exports_float32(precision, tmp_path, mnist_data,
                                                                monkeypatch):
  """cnn's run_fn for 4 steps in each precision: the ModelRun's record names it, and the export
  holds float32 only (a bfloat16 export would run emulated, 12x slower, on a CPU without
  bfloat16) and answers through TF Serving's loader."""
  monkeypatch.setenv(keys.PRECISION_ENV, precision)
  spec = registry.get_spec('cnn')
  _, rows = read_mnist_rows(spec, count=20)
  fn_args, files = examples_split(tmp_path, rows)
  model_run_dir = str(tmp_path / 'Trainer' / 'model_run' / '7')
  fn_args = types.SimpleNamespace(
      data_accessor=fn_args.data_accessor, train_files=files, eval_files=files,
      transform_output=transform_output('cnn'), schema_path=None, base_model=None,
      custom_config=dict(factory.module_config(spec), batch_size=5), hyperparameters=None,
      train_steps=4, eval_steps=1, model_run_dir=model_run_dir,
      serving_model_dir=str(tmp_path / 'serving_model'))
  exported = images.train_and_export(fn_args, cnn_module.build_model, seed=cnn_module.SEED,
                                     bfloat16=True)

  with open(os.path.join(model_run_dir, keys.RECORD_FILE), encoding='utf-8') as f:
    assert json.load(f)[keys.PRECISION] == precision
  assert {layer.dtype_policy.compute_dtype for layer in exported.layers} == {'float32'}
  assert not has_bfloat16_ops(fn_args.serving_model_dir)
  with ServingSession(fn_args.serving_model_dir) as session:
    answer = session.run('serving_default', examples=serialized_examples(rows, ['image']))
  np.testing.assert_allclose(answer['probabilities'].sum(axis=1), 1.0, atol=1e-5)
  tf_transform_output = tft.TFTransformOutput(fn_args.transform_output)
  pixels = tf_transform_output.transform_raw_features({
      'image': tf.constant([r['image'] for r in rows]),
      'label': tf.constant([r['label'] for r in rows], tf.int64)})['image_xf']
  np.testing.assert_allclose(answer['probabilities'], exported(pixels).numpy(), atol=1e-5)


def test_a_bfloat16_model_exported_as_it_is_would_hold_bfloat16(tmp_path, mnist_data):
  """What float32_copy prevents (so the check above can fail): the mixed model's own export
  computes in bfloat16; its float32 copy has the same weights and nearly the same answers."""
  tf_transform_output = tft.TFTransformOutput(transform_output('cnn'))
  spec = registry.get_spec('cnn')
  with training.dtype_policy('mixed_bfloat16'):
    mixed = build(spec, tf_transform_output)
  assert mixed.get_layer('conv1').dtype_policy.compute_dtype == 'bfloat16'
  config = dict(factory.module_config(spec), class_names=images.CLASS_NAMES)
  export.save_serving_model(mixed, tf_transform_output, config, str(tmp_path / 'mixed'),
                            raw_inputs=images.raw_image_inputs())
  assert has_bfloat16_ops(str(tmp_path / 'mixed'))
  copy = training.float32_copy(mixed, lambda: build(spec, tf_transform_output))
  assert copy is not mixed and training.float32_copy(copy, None) is copy
  for a, b in zip(mixed.get_weights(), copy.get_weights()):
    np.testing.assert_array_equal(a, b)
  x = tf.random.stateless_uniform([8, 28, 28, 1], seed=(1, 2))
  np.testing.assert_allclose(mixed(x).numpy(), copy(x).numpy(), atol=2e-2)


def test_trainer_input_runs_without_autotuning_and_keeps_its_elements():
  """The MNIST Trainers' input turns tf.data's autotuning off (its sleeping thread delayed
  deleting an iterator by up to a minute), the elements and their order unchanged."""
  data = tf.data.Dataset.range(7).map(lambda x: x * 2, num_parallel_calls=tf.data.AUTOTUNE)
  assert data.options().autotune.enabled is not False
  tuned_off = training.without_autotuning(data.prefetch(tf.data.AUTOTUNE))
  assert tuned_off.options().autotune.enabled is False
  assert list(tuned_off.as_numpy_iterator()) == [0, 2, 4, 6, 8, 10, 12]
  assert training.CORES >= 1
