# Every command a person runs. `make start` and `make test` install what is missing first.
SHELL := /bin/bash
# The Lambda runtime is 3.11; the code also runs on 3.12 and 3.13. A name counts only if it
# runs: a pyenv shim exists for every installed version but runs only the selected ones, so
# pyenv's installed versions are also tried by path. PYTHON=<interpreter> overrides.
SUPPORTED_PYTHONS := 3.11 3.12 3.13
find_python = $(shell for v in $(1); do \
  for p in python$$v $$(pyenv root 2>/dev/null)/versions/$$v.*/bin/python$$v; do \
    "$$p" -c '' >/dev/null 2>&1 && { echo "$$p"; exit 0; }; done; done)
PYTHON ?= $(call find_python,$(SUPPORTED_PYTHONS))
# The second version CI runs the unit suite under (make unit-py312).
PYTHON_312 ?= $(call find_python,3.12)
PYTHON_VERSION_OK := import sys; sys.exit(not (3, 11) <= sys.version_info[:2] <= (3, 13))
VENV := .venv
# checkov pins its own boto3, which conflicts with ours: it gets a virtualenv of its own.
CHECKOV_VENV := .venv-checkov
PY := $(VENV)/bin/python
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export PYTHON_BIN := $(CURDIR)/$(VENV)/bin/python
AWS_EMULATOR_PORT ?= 4566

.PHONY: install start test lint typecheck unit unit-py312 soak merchant rotate-key demo reconcile dlq-redrive deploy-local package bench lock clean

install: $(VENV)/.installed $(CHECKOV_VENV)/.installed node_modules/.installed

$(VENV)/.installed: requirements/runtime.txt requirements/ops.txt requirements/dev.txt pyproject.toml
	@test -x $(PY) || { python="$(PYTHON)"; \
	  [ -n "$$python" ] || { echo "needs Python 3.11, 3.12 or 3.13: none of python3.11, python3.12, python3.13 runs here (or set PYTHON=<interpreter>)" >&2; exit 1; }; \
	  "$$python" -c '$(PYTHON_VERSION_OK)' 2>/dev/null || { echo "needs Python 3.11, 3.12 or 3.13; PYTHON=$$python is not one of them" >&2; exit 1; }; \
	  echo "creating $(VENV) with $$python ($$("$$python" -V))"; "$$python" -m venv $(VENV); }
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements/runtime.txt -r requirements/ops.txt -r requirements/dev.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $@

$(CHECKOV_VENV)/.installed: requirements/checkov.txt $(VENV)/.installed
	test -x $(CHECKOV_VENV)/bin/python || $(PY) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements/checkov.txt
	touch $@

node_modules/.installed: package.json package-lock.json $(wildcard patches/*.patch)
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

## unit-py312: every unit-marked test under Python 3.12 too, in its own .venv-3.12 (CI runs it)
VENV_312 := .venv-3.12
unit-py312: $(VENV_312)/.installed
	$(VENV_312)/bin/python -m pytest -m unit

$(VENV_312)/.installed: requirements/runtime.txt requirements/ops.txt requirements/dev.txt
	@test -x $(VENV_312)/bin/python || { python="$(PYTHON_312)"; \
	  [ -n "$$python" ] || { echo "needs Python 3.12 for unit-py312: python3.12 does not run here (or set PYTHON_312=<interpreter>)" >&2; exit 1; }; \
	  "$$python" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 12))' || { echo "PYTHON_312=$$python is not Python 3.12" >&2; exit 1; }; \
	  "$$python" -m venv $(VENV_312); }
	$(VENV_312)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements/runtime.txt -r requirements/ops.txt -r requirements/dev.txt
	touch $@

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

HANDLER_PACKAGES := services/merchant-api/merchant_api_handlers \
  services/bank-forwarder/bank_forwarder_handlers services/bank-callback/bank_callback_handlers \
  services/events/events_handlers services/webhook-sender/webhook_sender_handlers

typecheck: install
	$(VENV)/bin/mypy shared_kernel gateway_ops local contracts/build_openapi.py services/bank-simulator services/plugins bench \
	  $(HANDLER_PACKAGES)

# The operator CLI (gateway_ops, docs/operations.md) on the running local stack.
OPS := $(VENV)/bin/gateway-ops --stage local

## merchant NAME=<name>: create a merchant on the running local stack
merchant: install
	@$(OPS) merchant create "$(NAME)"

## rotate-key MERCHANT=<id> [GRACE_HOURS=24]: new API key; the earlier ones stop after the grace
rotate-key: install
	@$(OPS) merchant rotate-key "$(MERCHANT)" --grace-hours "$${GRACE_HOURS:-24}"

## demo: walk one payment through every state on the running local stack
demo: install
	$(PY) -m local.demo

## reconcile: one reconciler pass on the running local stack
reconcile: install
	@$(OPS) reconcile

## dlq-redrive: move the dead-letter queue's messages back to the payment queue (local stack)
dlq-redrive: install
	@$(OPS) dlq redrive

## deploy-local: `sls deploy --stage local` of every service through serverless-localstack
deploy-local: install
	$(PY) -m local.deploy

## package: `sls package` of every function service
package: install
	for s in merchant-api bank-forwarder bank-callback events webhook-sender; do \
	  (cd services/$$s && ../../node_modules/.bin/osls package --stage local) || exit 1; done

## bench: performance and cost figures (SPEC §7) in one table + bench/results.json
bench: install
	$(PY) -m bench

## lock: re-pin requirements/*.txt from requirements/*.in (no index or find-links options)
PIP_COMPILE := $(VENV)/bin/pip-compile --quiet --no-header --no-emit-index-url --no-emit-find-links --allow-unsafe --strip-extras
lock: install
	$(PIP_COMPILE) -o requirements/runtime.txt requirements/runtime.in
	$(PIP_COMPILE) -o requirements/ops.txt requirements/ops.in
	$(PIP_COMPILE) -o requirements/dev.txt requirements/dev.in
	$(PIP_COMPILE) -o requirements/checkov.txt requirements/checkov.in

clean:
	rm -rf $(VENV) $(VENV_312) $(CHECKOV_VENV) node_modules .local services/*/.serverless
