"""python -m pipelines.cli: what the `tfzoo` console script runs."""
from pipelines.cli import console

console()
