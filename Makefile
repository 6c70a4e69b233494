# The two commands of the README: `make run` and `make test`. Everything else is a helper.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test check lint typecheck fmt loadtest benchmark hotpath seed clean infra lambda-package

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

run: $(STAMP)  ## dev mode: embedded DynamoDB + Cognito (moto), local Redis, table, demo data
	$(BIN)/hustlehub dev

test: $(STAMP)  ## the whole gate: ruff, mypy --strict, pytest (starts Redis if needed)
	$(BIN)/python -m tests.gate

lint: $(STAMP)
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

fmt: $(STAMP)
	$(BIN)/ruff format . && $(BIN)/ruff check --fix .

.PHONY: docs
docs: $(STAMP)  ## docs/configuration.md and docs/metrics.md, generated from the code
	$(BIN)/python -m service.dev.docs

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache

loadtest: $(STAMP)  ## dev mode + 10x synthetic data, the locust scenario headless, the SLO gate
	$(BIN)/python -m loadtests.run $(LOADTEST_ARGS)

benchmark: $(STAMP)  ## read-path throughput as ratios to a bare aiohttp ceiling (wrk)
	$(BIN)/python -m loadtests.benchmark $(BENCHMARK_ARGS)

.PHONY: client-types
client-types: $(STAMP)  ## clients/web/openapi.d.ts from the OpenAPI document, checked by tsc --strict
	$(BIN)/python -m service.dev.clienttypes

hotpath: $(STAMP)  ## an in-process hit's handler timed in-process against the ceiling's Response
	$(BIN)/python -m service.dev.bench.hotpath $(HOTPATH_ARGS)

LAMBDA_PYTHON ?= 3.12
LAMBDA_PLATFORM ?= manylinux2014_x86_64

infra: $(STAMP)  ## the CloudFormation stack (table, Cognito, post-confirmation Lambda, IAM)
	mkdir -p build
	$(BIN)/hustlehub infra-template > build/hustlehub-stack.json

lambda-package: $(STAMP)  ## build/post-confirmation.zip: the project and its runtime deps for Lambda
	rm -rf build/lambda build/wheels build/post-confirmation.zip
	$(BIN)/pip wheel --quiet --no-deps --wheel-dir build/wheels .
	# [migrate]: asyncpg, for the legacy migration phases (the trigger follows the phase).
	$(BIN)/pip install --quiet --target build/lambda --platform $(LAMBDA_PLATFORM) \
		--implementation cp --python-version $(LAMBDA_PYTHON) --only-binary=:all: \
		"$$(ls build/wheels/*.whl)[migrate]"
	cd build/lambda && $(PYTHON) -m zipfile -c ../post-confirmation.zip *
