"""Names the InfraValidator records on its InfraBlessing (besides TFX's `blessed`), and how it
validated; read by the run summary without importing TFX."""

VALIDATED_WITH, SIGNATURES, REQUESTS, ERROR = 'validated_with', 'signatures', 'requests', 'error'
VIA_SERVER = 'tensorflow_model_server'
VIA_LOADER = "TF Serving's loader through TF's C API"
