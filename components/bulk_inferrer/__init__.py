"""TFX's BulkInferrer, with a model loader whose string outputs reach the prediction logs."""
from components.bulk_inferrer.component import StringOutputBulkInferrer

__all__ = ['StringOutputBulkInferrer']
