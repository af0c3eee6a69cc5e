"""Names shared by the pipeline factory, Transform, Trainer and the serving signatures."""

# TFMA reads labels through this signature (raw tf.Example -> transformed features), so a
# string label is mapped with the vocabulary Transform learned, exactly as in training.
TRANSFORM_SIGNATURE = 'transform_features'
# The signature for JSON clients: one plain tensor per raw feature instead of tf.Examples.
RAW_SIGNATURE = 'serving_raw'


def transformed_name(key: str) -> str:
  """The name Transform gives a feature: `fur` -> `fur_xf`."""
  return f'{key}_xf'
