"""One folder per model, models/<name>/<name>_module.py, each following the contract in
models/common/contract.py; models/common holds what several models share."""
