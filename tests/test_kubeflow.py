"""`tfzoo compile-kubeflow`: the Kubeflow Pipelines v2 / Vertex AI spec, its tasks and their
order, the image, and paths inside the image and under the pipeline root."""
from __future__ import annotations

import json
import os

import pytest

from conftest import REPO, run_tfzoo
from pipelines import registry


# --- Kubeflow Pipelines v2 / Vertex AI ------------------------------------------------------

IMAGE = 'europe-docker.pkg.dev/my-project/tfzoo/tfzoo:1.0'
ROOT = 'gs://my-bucket/tfzoo'
# Each task and the tasks it waits for. TFX's latest-blessed-model resolver compiles to two
# tasks: the latest blessing, then the model it blessed.
DAG = {
    'TfdsExampleGen': [],
    'ImportSchemaGen': [],
    'StatisticsGen': ['ImportSchemaGen', 'TfdsExampleGen'],
    'ExampleValidator': ['ImportSchemaGen', 'StatisticsGen'],
    'Transform': ['ExampleValidator', 'ImportSchemaGen', 'TfdsExampleGen'],
    'Trainer': ['ImportSchemaGen', 'TfdsExampleGen', 'Transform'],
    'baseline_resolver-model-blessing-resolver': [],
    'baseline_resolver-model-resolver': [],
    'Evaluator': ['TfdsExampleGen', 'Trainer', 'baseline_resolver-model-resolver'],
    'InfraValidator': ['TfdsExampleGen', 'Trainer'],
    'Pusher': ['Evaluator', 'InfraValidator', 'Trainer'],
}


@pytest.fixture(scope='module')
def cnn_spec(project, tmp_path_factory):
  home = str(tmp_path_factory.mktemp('kubeflow'))
  result = run_tfzoo(project, home, 'compile-kubeflow', 'cnn', '--image', IMAGE,
                     '--pipeline-root', ROOT, '--beam-arg=--region=europe-west4', timeout=300,
                     BEAM_ARGS='--runner=DataflowRunner --project=my-project')
  assert result.returncode == 0, result.stdout + result.stderr
  path = os.path.join(home, 'kubeflow', 'cnn_pipeline.json')
  with open(path) as f:
    text = f.read()
  return {'stdout': result.stdout, 'text': text, 'job': json.loads(text), 'project': project}


def _parameter(task: dict, name: str) -> str:
  return task['inputs']['parameters'][name]['runtimeValue']['constantValue']['stringValue']


def test_compile_kubeflow_tasks_and_their_order(cnn_spec):
  from pipelines import kubeflow  # pylint: disable=g-import-not-at-top
  job = cnn_spec['job']
  spec = job['pipelineSpec']
  assert spec['pipelineInfo']['name'] == 'cnn'
  tasks = spec['root']['dag']['tasks']
  assert {name: sorted(task.get('dependentTasks', [])) for name, task in tasks.items()} == DAG
  # The model resolver reads the blessing the first resolver found.
  model_resolver = tasks['baseline_resolver-model-resolver']
  assert model_resolver['inputs']['artifacts']['input']['taskOutputArtifact']['producerTask'] == (
      'baseline_resolver-model-blessing-resolver')
  evaluator_baseline = tasks['Evaluator']['inputs']['artifacts']['baseline_model']
  assert evaluator_baseline['taskOutputArtifact']['producerTask'] == (
      'baseline_resolver-model-resolver')
  order = kubeflow.task_order(job)
  assert order.index('Transform') > order.index('ExampleValidator')
  assert order.index('Pusher') == len(order) - 1
  assert cnn_spec['stdout'].splitlines()[-1] == 'tfzoo: 11 tasks: ' + ', '.join(order)


def test_compile_kubeflow_runs_everything_from_the_image_and_the_pipeline_root(cnn_spec):
  job, text = cnn_spec['job'], cnn_spec['text']
  tasks = job['pipelineSpec']['root']['dag']['tasks']
  executors = job['pipelineSpec']['deploymentSpec']['executors']
  containers = {name[:-len('_executor')]: e['container'] for name, e in executors.items()
                if 'container' in e}
  assert set(containers) == set(DAG) - {'baseline_resolver-model-blessing-resolver',
                                        'baseline_resolver-model-resolver'}
  assert {c['image'] for c in containers.values()} == {IMAGE}
  # The custom components run their own executors, from the project installed in the image.
  executor_class = {name: c['args'][c['args'].index('--executor_class_path') + 1]
                    for name, c in containers.items()}
  assert executor_class['TfdsExampleGen'] == 'components.tfds_example_gen.executor.Executor'
  assert executor_class['ExampleValidator'] == (
      'components.strict_example_validator.executor.Executor')
  assert executor_class['Pusher'] == 'components.atomic_pusher.executor.Executor'
  assert executor_class['InfraValidator'] == 'components.infra_validator.executor.Executor'
  assert executor_class['Trainer'] == 'components.resumable_trainer.executor.Executor'
  # BEAM_ARGS and --beam-arg reach the tasks (e.g. Dataflow for the Beam-based components).
  args = containers['StatisticsGen']['args']
  assert args[-3:] == ['--runner=DataflowRunner', '--project=my-project', '--region=europe-west4']
  # Files of the project: paths inside the image (the Dockerfile's /tfzoo).
  for name in ('Transform', 'Trainer'):
    assert _parameter(tasks[name], 'module_file') == '/tfzoo/models/cnn/cnn_module.py'
  assert _parameter(tasks['ImportSchemaGen'], 'schema_file') == (
      '/tfzoo/data/schemas/mnist/schema.pbtxt')
  # What runs write: under the pipeline root.
  assert job['runtimeConfig']['gcsOutputDirectory'] == f'{ROOT}/pipelines/cnn'
  assert _parameter(tasks['TfdsExampleGen'], 'data_dir') == f'{ROOT}/tensorflow_datasets'
  assert json.loads(_parameter(tasks['Pusher'], 'push_destination')) == {
      'filesystem': {'base_directory': f'{ROOT}/serving/cnn'}}
  # Nothing of this machine: no checkout path, no SQLite store, no wheels built here.
  assert cnn_spec['project'] not in text and REPO not in text
  assert 'sqlite' not in text and '_wheels' not in text
  resolvers = {name: e['resolver'] for name, e in executors.items() if 'resolver' in e}
  assert 'tfx.ModelBlessing' in json.dumps(
      resolvers['baseline_resolver-model-blessing-resolver_executor'])
  assert 'tfx.Model' in json.dumps(resolvers['baseline_resolver-model-resolver_executor'])


def test_compile_kubeflow_quality_evaluator_model(tmp_path, monkeypatch):
  """seq2seq (CSV data, QualityEvaluator): the CSV folder and the evaluator's module file in
  the image, its executor from the project; in process, and TFX's packaging switch is set for
  the compile only."""
  from pipelines import kubeflow  # pylint: disable=g-import-not-at-top
  monkeypatch.delenv('UNSUPPORTED_DO_NOT_PACKAGE_USER_MODULES', raising=False)
  job = kubeflow.compile_pipeline(registry.get_spec('seq2seq'), str(tmp_path / 'seq2seq.json'),
                                  image=IMAGE, pipeline_root=ROOT + '/')
  tasks = job['pipelineSpec']['root']['dag']['tasks']
  executors = job['pipelineSpec']['deploymentSpec']['executors']
  assert _parameter(tasks['CsvExampleGen'], 'input_base') == '/tfzoo/data'
  assert _parameter(tasks['Evaluator'], 'module_file') == '/tfzoo/models/seq2seq/seq2seq_module.py'
  args = executors['Evaluator_executor']['container']['args']
  assert args[args.index('--executor_class_path') + 1] == (
      'components.quality_evaluator.executor.Executor')
  assert job['runtimeConfig']['gcsOutputDirectory'] == f'{ROOT}/pipelines/seq2seq'
  assert (tmp_path / 'seq2seq.json').is_file()
  assert 'UNSUPPORTED_DO_NOT_PACKAGE_USER_MODULES' not in os.environ


def test_compile_kubeflow_refuses_bad_arguments_with_one_line(tmp_path):
  valid = ', '.join(sorted(registry.REGISTRY))
  cases = {
      ('compile-kubeflow', 'resnet'): f"tfzoo: unknown MODEL 'resnet': must be one of {valid}",
      ('run', 'resnet'): f"tfzoo: unknown MODEL 'resnet': must be one of {valid}",
      ('compile-kubeflow', '../cnn'): f"tfzoo: invalid MODEL '../cnn': must be one of {valid}",
      ('compile-kubeflow', 'linear', '--fast'):
          "tfzoo: MODEL 'linear' has no fast mode (it is already small)",
      ('compile-kubeflow', 'cnn', '--pipeline-root', 'bucket/tfzoo'):
          "tfzoo: --pipeline-root 'bucket/tfzoo': expected a URI such as gs://bucket/tfzoo (or "
          'an absolute path mounted in every pod)',
  }
  for args, message in cases.items():
    result = run_tfzoo(REPO, str(tmp_path), *args, timeout=120)
    assert result.returncode == 2, (args, result.stderr)
    assert result.stderr.strip() == message


def test_compile_kubeflow_names_with_underscores(tmp_path):
  """Kubeflow pipeline names allow no '_': mlp_bn compiles as mlp-bn (it failed before)."""
  from pipelines import kubeflow  # pylint: disable=g-import-not-at-top
  output = str(tmp_path / 'mlp_bn.json')
  job = kubeflow.compile_pipeline(registry.get_spec('mlp_bn'), output,
                                  pipeline_root='gs://bucket/tfzoo')
  assert job['pipelineSpec']['pipelineInfo']['name'] == 'mlp-bn'
  assert os.path.isfile(output)
