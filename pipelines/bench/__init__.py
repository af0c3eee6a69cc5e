"""`make bench` (python -m pipelines.bench): the pipeline against a plain Keras script, cached
re-runs, per-component times, peak memory and serving latency. command.py says what it
measures; measure, latency, plain, runs and table are its parts."""
