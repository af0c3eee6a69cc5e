"""Where the QualityEvaluator writes its result (read back by the run summary, without TFX)."""

METRICS_FILE = 'quality_metrics.json'
