# The two commands of the README: `make run` and `make test`. Everything else is a helper.
# `make help` lists the targets: each one's `##` comment is its description.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# What `test-fast` leaves out: every marker of a test that needs something outside pytest's
# process (tests/support/infra.py; registered in pyproject.toml).
INFRASTRUCTURE := redis or dynamodb or postgres or prometheus or subprocess

.DEFAULT_GOAL := help
.PHONY: help run test test-fast lint typecheck fmt loadtest benchmark hotpath docs clean infra lambda-package

help:  ## this list
	@awk 'BEGIN {FS = ":[^#]*## "} /^[a-zA-Z][a-zA-Z0-9_-]*:[^=]*## / {printf "  %-16s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

run: $(STAMP)  ## dev mode: embedded DynamoDB + Cognito (moto), local Redis, table, demo data
	$(BIN)/hustlehub dev

test: $(STAMP)  ## the whole gate: ruff, mypy --strict, import contracts, pytest (starts Redis and PostgreSQL if needed)
	$(BIN)/python -m tests.gate

test-fast: $(STAMP)  ## the tests that need no Redis, moto, Postgres, Prometheus or child process
	$(BIN)/python -m pytest -q -m "not ($(INFRASTRUCTURE))" $(PYTEST_ARGS)

lint: $(STAMP)  ## ruff check and ruff format --check
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

typecheck: $(STAMP)  ## mypy --strict
	$(BIN)/mypy

fmt: $(STAMP)  ## ruff format, then ruff check --fix
	$(BIN)/ruff format . && $(BIN)/ruff check --fix .

docs: $(STAMP)  ## docs/configuration.md and docs/metrics.md, generated from the code
	$(BIN)/python -m service.dev.docs

clean:  ## remove the virtualenv and the tools' caches
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .import_linter_cache

loadtest: $(STAMP)  ## dev mode + 10x synthetic data, the locust scenario headless, the SLO gate
	$(BIN)/python -m loadtests.run $(LOADTEST_ARGS)

# wrk comes from Debian's archive; where it cannot be installed the benchmark says so and
# measures with its aiohttp client instead, whose own cost caps every ratio lower.
benchmark: $(STAMP)  ## read-path throughput as ratios to a bare aiohttp ceiling (wrk)
	@command -v wrk >/dev/null || { apt-get install -y -qq --no-install-recommends wrk >/dev/null 2>&1 \
		|| { apt-get update -qq && apt-get install -y -qq --no-install-recommends wrk; } >/dev/null 2>&1 \
		|| echo "wrk could not be installed: measuring with the aiohttp client"; }
	$(BIN)/python -m loadtests.benchmark $(BENCHMARK_ARGS)

.PHONY: client-types
client-types: $(STAMP)  ## clients/web/openapi.d.ts from the OpenAPI document, checked by tsc --strict
	$(BIN)/python -m service.dev.clienttypes

hotpath: $(STAMP)  ## in-process hits (a listing, a category page) timed against the ceiling's Response
	$(BIN)/python -m service.dev.bench.hotpath $(HOTPATH_ARGS)

# The post-confirmation Lambda runs python3.14 on arm64 (service/aws/infra/signup.py).
LAMBDA_PYTHON ?= 3.14
LAMBDA_PLATFORM ?= manylinux2014_aarch64

# The AWS CDK CLI, pinned by deploy/cdk/package-lock.json; the app itself is Python.
CDK_DIR := deploy/cdk
CDK := $(CDK_DIR)/node_modules/.bin/cdk
STAGE ?= dev
REGION ?= us-east-1
CDK_ARGS ?=

$(CDK): $(CDK_DIR)/package.json $(CDK_DIR)/package-lock.json
	cd $(CDK_DIR) && npm ci --no-audit --no-fund
	touch $(CDK)

infra: $(STAMP) $(CDK) lambda-package  ## synthesise STAGE's stack (CDK, cdk-nag) into deploy/cdk/cdk.out
	cd $(CDK_DIR) && node_modules/.bin/cdk synth --quiet -c stage=$(STAGE) -c region=$(REGION) $(CDK_ARGS)

lambda-package: $(STAMP)  ## build/post-confirmation.zip: the project and its runtime deps for Lambda
	rm -rf build/lambda build/wheels build/post-confirmation.zip
	$(BIN)/pip wheel --quiet --no-deps --wheel-dir build/wheels .
	# [migrate]: asyncpg, for the legacy migration phases (the trigger follows the phase).
	$(BIN)/pip install --quiet --target build/lambda --platform $(LAMBDA_PLATFORM) \
		--implementation cp --python-version $(LAMBDA_PYTHON) --only-binary=:all: \
		"$$(ls build/wheels/*.whl)[migrate]"
	cd build/lambda && $(PYTHON) -m zipfile -c ../post-confirmation.zip *
