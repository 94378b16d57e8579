# Everything a fresh machine needs is done by these targets: a virtualenv with the project and
# its test tools, and the proving ground (Docker engine, registry, moto server, local ECR, base
# images), which installs its Debian packages itself when they are missing.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
GROUND := $(PY) -m proving_ground
PYTEST_ARGS ?=
AWS_CLI_VENV := .venv-awscli
AWS_CLI_VERSION := 1.46.3
CHECKOV_VENV := .venv-checkov
CHECKOV_VERSION := 3.2.533

.PHONY: help setup e2e-tools security-tools test unit lint format demo image bench bench-tools ground-up ground-status ground-down clean

help:
	@echo "make demo           deploy the example app against the local proving ground"
	@echo "make test           set everything up and run the whole test suite"
	@echo "make unit           run the unit tests only (no services)"
	@echo "make image          build the action's image (hybridless-action:dev)"
	@echo "make bench          benchmarks, side by side with the peers (AWS CLI, the plugin's way)"
	@echo "make lint           ruff and mypy"
	@echo "make ground-up      start the proving ground and leave it running (eval its output)"
	@echo "make ground-status  report each component of the proving ground"
	@echo "make ground-down    stop what the proving ground started"

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	@touch $@

e2e-tools: setup
	@bash scripts/e2e-tools.sh

test: setup e2e-tools security-tools
	$(GROUND) run -- $(PY) -m pytest $(PYTEST_ARGS)

unit: setup security-tools
	$(PY) -m pytest tests/unit $(PYTEST_ARGS)

lint: setup
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy

format: setup
	$(PY) -m ruff check --fix .
	$(PY) -m ruff format .

demo: setup
	$(GROUND) run -- $(PY) -m scripts.demo

image: setup
	$(GROUND) run -- $(PY) -c "import bench.action_image as b; b.IMAGE = 'hybridless-action:dev'; b.build_image()"

bench: setup bench-tools
	$(GROUND) run -- $(PY) -m bench.run

# The peer for the CloudFormation benchmarks, in its own virtualenv: it pins its own botocore.
bench-tools: $(AWS_CLI_VENV)/.installed

$(AWS_CLI_VENV)/.installed: Makefile
	$(PYTHON) -m venv $(AWS_CLI_VENV)
	$(AWS_CLI_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(AWS_CLI_VENV)/bin/python -m pip install --quiet awscli==$(AWS_CLI_VERSION)
	@touch $@

# The policy checker the template tests run, in its own virtualenv: its pins conflict with ours.
security-tools: $(CHECKOV_VENV)/.installed

$(CHECKOV_VENV)/.installed: Makefile
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(CHECKOV_VENV)/bin/python -m pip install --quiet checkov==$(CHECKOV_VERSION)
	@touch $@

ground-up: setup
	@$(GROUND) up

ground-status: setup
	@$(GROUND) status

ground-down: setup
	@$(GROUND) down

clean: ground-down
	rm -rf $(VENV) $(AWS_CLI_VENV) $(CHECKOV_VENV) .ground .pytest_cache .mypy_cache .ruff_cache *.egg-info
