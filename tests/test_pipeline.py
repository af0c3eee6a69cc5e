"""The registry, the factory's DAG and the CLI's argument handling (no pipeline run here)."""
from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
import time

import pytest
import tensorflow_model_analysis as tfma

from components.drift_validator import load_config
from conftest import REPO
from pipelines import cache_keys, factory, gating, paths, registry, specs
from pipelines.artifacts import evaluation
from pipelines.paths import Paths


def test_unknown_and_path_like_model_names_are_refused():
  with pytest.raises(registry.UnknownModelError, match='must be one of autocomplete, autoencoder, cgan, classifier, cnn, dnn, gan, '):
    registry.get_spec('resnet')
  for bad in ('../classifier', 'classifier/..', '/etc/passwd', 'Classifier', ''):
    with pytest.raises(registry.UnknownModelError, match='invalid MODEL'):
      registry.get_spec(bad)


@pytest.mark.parametrize('name', sorted(registry.REGISTRY))
def test_every_spec_has_its_module_schema_and_data(name):
  spec = registry.get_spec(name)
  if isinstance(spec.source, registry.CsvSource):
    assert os.path.isfile(spec.source.resolve())
  assert os.path.isfile(spec.source.schema_path)
  with open(spec.module_file) as f:
    tree = ast.parse(f.read())
  defined = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
  defined |= {t.id for n in tree.body if isinstance(n, ast.Assign) for t in n.targets
              if isinstance(t, ast.Name)}
  assert {'preprocessing_fn', 'run_fn', 'build_model'} <= defined
  if spec.evaluator == 'quality':
    assert 'evaluate_fn' in defined


def test_eval_config_gates_value_and_change():
  spec = registry.get_spec('linear')
  config = gating.eval_config(spec)
  [model_spec] = config.model_specs
  assert model_spec.label_key == 'y_xf'
  assert list(model_spec.preprocessing_function_names) == ['transform_features']
  [mse] = [m for m in config.metrics_specs[0].metrics if m.class_name == 'MeanSquaredError']
  [mse_gate] = mse.per_slice_thresholds
  assert list(mse_gate.slicing_specs) == [tfma.SlicingSpec()]  # the overall slice only
  assert mse_gate.threshold.value_threshold.upper_bound.value == pytest.approx(1e-3)
  assert mse_gate.threshold.change_threshold.direction == tfma.MetricDirection.LOWER_IS_BETTER
  assert mse_gate.threshold.change_threshold.absolute.value == pytest.approx(1e-3)
  assert list(config.slicing_specs) == [tfma.SlicingSpec()]

  classifier = gating.eval_config(registry.get_spec('classifier'))
  [acc] = [m for m in classifier.metrics_specs[0].metrics
           if m.class_name == 'SparseCategoricalAccuracy']
  acc_gate = acc.per_slice_thresholds[0]
  assert list(acc_gate.slicing_specs) == [tfma.SlicingSpec()]
  assert acc_gate.threshold.value_threshold.lower_bound.value == 1.0
  assert acc_gate.threshold.change_threshold.direction == tfma.MetricDirection.HIGHER_IS_BETTER
  assert -1e-6 < acc_gate.threshold.change_threshold.absolute.value < 0
  # ... and every species (the per-class gate, on the label's slices).
  [per_class] = [t for t in acc.per_slice_thresholds if t is not acc_gate]
  assert [list(s.feature_keys) for s in per_class.slicing_specs] == [['species']]
  assert per_class.threshold.value_threshold.lower_bound.value == 1.0
  assert not per_class.threshold.HasField('change_threshold')
  # Classifiers are also evaluated per class, with the confusion matrix.
  assert [list(s.feature_keys) for s in classifier.slicing_specs] == [[], ['species']]
  assert 'MultiClassConfusionMatrixPlot' in [
      m.class_name for m in classifier.metrics_specs[0].metrics]


def test_pipeline_has_the_components_in_order(tmp_path):
  spec = registry.get_spec('classifier')
  pipeline = factory.create_pipeline(spec, Paths(str(tmp_path)), beam_args=['--foo=1'])
  ids = [c.id for c in pipeline.components]
  order = ['CsvExampleGen', 'StatisticsGen', 'ImportSchemaGen', 'ExampleValidator',
           'drift_baseline_resolver', 'DriftValidator', 'Transform', 'Trainer', 'baseline_resolver', 'Evaluator', 'InfraValidator', 'Pusher']
  assert sorted(ids) == sorted(order)
  # Topological order: every component after the ones it consumes.
  position = {c.id: i for i, c in enumerate(pipeline.components)}
  for component in pipeline.components:
    for upstream in component.upstream_nodes:
      assert position[upstream.id] < position[component.id], (upstream.id, component.id)
  # The validators gate everything that fits on the data (Transform, hence Trainer).
  transform = next(c for c in pipeline.components if c.id == 'Transform')
  assert {'ExampleValidator', 'DriftValidator'} <= {u.id for u in transform.upstream_nodes}
  # The drift check: this run's statistics (computed with the curated schema) against those
  # the resolver finds for the served model; the spec's thresholds; accept_drift only if asked.
  drift = next(c for c in pipeline.components if c.id == 'DriftValidator')
  statistics_gen = next(c for c in pipeline.components if c.id == 'StatisticsGen')
  assert drift.inputs['statistics'] is statistics_gen.outputs['statistics']
  assert {u.id for u in statistics_gen.upstream_nodes} == {'CsvExampleGen', 'ImportSchemaGen'}
  assert {u.id for u in drift.upstream_nodes} == {'StatisticsGen', 'drift_baseline_resolver',
                                                 'ExampleValidator'}
  assert drift.exec_properties['distribution_validator_config'] == load_config(
      spec.source.drift_path)
  assert drift.exec_properties.get('accept_drift') is None
  accepting = factory.create_pipeline(spec, Paths(str(tmp_path)), accept_drift=True)
  assert next(c for c in accepting.components
              if c.id == 'DriftValidator').exec_properties['accept_drift'] == 1
  validator = next(c for c in pipeline.components if c.id == 'ExampleValidator')
  assert type(validator).__name__ == 'StrictExampleValidator'
  assert type(next(c for c in pipeline.components if c.id == 'Pusher')).__name__ == 'AtomicPusher'
  # The schema is imported from a copy named by its content, so editing it busts the cache.
  schema_file = next(c for c in pipeline.components
                     if c.id == 'ImportSchemaGen').exec_properties['schema_file']
  with open(schema_file, 'rb') as a, open(spec.source.schema_path, 'rb') as b:
    assert a.read() == b.read()
  assert schema_file.startswith(str(tmp_path / 'schemas' / 'classifier'))
  assert pipeline.beam_pipeline_args == ['--foo=1']
  assert pipeline.pipeline_info.pipeline_root == os.path.join(str(tmp_path), 'pipelines',
                                                              'classifier')
  trainer = next(c for c in pipeline.components if c.id == 'Trainer')
  pusher = next(c for c in pipeline.components if c.id == 'Pusher')
  assert 'code' in trainer.exec_properties['custom_config']
  # The module files are imported where they are: no wheel to build or pip-install per run,
  # and TFX's switch is not left set for the rest of the process.
  for component in (transform, trainer):
    assert component.exec_properties['module_file'] == spec.module_file
    assert component._pip_dependencies == []  # pylint: disable=protected-access
  assert 'UNSUPPORTED_DO_NOT_PACKAGE_USER_MODULES' not in os.environ
  # A push needs both blessings: the Evaluator's and TF Serving's loader's (InfraValidator).
  infra = next(c for c in pipeline.components if c.id == 'InfraValidator')
  assert type(infra).__name__ == 'ServingInfraValidator'
  assert {u.id for u in pusher.upstream_nodes} == {'Trainer', 'Evaluator', 'InfraValidator'}
  assert {u.id for u in infra.upstream_nodes} == {'Trainer', 'CsvExampleGen'}
  assert pusher.inputs['infra_blessing'] is infra.outputs['blessing']
  assert str(tmp_path / 'serving' / 'classifier') in pusher.exec_properties['push_destination']


def test_code_change_changes_the_cache_key(tmp_path, monkeypatch):
  """TFX hashes only the module file's folder; a change in models/common (or the serving
  loader) must still reach Transform's and Trainer's exec properties, and so their cache key
  and the resume key of a killed Trainer, as a change in the model's own folder does."""
  common = tmp_path / 'common'
  shutil.copytree(cache_keys.SHARED_CODE_DIR, common,
                  ignore=shutil.ignore_patterns('__pycache__'))
  monkeypatch.setattr(cache_keys, 'SHARED_CODE_DIR', str(common))
  before = factory.module_config(registry.get_spec('classifier'))
  with open(common / 'training.py', 'a') as f:
    f.write('\n# a change\n')
  after = factory.module_config(registry.get_spec('classifier'))
  assert before['code'] != after['code']
  assert {k: v for k, v in before.items() if k != 'code'} == \
         {k: v for k, v in after.items() if k != 'code'}
  # The serving loader the Trainer's pictures and the evaluations call counts too.
  loader = tmp_path / 'session_loader.py'
  shutil.copy(cache_keys.LOADER_FILES[0], loader)
  monkeypatch.setattr(cache_keys, 'LOADER_FILES', (str(loader),) + cache_keys.LOADER_FILES[1:])
  unchanged = factory.module_config(registry.get_spec('classifier'))['code']
  quality = cache_keys.module_fingerprint(registry.get_spec('seq2seq'))
  assert unchanged == after['code']
  with open(loader, 'a') as f:
    f.write('\n# a change\n')
  changed = factory.module_config(registry.get_spec('classifier'))['code']
  assert changed != unchanged
  assert cache_keys.module_fingerprint(registry.get_spec('seq2seq')) != quality
  # And the model's own folder: another model's code is another key.
  models = tmp_path / 'models'
  shutil.copytree(os.path.join(cache_keys.MODELS_DIR, 'classifier'), models / 'classifier',
                  ignore=shutil.ignore_patterns('__pycache__'))
  monkeypatch.setattr(specs, 'MODELS_DIR', str(models))
  assert factory.module_config(registry.get_spec('classifier'))['code'] == changed
  with open(models / 'classifier' / 'classifier_module.py', 'a') as f:
    f.write('\n# a change\n')
  assert factory.module_config(registry.get_spec('classifier'))['code'] != changed


def test_quality_gates_bound_and_baseline():
  from components.quality_evaluator import QualityGate, check_gates  # pylint: disable=g-import-not-at-top
  exact = QualityGate('exact_match', bound=1.0, higher_is_better=True)
  mse = QualityGate('mse', bound=0.02, higher_is_better=False, max_regression=0.001)
  [ok] = check_gates([exact], {'exact_match': 1.0}, None)
  assert ok['passed'] and ok['threshold'] == '>= 1'
  [miss] = check_gates([exact], {'exact_match': 5 / 6}, None)
  assert not miss['passed'] and miss['reason'] == '0.833333 misses the bound >= 1'
  [gone] = check_gates([exact], {}, None)
  assert not gone['passed'] and gone['value'] is None
  # Lower is better: within the bound, but worse than the blessed baseline by more than allowed.
  [worse] = check_gates([mse], {'mse': 0.015}, {'mse': 0.010})
  assert not worse['passed'] and 'worse than the blessed baseline 0.01' in worse['reason']
  [slightly] = check_gates([mse], {'mse': 0.0105}, {'mse': 0.010})
  assert slightly['passed'] and 'no worse than the blessed baseline (0.01)' in slightly['threshold']


def test_seq2seq_is_gated_by_the_quality_evaluator(tmp_path, monkeypatch):
  """TFMA cannot judge a generated word: seq2seq's Evaluator is the QualityEvaluator, with
  its gate from the registry, and its cache key follows the module's code, not its path."""
  import json  # pylint: disable=g-import-not-at-top
  spec = registry.get_spec('seq2seq')
  pipeline = factory.create_pipeline(spec, Paths(str(tmp_path)))
  evaluator = next(c for c in pipeline.components if c.id == 'Evaluator')
  assert type(evaluator).__name__ == 'QualityEvaluator'
  assert json.loads(evaluator.exec_properties['gates']) == [
      {'metric': 'exact_match', 'bound': 1.0, 'higher_is_better': True, 'max_regression': 0.0}]
  pusher = next(c for c in pipeline.components if c.id == 'Pusher')
  assert pusher.inputs['model_blessing'] is evaluator.outputs['blessing']
  assert 'baseline_resolver' in {u.id for u in evaluator.upstream_nodes}

  models = tmp_path / 'models'
  shutil.copytree(paths.MODELS_DIR, models, ignore=shutil.ignore_patterns('__pycache__'))
  monkeypatch.setattr(specs, 'MODELS_DIR', str(models))
  before = cache_keys.module_fingerprint(spec)
  with open(models / 'seq2seq' / 'seq2seq_module.py', 'a') as f:
    f.write('\n# evaluate_fn changed\n')
  assert cache_keys.module_fingerprint(spec) != before


@pytest.mark.parametrize('name', ['gan', 'cgan'])
def test_gans_train_their_judge_beside_them(name, tmp_path):
  """A GAN pipeline trains the mlp (its own module, the same examples and Transform graph)
  as ReferenceTrainer and hands its model to the QualityEvaluator; fast mode slices the
  judge's data with the GAN's and keeps the real gate on the samples."""
  import json  # pylint: disable=g-import-not-at-top
  spec = registry.get_spec(name)
  pipeline = factory.create_pipeline(spec, Paths(str(tmp_path)))
  nodes = {c.id: c for c in pipeline.components}
  reference, trainer, evaluator = (nodes[n] for n in ('ReferenceTrainer', 'Trainer',
                                                      'Evaluator'))
  assert reference.exec_properties['module_file'] == registry.get_spec('mlp').module_file
  assert trainer.exec_properties['module_file'] == spec.module_file
  config = json.loads(reference.exec_properties['custom_config'])
  assert config['model'] == 'mlp'
  # the judge is the mlp's network on its previous recipe, fixed: the seed's weights and
  # Adam from 1e-3 without warm-up for 15 epochs of 100, while the mlp pipeline itself trains
  # from He-normal weights along a one-cycle rate for 3
  assert (config['init'], config['learning_rate'], config['warmup']) == ('seed', 1e-3, 0.0)
  assert not {'init', 'learning_rate', 'warmup'} & set(
      json.loads(nodes['Trainer'].exec_properties['custom_config']))
  assert json.loads(reference.exec_properties['train_args'])['num_steps'] == 9000
  assert registry.get_spec('mlp').train_steps == 1800
  assert reference.inputs['examples'] is trainer.inputs['examples']
  assert reference.inputs['transform_graph'] is trainer.inputs['transform_graph']
  assert evaluator.inputs['reference_model'] is reference.outputs['model']
  assert evaluator.inputs['model'] is trainer.outputs['model']
  gates = {g['metric']: g['bound'] for g in json.loads(evaluator.exec_properties['gates'])}
  assert gates['reference_accuracy'] == 0.97
  assert gates['min_digit_agreement' if name == 'cgan' else 'min_digit_share'] == (
      0.9 if name == 'cgan' else 0.05)

  fast = registry.fast_spec(spec)
  assert fast.reference_steps == 500 and fast.train_steps == 1000
  assert fast.gates[0] == spec.gates[0]  # the real gate: fast GANs are (rightly) refused
  assert 'ReferenceTrainer' not in {c.id for c in factory.create_pipeline(
      registry.get_spec('mlp'), Paths(str(tmp_path))).components}


VALID = ('autocomplete, autoencoder, cgan, classifier, cnn, dnn, gan, linear, mlp, mlp_bn, '
         'mlp_dropout, rnn, seq2seq')


def test_fast_mode_is_its_own_pipeline_with_sliced_data_and_a_lower_gate():
  spec = registry.get_spec('cnn')
  fast = registry.fast_spec(spec)
  assert fast.name == 'cnn_fast' and fast.module_file == spec.module_file
  assert (fast.source.train_split, fast.source.eval_split) == ('train[:2000]', 'test[:1000]')
  assert fast.train_steps < spec.train_steps
  assert fast.gates[0].bound < spec.gates[0].bound == 0.99


def _cli(*args: str) -> subprocess.CompletedProcess:
  return subprocess.run([sys.executable, '-m', 'pipelines.cli', *args], cwd=REPO,
                        capture_output=True, text=True, timeout=120)


def test_cli_refuses_bad_arguments_fast_with_one_line():
  started = time.time()
  cases = {
      ('run', 'resnet'): "tfzoo: unknown MODEL 'resnet': must be one of " + VALID,
      ('run', '../x'): "tfzoo: invalid MODEL '../x': must be one of " + VALID,
      ('run', 'cnn', '--data', 'x.csv'):
          'tfzoo: --data is for CSV models; cnn reads TFDS dataset mnist:3.0.1',
      ('run', 'linear', '--fast'):
          "tfzoo: MODEL 'linear' has no fast mode (it is already small)",
      ('predict', 'resnet', 'digit.png'): "tfzoo: unknown MODEL 'resnet': must be one of " + VALID,
      ('run', 'classifier', '--gate', 'auc=0.5'):
          "tfzoo: --gate 'auc=0.5': expected METRIC=BOUND with METRIC one of "
          'sparse_categorical_accuracy',
      ('run', 'classifier', '--train-steps', '0'):
          'tfzoo: --train-steps must be a positive integer, got 0',
  }
  for args, message in cases.items():
    result = _cli(*args)
    assert result.returncode == 2, (args, result.stderr)
    assert result.stderr.strip() == message
  # Refused before TensorFlow/TFX are imported.
  assert time.time() - started < 5 * len(cases)


@pytest.mark.parametrize('thread', [False, True])
def test_cli_exit_skips_pythons_teardown_after_tensorflow(tmp_path, thread):
  """`tfzoo`'s exit (pipelines.cli.exit_process): with TensorFlow loaded, the status, what
  was printed and the exit handlers' work reach the caller, and the process ends there, without
  unwinding into Python's shutdown (no `finally` after it runs); a thread Python would wait
  for gets the ordinary exit (SystemExit), and the thread finishes."""
  code = f"""
import atexit, threading, time
import tensorflow
from pipelines.cli import exit_process
atexit.register(lambda: open({str(tmp_path / 'exit_handler')!r}, 'w').close())
def finish():
  time.sleep(1)
  open({str(tmp_path / 'thread')!r}, 'w').close()
if {thread}:
  threading.Thread(target=finish).start()
print('said', end='')
try:
  exit_process(3)
finally:
  print(' and unwound', end='')
"""
  result = subprocess.run([sys.executable, '-c', code], cwd=REPO, capture_output=True,
                          text=True, timeout=120)
  assert result.returncode == 3, result.stderr
  assert result.stdout == ('said and unwound' if thread else 'said')
  assert (tmp_path / 'exit_handler').exists()
  assert (tmp_path / 'thread').exists() is thread


def test_cli_lists_models():
  result = _cli('list')
  assert result.returncode == 0
  assert [line.split()[0] for line in result.stdout.splitlines()] == list(registry.REGISTRY)


def test_metric_names_follow_tfma():
  assert evaluation.metric_name('SparseCategoricalAccuracy') == 'sparse_categorical_accuracy'
  assert evaluation.metric_name('MeanSquaredError') == 'mean_squared_error'
  for spec in registry.REGISTRY.values():
    for gate in spec.gates:
      assert evaluation.metric_name(gate.metric) == gate.key


def test_accuracy_gate_is_read_off_the_confusion_matrix_in_one_pass():
  """The accuracy TFMA gates on is ours (pipelines/tfma_metrics.py): the same value as Keras's
  metric of that name, ties included, computed from the confusion matrix the report draws, so
  TFMA makes one pass over the examples for both."""
  import keras
  import numpy as np
  from tensorflow_model_analysis.evaluators import metrics_plots_and_validations_evaluator as mpv
  from tensorflow_model_analysis.metrics import metric_specs, metric_types

  from pipelines import tfma_metrics

  config = gating.eval_config(registry.get_spec('mlp'))
  [accuracy] = [m for m in config.metrics_specs[0].metrics
                if m.class_name == 'SparseCategoricalAccuracy']
  assert accuracy.module == 'pipelines.tfma_metrics'
  computations = mpv._filter_and_separate_computations(  # pylint: disable=protected-access
      metric_specs.to_computations(config.metrics_specs, eval_config=config))
  combiners = [type(c.combiner).__name__ for c in computations.non_derived_computations]
  assert sorted(combiners) == ['_ExampleCountCombiner', '_MultiClassConfusionMatrixCombiner']

  rng = np.random.default_rng(0)
  labels = rng.integers(0, 4, size=200)
  probabilities = rng.dirichlet(np.ones(4), size=200)
  probabilities[:20] = [0.4, 0.4, 0.1, 0.1]  # ties: the lower class is the prediction
  labels[:10] = 1
  [matrices, derived] = tfma_metrics.SparseCategoricalAccuracy().computations(
      eval_config=config)
  combiner = matrices.combiner
  accumulator = combiner.create_accumulator()
  for label, prediction in zip(labels, probabilities):
    accumulator = combiner.add_input(accumulator, metric_types.StandardMetricInputs(
        labels=np.array([label]), predictions=prediction, example_weights=np.array([1.0])))
  [value] = derived.result(combiner.extract_output(accumulator)).values()
  keras_metric = keras.metrics.SparseCategoricalAccuracy()
  keras_metric.update_state(labels, probabilities)
  assert value == pytest.approx(float(keras_metric.result()), abs=1e-7)
  assert value == pytest.approx(float(np.mean(np.argmax(probabilities, axis=1) == labels)))
  assert 0.1 < value < 0.4  # random probabilities, ties wrong: under a quarter, not a constant
  assert tfma_metrics.accuracy_of({}) is None


def test_components_depend_on_nothing_command_line_side():
  """Components run in Kubeflow pods and TFX's executors without the CLI: none imports
  pipelines/ (the CLI side imports components, not the other way round)."""
  import ast  # pylint: disable=g-import-not-at-top
  root = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'components')
  offenders = []
  for folder, _, files in os.walk(root):
    for name in files:
      if not name.endswith('.py'):
        continue
      path = os.path.join(folder, name)
      with open(path, encoding='utf-8') as f:
        tree = ast.parse(f.read())
      for node in ast.walk(tree):
        modules = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                   [node.module or ''] if isinstance(node, ast.ImportFrom) else [])
        offenders += [f'{os.path.relpath(path, root)}: {m}' for m in modules
                      if m == 'pipelines' or m.startswith('pipelines.')]
  assert offenders == []


def test_the_cheap_layer_imports_no_tensorflow():
  """What every command loads before it knows what to do (the specs, the registry, paths, the
  CSV pre-flight, the CLI's parser and dispatch, the record readers) imports neither
  TensorFlow nor TFX, so a mistyped command answers in well under a second."""
  cheap = ['pipelines.specs', 'pipelines.registry', 'pipelines.paths', 'pipelines.datafile',
           'pipelines.cli', 'pipelines.cli.parser', 'pipelines.cli.common', 'pipelines.cli.run',
           'pipelines.cli.score', 'pipelines.cli.records', 'pipelines.cli.versions',
           'pipelines.mlmd.summary', 'pipelines.mlmd.inspection', 'pipelines.mlmd.runlock',
           'pipelines.mlmd.pushes', 'components.atomic_pusher',
           'pipelines.serving.server', 'pipelines.serving.requests',
           'components.infra_validator.session_loader',
           'components.image_example_gen.images', 'components.strict_example_validator',
           'components.quality_evaluator', 'pipelines.cli.report', 'pipelines.report',
           'pipelines.artifacts.evaluation', 'pipelines.artifacts.data',
           'pipelines.artifacts.training', 'pipelines.mlmd.manifest']
  code = ('import sys\n' + ''.join(f'import {m}\n' for m in cheap) +
          'print(sorted(m for m in ("tensorflow", "tfx", "tensorflow_model_analysis") '
          'if m in sys.modules))')
  done = subprocess.run([sys.executable, '-c', code], cwd=REPO, capture_output=True, text=True,
                        env=dict(os.environ, PYTHONPATH=REPO), timeout=120)
  assert done.returncode == 0, done.stderr
  assert done.stdout.strip() == '[]', done.stdout


def test_make_hands_names_to_tfzoo_unspliced(tmp_path):
  """MODEL, VERSION, DATA, INPUT reach tfzoo through the environment: a value with quotes and
  a command in it is one argument, refused as a model name, never run by the shell; a path
  that climbs out of the work directory is refused before a path is made of it."""
  marker = tmp_path / 'ran'
  env = dict(os.environ, TFZOO_HOME=str(tmp_path / 'home'))
  for variable, value in (('MODEL', f"x'; touch {marker}; '"), ('MODEL', f'`touch {marker}`'),
                          ('MODEL', '../../etc/passwd')):
    done = subprocess.run(['make', '-s', 'runs', f'{variable}={value}'], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode != 0, done.stdout
    [line] = [l for l in done.stderr.splitlines() if l.startswith('tfzoo:')]
    assert line.startswith(f'tfzoo: invalid MODEL {value!r}'), line
  done = subprocess.run(['make', '-s', 'lineage', f'VERSION=";touch {marker};"'], cwd=REPO,
                        env=env, capture_output=True, text=True, timeout=120)
  assert done.returncode != 0
  assert not marker.exists()
