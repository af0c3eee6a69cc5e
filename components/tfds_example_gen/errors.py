"""TfdsExampleGen's one error type, importable without TensorFlow (the command line raises it
too, from `download`'s probe)."""


class TfdsExampleGenError(RuntimeError):
  """A problem with the dataset a user asked for, stated in one line."""
