# The two commands the README opens with: `make drill` and `make test`.
# Both do all set-up they need (apt packages, venv, project) and are idempotent.
VENV ?= .venv
PY := $(VENV)/bin/python
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

.PHONY: setup drill test unit lint bench clean

setup:
	@bash scripts/setup.sh

## Run the monthly drills on the embedded local stack and write reports/<run-id>/.
drill: setup
	$(PY) -m pytest drills -m monthly -p no:cacheprovider -q -s

## The test suite: lint, types, unit tests, integration tests on the real local stack.
test: setup lint
	$(PY) -m pytest tests -q -p no:cacheprovider

unit: setup
	$(PY) -m pytest tests -q -p no:cacheprovider -m "not integration"

lint: setup
	$(VENV)/bin/ruff check harness tests drills bench fixtures
	$(VENV)/bin/mypy harness

bench: setup
	$(PY) bench/bench_stack_startup.py

clean:
	rm -rf $(VENV) .drill build *.egg-info
