"""ServingInfraValidator: TFX's InfraValidator with an executor for this machine's serving.

Same spec, inputs and InfraBlessing output as TFX's InfraValidator, so TFX's Pusher reads the
blessing (`infra_blessing`) as it reads TFX's: a push needs both the Evaluator's blessing and
this one. `serving_spec` names the TF Serving release and the model; where it runs is the
executor's choice (executor.py), not the spec's platform.
"""
from typing import Optional

from tfx import types
from tfx.components.infra_validator.component import InfraValidator
from tfx.dsl.components.base import executor_spec
from tfx.proto import infra_validator_pb2

from components.infra_validator import executor

TF_SERVING_RELEASE = '2.16.1'  # the release matching TF 2.16 (pipelines/serving.py's image)
QUERIED_EXAMPLES = 8  # eval examples sent to each example-taking signature


class ServingInfraValidator(InfraValidator):
  EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)

  def __init__(self, model: types.BaseChannel, examples: types.BaseChannel, model_name: str,
               example_split: str = 'eval', make_warmup: bool = True,
               validation_spec: Optional[infra_validator_pb2.ValidationSpec] = None):
    """make_warmup: the model pushed is the validated one with its requests as TF Serving's
    warm-up file (assets.extra/tf_serving_warmup_requests), so a server that loads it runs
    them before it answers its first client."""
    super().__init__(
        model=model, examples=examples,
        serving_spec=infra_validator_pb2.ServingSpec(
            tensorflow_serving=infra_validator_pb2.TensorFlowServing(tags=[TF_SERVING_RELEASE]),
            model_name=model_name),
        request_spec=infra_validator_pb2.RequestSpec(
            tensorflow_serving=infra_validator_pb2.TensorFlowServingRequestSpec(),
            split_name=example_split, num_examples=QUERIED_EXAMPLES, make_warmup=make_warmup),
        validation_spec=validation_spec or infra_validator_pb2.ValidationSpec(
            max_loading_time_seconds=120, num_tries=1))
