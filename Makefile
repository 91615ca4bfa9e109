# The one entry point: every command a person or CI runs is a target here.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The SAM CLI pins boto3 and click exactly: it lives in its own tool environment, never the project's.
SAM_VENV := .tools/sam
SAM := $(SAM_VENV)/bin/sam
SAM_VERSION := 1.170.0

export AWS_DEFAULT_REGION ?= us-east-1
export SAM_CLI_TELEMETRY := 0

.PHONY: help demo test unit-test lint bench build deploy sandbox clean

help:
	@echo "make demo     the demo on the embedded sandbox"
	@echo "make test     all the tests (unit, integration, end-to-end, template lint, Lambda build)"
	@echo "make lint     ruff and sam validate --lint"
	@echo "make bench    scale benchmark on the sandbox, printing figures"
	@echo "make build    sam build (no Docker needed) and check the artifact"
	@echo "make deploy   sam deploy --guided"
	@echo "make sandbox  serve the sandbox on 127.0.0.1:5000"
	@echo "make invoke-<function>   run a function (ingest, sweep, notify, report) on its sample events in events/"

$(BIN)/.installed: pyproject.toml layers/guardian/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $@

$(SAM_VENV)/.installed:
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/python -m pip install --quiet --disable-pip-version-check aws-sam-cli==$(SAM_VERSION)
	touch $@

demo: $(BIN)/.installed
	$(BIN)/guardian demo

test: unit-test lint build

unit-test: $(BIN)/.installed
	$(BIN)/pytest

lint: $(BIN)/.installed $(SAM_VENV)/.installed
	$(BIN)/ruff check layers functions tests
	$(BIN)/ruff format --check layers functions tests
	$(SAM) validate --lint --template template.yaml

bench: $(BIN)/.installed
	$(BIN)/python -m guardian_sandbox.bench

build: $(BIN)/.installed $(SAM_VENV)/.installed
	$(SAM) build --template template.yaml
	$(BIN)/python -m guardian_sandbox.artifact .aws-sam/build

deploy: build
	$(SAM) deploy --guided --capabilities CAPABILITY_IAM

sandbox: $(BIN)/.installed
	$(BIN)/guardian sandbox --port 5000

invoke-%: $(BIN)/.installed
	$(BIN)/guardian invoke $* events/$*/*.json

clean:
	rm -rf $(VENV) .tools .aws-sam .pytest_cache
