"""InfraValidator: TFX's component with an executor that checks a model the way TF Serving
loads it (tensorflow_model_server from PATH, else TF's C API loader in a subprocess).

The package imports nothing heavy: `session_loader` runs in processes without TensorFlow's
Python package, and the component is imported on first use.
"""


def __getattr__(name):
  if name == 'ServingInfraValidator':
    from components.infra_validator.component import ServingInfraValidator  # pylint: disable=g-import-not-at-top
    return ServingInfraValidator
  raise AttributeError(name)
