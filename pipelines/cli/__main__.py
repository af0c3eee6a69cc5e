"""python -m pipelines.cli: what the `tfzoo` console script runs."""
import sys

from pipelines.cli import main

sys.exit(main())
