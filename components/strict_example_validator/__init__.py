"""StrictExampleValidator: TFX's ExampleValidator, but anomalies stop the run before training."""
from components.strict_example_validator.component import StrictExampleValidator
from components.strict_example_validator.executor import DataAnomaliesError, describe

__all__ = ['StrictExampleValidator', 'DataAnomaliesError', 'describe']
