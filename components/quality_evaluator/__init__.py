"""QualityEvaluator: gates models whose quality TFMA cannot measure (generated words, images)."""
from components.quality_evaluator.component import QualityEvaluator
from components.quality_evaluator.executor import (METRICS_FILE, QualityGate, check_gates,
                                                   read_examples)

__all__ = ['METRICS_FILE', 'QualityEvaluator', 'QualityGate', 'check_gates', 'read_examples']
