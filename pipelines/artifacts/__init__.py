"""Readers of what the components wrote (TFMA's evaluations, TFDV's statistics, schemas and
anomalies, Keras's TensorBoard logs) with protobuf alone: no TensorFlow, no TFMA, so the
inspection commands and the report answer in well under a second."""
