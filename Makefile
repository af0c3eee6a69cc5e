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
# make predict: INPUT=digit.png | fur=1,wings=0 | x=5 | wor (autocomplete) | love (seq2seq)
#   | 3 (gan: a noise seed) | 7 or digit=7,seed=3 (cgan).
# make score: INPUT=<folder of images> (MNIST models) | <file.csv> with the model's feature
#   columns only, no label (fur,wings | x | word | english).
# make serve / predict: REST_PORT=, GRPC_PORT=; make serve: SERVE_ADDRESS= (where Docker
#   publishes the ports; default 127.0.0.1).
INPUT ?=
# make lineage: VERSION=out/serving/cnn/<version> (default: MODEL's latest push).
# make rollback: VERSION=<version> as `make versions` lists it, or that folder (default: the
#   newest blessed version older than the served model).
VERSION ?=
# make tensorboard: ALL=1 shows every training run of MODEL side by side.
ALL ?=
# make run-pipeline: BEAM_ARGS='--runner=FlinkRunner --flink_master=host:8081' (any Beam pipeline
# options; make passes BEAM_ARGS to tfzoo through the environment, like TFZOO_HOME and
# TFZOO_MLMD_MYSQL_*). make compile-kubeflow: IMAGE=registry/tfzoo:tag, PIPELINE_ROOT=gs://bucket/tfzoo.
IMAGE ?=
PIPELINE_ROOT ?=
# make bench: MODELS=classifier,linear,mlp,cnn (the default).
MODELS ?=
PYTEST_ARGS ?=
# The values that name things (models, files, versions) reach tfzoo through the environment,
# quoted by the shell as "$$MODEL": never spliced into a recipe's command line, so no value
# can end a quote and run something. ARGS is flags, split into words on purpose.
export MODEL DATA INPUT VERSION IMAGE PIPELINE_ROOT MODELS

STAMP := $(VENV)/.tfzoo-installed

.PHONY: help install run-pipeline list serve predict score runs lineage why-not-blessed tensorboard \
	compile-kubeflow bench test test-all clean distclean

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

install: $(STAMP) ## create .venv (Python 3.10) from requirements.lock; only when missing or stale

$(STAMP): requirements.lock setup.py
	@py=$$(PYTHON='$(PYTHON)' scripts/find-python) || exit 1; \
	echo "tfzoo: installing into $(VENV) with $$py (first run: a few minutes)"; \
	[ -x $(VENV)/bin/python ] || $$py -m venv $(VENV) || exit 1; \
	$(VENV)/bin/python -m pip install -q --upgrade pip && \
	$(VENV)/bin/python -m pip install -q -r requirements.lock && \
	$(VENV)/bin/python -m pip install -q --no-deps -e . && \
	$(VENV)/bin/python -m pip check && touch $@

run-pipeline: $(STAMP) ## run MODEL's TFX pipeline end to end (MODEL=cnn, see make list; DATA=, ARGS=, BEAM_ARGS=)
	@$(VENV)/bin/tfzoo run "$$MODEL" $(if $(DATA),--data "$$DATA") $(ARGS)

list: $(STAMP) ## list the models
	@$(VENV)/bin/tfzoo list

serve: $(STAMP) ## TensorFlow Serving on every pushed model (tensorflow_model_server, else Docker)
	@$(VENV)/bin/tfzoo serve $(ARGS)

predict: $(STAMP) ## ask the served MODEL about INPUT (ARGS='--protocol rest', '--signature raw', '--local')
	@$(VENV)/bin/tfzoo predict "$$MODEL" "$$INPUT" $(ARGS)

score: $(STAMP) ## score a batch with TFX's BulkInferrer: MODEL=cnn INPUT=<folder of images> or INPUT=<file.csv>
	@$(VENV)/bin/tfzoo score "$$MODEL" "$$INPUT" $(ARGS)

runs: $(STAMP) ## every pipeline run from ML Metadata (MODEL= to pick one)
	@$(VENV)/bin/tfzoo runs $(if $(filter command line,$(origin MODEL)),"$$MODEL")

lineage: $(STAMP) ## what produced MODEL's latest push (or VERSION=out/serving/<model>/<version>)
	@$(VENV)/bin/tfzoo lineage "$${VERSION:-$$MODEL}"

why-not-blessed: $(STAMP) ## the metrics and thresholds that kept MODEL's last model out of serving/
	@$(VENV)/bin/tfzoo why-not-blessed "$$MODEL" $(ARGS)

.PHONY: report
report: $(STAMP) ## HTML pages of every pipeline's runs, data, training, gates, pictures (MODEL= for one)
	@$(VENV)/bin/tfzoo report $(if $(filter command line,$(origin MODEL)),"$$MODEL")

.PHONY: versions rollback
versions: $(STAMP) ## every pushed version of MODEL: when, which run, its gate metrics, * the one served
	@$(VENV)/bin/tfzoo versions "$$MODEL"

rollback: $(STAMP) ## serve an earlier blessed version of MODEL again, as a new highest version (VERSION=; default: the previous model)
	@$(VENV)/bin/tfzoo rollback "$$MODEL" $(if $(VERSION),"$$VERSION")

tensorboard: $(STAMP) ## TensorBoard on MODEL's latest training logs (ALL=1: every run)
	@$(VENV)/bin/tfzoo tensorboard "$$MODEL" $(if $(ALL),--all) $(ARGS)

compile-kubeflow: $(STAMP) ## MODEL's pipeline as a Kubeflow v2 / Vertex AI spec (IMAGE=, PIPELINE_ROOT=)
	@$(VENV)/bin/tfzoo compile-kubeflow "$$MODEL" $(if $(IMAGE),--image "$$IMAGE") \
		$(if $(PIPELINE_ROOT),--pipeline-root "$$PIPELINE_ROOT") $(ARGS)

bench: $(STAMP) ## benchmarks, not part of test: pipeline vs plain Keras and a hand-written script, cached re-run, per component, cnn latency, peak memory (MODELS=, ARGS=)
	$(VENV)/bin/python -m pipelines.bench $(if $(MODELS),--models "$$MODELS") $(ARGS)

# Tests run in TEST_WORKERS processes (pytest-xdist), a test file per process at a time.
TEST_WORKERS ?= 2
PYTEST := $(VENV)/bin/python -m pytest tests -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder

test: $(STAMP) ## the test suite: unit + end-to-end pipelines on tiny data (not the heavy comparisons)
	$(PYTEST) -m 'not heavy' $(PYTEST_ARGS)

test-all: $(STAMP) ## test plus the heavy ones: Beam multi-processing and portable runner, real MariaDB
	$(PYTEST) $(PYTEST_ARGS)

clean: ## remove pipeline outputs (out/ or TFZOO_HOME: artifacts, metadata, serving/, logs)
	rm -rf "$${TFZOO_HOME:-out}" .pytest_cache

distclean: clean ## also remove the virtualenv
	rm -rf $(VENV) *.egg-info
