"""python -m pipelines.bench: what `make bench` runs (pipelines/bench/command.py)."""
import sys

from pipelines.bench.command import main

sys.exit(main())
