"""The error the validator stops a run with (imported by the command line without TFX)."""


class DataAnomaliesError(ValueError):
  """The examples break the schema; the message is one line naming columns and problems."""
