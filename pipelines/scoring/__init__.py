"""Batch scoring (`tfzoo score`): the scoring pipeline (ExampleGen on the user's input,
BulkInferrer on the latest pushed model) and the files around it."""
