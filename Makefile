# cleargate: `make help` lists the targets. Everything runs inside .venv, created from requirements.lock.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
# Offline and self-contained: Prefect state under the project, no telemetry, DVC/GE/MLflow quiet.
export PATH := $(abspath $(VENV))/bin:$(PATH)
export PREFECT_HOME ?= $(CURDIR)/.prefect
export PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS ?= 600
export PREFECT_SERVER_ANALYTICS_ENABLED ?= false
export DO_NOT_TRACK ?= 1
export GX_ANALYTICS_ENABLED ?= false
export DVC_NO_ANALYTICS ?= 1
export MLFLOW_DISABLE_TELEMETRY ?= true
PYTEST_ARGS ?=
# pytest-xdist workers for `make test`: 2 fits this 2-core machine (tests wait on servers and subprocesses)
TEST_WORKERS ?= 2
RUN_ARGS ?=
# make serve-model MODEL=NAME@ALIAS [SERVE_ARGS="--port 5051"]
MODEL ?=
SERVE_ARGS ?=
# torch build: cpu (requirements.lock's pin, the default) or cuda (`make setup TORCH=cuda` on a GPU machine: the
# same torch version's CUDA build from the package index). The choice is remembered by the venv's stamp file.
TORCH ?= $(if $(wildcard $(VENV)/.installed-cuda),cuda,cpu)
INSTALLED := $(VENV)/.installed$(if $(filter cuda,$(TORCH)),-cuda,)
OTHER_INSTALLED := $(VENV)/.installed$(if $(filter cuda,$(TORCH)),,-cuda)
# requirements.lock as pip reads it: for cuda its `torch==X+cpu` line becomes `torch==X` (the CUDA wheel)
REQUIREMENTS := $(if $(filter cuda,$(TORCH)),<(sed -E 's/^torch==([^+]+)\+cpu$$/torch==\1/' requirements.lock),requirements.lock)

.PHONY: help setup run test test-fast lint ui repro status clean-outputs dvc.yaml bench exp-show plots serve serve-model stack-up stack-down stack-status

help: ## list the targets
	@grep -E '^[a-z.-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

setup: $(INSTALLED) ## create .venv and install the pinned dependencies (requirements.lock; TORCH=cuda on a GPU machine)

$(INSTALLED): requirements.lock pyproject.toml
	@case "$(TORCH)" in cpu|cuda) ;; *) echo "TORCH=$(TORCH): use TORCH=cpu or TORCH=cuda" >&2; exit 2;; esac
	rm -f $(OTHER_INSTALLED)
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r $(REQUIREMENTS)
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

run: setup ## run the whole pipeline (Prefect flow) on the embedded defaults and print the summary
	$(VENV)/bin/cleargate run $(RUN_ARGS)

test: setup ## the whole test suite (unit, data, integration, end to end, team stack) in TEST_WORKERS processes
	$(PY) -m pytest $(if $(filter 0,$(TEST_WORKERS)),,-n $(TEST_WORKERS) --dist loadscope) --durations=25 $(PYTEST_ARGS)

test-fast: setup ## the tests not marked slow (unit, data, the fast integration tests): a few minutes, for every edit
	$(PY) -m pytest $(if $(filter 0,$(TEST_WORKERS)),,-n $(TEST_WORKERS) --dist loadscope) -m "not slow" --durations=10 $(PYTEST_ARGS)

lint: setup ## ruff over the code, import-linter over the architecture, dvc.yaml up to date
	$(VENV)/bin/ruff check src flows tests benchmarks scripts infra
	$(VENV)/bin/lint-imports
	$(PY) -m cleargate.graph --check

dvc.yaml: src/cleargate/graph.py setup ## render dvc.yaml from the stage table (after changing a stage or its imports)
	$(PY) -m cleargate.graph

ui: setup ## open the MLflow UI on the embedded store (http://127.0.0.1:5000)
	$(VENV)/bin/cleargate ui

repro: setup ## reproduce the pipeline with DVC (runs only stale stages)
	$(VENV)/bin/dvc repro

status: setup ## DVC status and the registry's aliases
	$(VENV)/bin/dvc status
	$(VENV)/bin/cleargate status

bench: setup ## run benchmarks/: one table of ratios, each against a baseline measured in the same run
	$(PY) benchmarks/bench.py
	$(PY) scripts/results_tables.py --only bench

exp-show: setup ## DVC experiments side by side: changed params and each dataset's best candidate (fits 120 columns)
	$(PY) scripts/exp_show.py 120

plots: setup ## dvc plots show: training curves per model, confusion matrices, ROC curves (opens dvc_plots/index.html)
	$(VENV)/bin/dvc plots show

serve: setup ## schedule both deployments and run them here (local Prefect server unless PREFECT_API_URL); Ctrl-C stops
	$(VENV)/bin/cleargate serve

serve-model: setup ## serve a registered model online, e.g. make serve-model MODEL=mnist-classifier@champion; Ctrl-C stops
	@test -n "$(MODEL)" || { echo "make serve-model: give MODEL=NAME@ALIAS, e.g. MODEL=mnist-classifier@champion" >&2; exit 2; }
	$(VENV)/bin/cleargate serve-model $(MODEL) $(SERVE_ARGS)

stack-up: setup ## start PostgreSQL, MLflow, Prefect server and a worker under .stack/; writes .stack/env
	$(VENV)/bin/cleargate stack up

stack-down: setup ## stop every process of the stack (data kept in .stack/)
	$(VENV)/bin/cleargate stack down

stack-status: setup ## what of the stack runs, where, and the deployments' schedules
	$(VENV)/bin/cleargate stack status

.PHONY: push pull
push: setup ## push the DVC cache (data, models, reports) to the remote of params.yaml storage.dvc_remote
	$(VENV)/bin/cleargate push

pull: setup ## pull every output dvc.lock records from that remote: a fresh clone is up to date, nothing re-runs
	$(VENV)/bin/cleargate pull
