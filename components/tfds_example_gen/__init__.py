"""TfdsExampleGen: a TFX ExampleGen for tensorflow-datasets (TFX has none)."""
from components.tfds_example_gen.component import TfdsExampleGen
from components.tfds_example_gen.executor import TfdsExampleGenError

__all__ = ['TfdsExampleGen', 'TfdsExampleGenError']
