"""ServingInfraValidator: TFX's InfraValidator component spec with an executor for this machine's
serving.

Same spec (TFX's InfraValidatorSpec), inputs and InfraBlessing output as TFX's InfraValidator,
so TFX's Pusher reads the blessing (`infra_blessing`) as it reads TFX's: a push needs both the
Evaluator's blessing and this one. `serving_spec` names the TF Serving release and the model;
where it runs is the executor's choice (executor.py), not the spec's platform. Not a subclass of
TFX's class: Kubeflow's v2 compiler refuses InfraValidator instances (TFX's executor would start
Docker from inside a pod), while this executor runs in any pod of the image.
"""
from typing import Optional

from tfx import types
from tfx.dsl.components.base import base_component, base_driver, executor_spec
from tfx.proto import infra_validator_pb2
from tfx.types import standard_artifacts, standard_component_specs

from components.infra_validator import executor

TF_SERVING_RELEASE = '2.16.1'  # the release matching TF 2.16 (pipelines/serving/server.py's image)
QUERIED_EXAMPLES = 8  # eval examples sent to each example-taking signature


class ServingInfraValidator(base_component.BaseComponent):
  SPEC_CLASS = standard_component_specs.InfraValidatorSpec
  EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)
  DRIVER_CLASS = base_driver.BaseDriver

  def __init__(self, model: types.BaseChannel, examples: types.BaseChannel, model_name: str,
               example_split: str = 'eval', make_warmup: bool = True,
               validation_spec: Optional[infra_validator_pb2.ValidationSpec] = None):
    """make_warmup: the model pushed is the validated one with its requests as TF Serving's
    warm-up file (assets.extra/tf_serving_warmup_requests), so a server that loads it runs
    them before it answers its first client."""
    super().__init__(spec=standard_component_specs.InfraValidatorSpec(
        model=model, examples=examples,
        blessing=types.Channel(type=standard_artifacts.InfraBlessing),
        serving_spec=infra_validator_pb2.ServingSpec(
            tensorflow_serving=infra_validator_pb2.TensorFlowServing(tags=[TF_SERVING_RELEASE]),
            model_name=model_name),
        request_spec=infra_validator_pb2.RequestSpec(
            tensorflow_serving=infra_validator_pb2.TensorFlowServingRequestSpec(),
            split_name=example_split, num_examples=QUERIED_EXAMPLES, make_warmup=make_warmup),
        validation_spec=validation_spec or infra_validator_pb2.ValidationSpec(
            max_loading_time_seconds=120, num_tries=1)))
