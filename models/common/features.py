"""Names shared by the pipeline factory, Transform, Trainer, the serving signatures and the
command-line client (this file imports nothing, so the cheap layer may read it)."""

# TFMA reads labels through this signature (raw tf.Example -> transformed features), so a
# string label is mapped with the vocabulary Transform learned, exactly as in training.
TRANSFORM_SIGNATURE = 'transform_features'
# The signature for JSON clients: one plain tensor per raw feature instead of tf.Examples.
RAW_SIGNATURE = 'serving_raw'
# The GANs' second signature: int64 `seed` [N] instead of noise, the noise drawn in the graph.
FROM_SEED_SIGNATURE = 'from_seed'
# The GANs' noise: float32 [N, NOISE_SIZE], standard normal (serving_default's `noise`).
NOISE_SIZE = 128


def transformed_name(key: str) -> str:
  """The name Transform gives a feature: `fur` -> `fur_xf`."""
  return f'{key}_xf'
