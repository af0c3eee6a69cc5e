# tfzoo: classic TensorFlow tutorial models as TFX pipelines.  `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV ?= .venv
# Python 3.10 for the venv: PYTHON=/path/to/python3.10 to choose, else found by scripts/find-python.
PYTHON ?=
MODEL ?= classifier
# Optional: DATA=path/to/file.csv (run the pipeline on your own CSV), ARGS='--train-steps 50 -v'.
DATA ?=
ARGS ?=
PYTEST_ARGS ?=

STAMP := $(VENV)/.tfzoo-installed

.PHONY: help install run-pipeline list test clean distclean

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

install: $(STAMP) ## create .venv (Python 3.10) from requirements.lock; only when missing or stale

$(STAMP): requirements.lock setup.py
	@py=$$(PYTHON='$(PYTHON)' scripts/find-python) || exit 1; \
	echo "tfzoo: installing into $(VENV) with $$py (first run: a few minutes)"; \
	[ -x $(VENV)/bin/python ] || $$py -m venv $(VENV) || exit 1; \
	$(VENV)/bin/python -m pip install -q --upgrade pip && \
	$(VENV)/bin/python -m pip install -q -r requirements.lock && \
	$(VENV)/bin/python -m pip install -q --no-deps -e . && \
	$(VENV)/bin/python -m pip check && touch $@

run-pipeline: $(STAMP) ## run MODEL's TFX pipeline end to end (MODEL=classifier|dnn|linear, DATA=, ARGS=)
	@$(VENV)/bin/tfzoo run '$(MODEL)' $(if $(DATA),--data '$(DATA)') $(ARGS)

list: $(STAMP) ## list the models
	@$(VENV)/bin/tfzoo list

test: $(STAMP) ## run the test suite (unit + end-to-end pipelines on tiny data)
	$(VENV)/bin/python -m pytest tests $(PYTEST_ARGS)

clean: ## remove pipeline outputs (out/ or TFZOO_HOME: artifacts, metadata, serving/, logs)
	rm -rf "$${TFZOO_HOME:-out}" .pytest_cache

distclean: clean ## also remove the virtualenv
	rm -rf $(VENV) *.egg-info
