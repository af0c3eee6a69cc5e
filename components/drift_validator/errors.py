"""The error the drift validator stops a run with (imported by the command line without TFX)."""


class DataDriftError(ValueError):
  """The data drifted from the served model's training data; one line naming each feature, its
  distance and the threshold."""
