# The one entry point: every command a person or CI runs is a target here.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The SAM CLI pins boto3 and click exactly: it lives in its own tool environment, never the project's.
SAM_VENV := .tools/sam
SAM := $(SAM_VENV)/bin/sam
SAM_VERSION := 1.170.0
# checkov pins boto3 exactly too (an older one than the core's): its own tool environment as well.
CHECKOV_VENV := .tools/checkov
CHECKOV := $(CHECKOV_VENV)/bin/checkov
CHECKOV_VERSION := 3.3.30

export AWS_DEFAULT_REGION ?= us-east-1
# The layer's bytecode is compiled by the runtime's Python (layers/guardian/Makefile stops the build without it):
# python3.13 on the PATH, else pyenv's.
export COMPILE_PYTHON ?= $(or $(shell python3.13 -c 'import sys; print(sys.executable)' 2>/dev/null),$(lastword $(wildcard $(HOME)/.pyenv/versions/3.13*/bin/python3.13)),python3.13)
export SAM_CLI_TELEMETRY := 0

# Tests run on every core (pytest-xdist); the ten slowest are printed at the end so the next slow one is seen.
PYTEST := $(BIN)/pytest -n auto --durations=10
TYPED := layers/guardian/guardian src tools functions

.PHONY: help demo test unit integration e2e template-tests tests lint typecheck bench cost build deploy sandbox clean member-template

help:
	@echo "make demo            the demo on the embedded sandbox"
	@echo "make test            everything CI runs: all the tests, lint (ruff, mypy, sam validate) and the Lambda build"
	@echo "make unit            the unit tests alone (seconds)"
	@echo "make integration     the sandbox integration tests"
	@echo "make e2e             the end-to-end CLI tests"
	@echo "make template-tests  the template and permission tests"
	@echo "make lint            ruff, mypy, sam validate --lint, cfn-lint and checkov (both templates)"
	@echo "make bench           scale benchmark on the sandbox, printing figures"
	@echo "make cost            the stack's monthly AWS bill for a 100-user domain, from a simulated day (ARGS=--help)"
	@echo "make build           sam build (no Docker needed) and check the artifact"
	@echo "make deploy          sam deploy --guided"
	@echo "make member-template write member-template.yaml (the StackSet for member accounts) from template.yaml"
	@echo "make sandbox         serve the sandbox on 127.0.0.1:5000"
	@echo "make invoke-<function>   run a function (ingest, sweep, notify, report, remediate) on its sample events in events/"

$(BIN)/.installed: pyproject.toml layers/guardian/requirements.txt
	@echo "Creating the project environment in $(VENV) (the core, the CLI, the sandbox and the test tools) ..."
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --disable-pip-version-check --progress-bar off -e '.[dev]' \
		| { grep -E '^(Successfully|ERROR)' || true; }
	$(BIN)/python -c "import guardian, guardian_cli, guardian_sandbox, moto, pytest, mypy"
	touch $@

$(SAM_VENV)/.installed:
	@echo "Installing the SAM CLI $(SAM_VERSION) in its own environment, $(SAM_VENV) ..."
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/python -m pip install --quiet --disable-pip-version-check aws-sam-cli==$(SAM_VERSION)
	touch $@

$(CHECKOV_VENV)/.installed:
	@echo "Installing checkov $(CHECKOV_VERSION) in its own environment, $(CHECKOV_VENV) ..."
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --disable-pip-version-check checkov==$(CHECKOV_VERSION)
	touch $@

demo: $(BIN)/.installed
	$(BIN)/guardian demo

test: tests lint build

tests: $(BIN)/.installed
	$(PYTEST)

unit: $(BIN)/.installed
	$(PYTEST) tests/unit

integration: $(BIN)/.installed
	$(PYTEST) tests/integration

e2e: $(BIN)/.installed
	$(PYTEST) tests/e2e

template-tests: $(BIN)/.installed
	$(PYTEST) tests/template

# checkov's suppressions are in the templates, each with its reason (a resource's Metadata: checkov: skip).
lint: typecheck $(SAM_VENV)/.installed $(CHECKOV_VENV)/.installed
	$(BIN)/ruff check layers src tools functions tests
	$(BIN)/ruff format --check layers src tools functions tests
	$(SAM) validate --lint --template template.yaml
	$(SAM) validate --lint --template member-template.yaml
	$(SAM_VENV)/bin/cfn-lint template.yaml member-template.yaml
	$(CHECKOV) --framework cloudformation --file template.yaml --file member-template.yaml --compact --quiet --skip-download

bench: $(BIN)/.installed
	$(BIN)/python -m guardian_sandbox.bench

cost: $(BIN)/.installed
	$(BIN)/python -m guardian_sandbox.cost_model $(ARGS)

typecheck: $(BIN)/.installed
	$(BIN)/mypy $(TYPED)

build: $(BIN)/.installed $(SAM_VENV)/.installed
	$(SAM) build --template template.yaml
	$(BIN)/python tools/check_artifact.py .aws-sam/build

deploy: build
	$(SAM) deploy --guided  # answers start from samconfig.toml (stack studio-cost-guardian)

member-template: $(BIN)/.installed
	$(BIN)/python tools/member_template.py

sandbox: $(BIN)/.installed
	$(BIN)/guardian sandbox --port 5000

invoke-%: $(BIN)/.installed
	$(BIN)/guardian invoke $* events/$*/*.json

clean:
	rm -rf $(VENV) .tools .aws-sam .pytest_cache
