# Every command a person runs. `make start` and `make test` install what is missing first.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
# checkov pins its own boto3, which conflicts with ours: it gets a virtualenv of its own.
CHECKOV_VENV := .venv-checkov
PY := $(VENV)/bin/python
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export PYTHON_BIN := $(CURDIR)/$(VENV)/bin/python
AWS_EMULATOR_PORT ?= 4566

.PHONY: install start test lint typecheck unit soak merchant rotate-key demo reconcile deploy-local package bench lock clean

install: $(VENV)/.installed $(CHECKOV_VENV)/.installed node_modules/.installed

$(VENV)/.installed: requirements/runtime.txt requirements/dev.txt pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "needs $(PYTHON)"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements/runtime.txt -r requirements/dev.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $@

$(CHECKOV_VENV)/.installed: requirements/checkov.txt
	@command -v $(PYTHON) >/dev/null || { echo "needs $(PYTHON)"; exit 1; }
	test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements/checkov.txt
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

## start: run the whole gateway locally (foreground, Ctrl-C stops it)
start: install
	$(PY) -m local.stack

## test: lint, type-check and every test suite (starts and stops what the tests need)
test: install lint typecheck
	$(PY) -m pytest

unit: install
	$(PY) -m pytest -m unit

## soak: the reliability battery ten times larger (5,000 payments under bank faults, ...)
soak: install
	RELIABILITY_SCALE=$${RELIABILITY_SCALE:-10} $(PY) -m pytest -m reliability tests/reliability

# A lock file names packages and versions only: an index, find-links or trusted-host option
# would carry one machine's setup (a local folder, a mirror) into every clone.
LOCK_OPTIONS := ^[[:space:]]*(-i|-f|--index-url|--extra-index-url|--find-links|--trusted-host)([[:space:]=]|$$)

lint: install
	@! grep -nE '$(LOCK_OPTIONS)' requirements/*.txt || { echo "lock files must not name an index or find-links (make lock)"; exit 1; }
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) contracts/build_openapi.py --check

typecheck: install
	$(VENV)/bin/mypy shared_kernel local contracts/build_openapi.py services/bank-simulator bench

## merchant NAME=<name>: create a merchant on the running local stack
merchant: install
	@$(PY) -m local.merchant "$(NAME)"

## rotate-key MERCHANT=<id> [GRACE_HOURS=24]: new API key; the earlier ones stop after the grace
rotate-key: install
	@GRACE_HOURS="$(GRACE_HOURS)" $(PY) -m local.rotate_key "$(MERCHANT)"

## demo: walk one payment through every state on the running local stack
demo: install
	$(PY) -m local.demo

## reconcile: one reconciler pass on the running local stack
reconcile: install
	$(PY) -m local.reconcile

## deploy-local: `sls deploy --stage local` of every service through serverless-localstack
deploy-local: install
	$(PY) -m local.deploy

## package: `sls package` of every function service
package: install
	for s in merchant-api bank-forwarder bank-callback; do \
	  (cd services/$$s && ../../node_modules/.bin/osls package --stage local) || exit 1; done

## bench: performance and cost figures (SPEC §7) in one table + bench/results.json
bench: install
	$(PY) -m bench

## lock: re-pin requirements/*.txt from requirements/*.in (no index or find-links options)
PIP_COMPILE := $(VENV)/bin/pip-compile --quiet --no-header --no-emit-index-url --no-emit-find-links --allow-unsafe --strip-extras
lock: install
	$(PIP_COMPILE) -o requirements/runtime.txt requirements/runtime.in
	$(PIP_COMPILE) -o requirements/dev.txt requirements/dev.in
	$(PIP_COMPILE) -o requirements/checkov.txt requirements/checkov.in

clean:
	rm -rf $(VENV) $(CHECKOV_VENV) node_modules .local services/*/.serverless
