"""ML Metadata: the store a pipeline records into (SQLite or a shared MySQL), its runs read
back, lineage, and the run lock. Reading records imports no TensorFlow."""
