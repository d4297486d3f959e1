# shell_service: every target runs a module in baselayer/tools/ (see there for what it does);
# the programs supervisord runs sit in their service folders (README: "Layout").
# make run | stop | status | log | db_init | test | lint | mypy_baseline

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
VENV_PYTHON := $(VENV)/bin/python
# Touched by ensure_venv after `pip install -r requirements.txt` and `pip install -e .`:
# reinstall when the requirements or pyproject.toml (packages, console scripts) change.
VENV_STAMP := $(VENV)/.requirements-installed
# The job init, built from C (shell_service/executors/init_program.py).
JOB_INIT := build/job_init
TEST_CONFIG := tests/config.test.yaml
# Extra pytest arguments: make test TEST_ARGS="-k jobs -x"
TEST_ARGS ?=

.DEFAULT_GOAL := help
.PHONY: help venv run stop status log db_init test screenshots lint mypy_baseline bench

help:
	@echo "make run      set up and start the stack (again: start what is stopped)"
	@echo "make stop     stop everything"
	@echo "make status   supervisorctl status"
	@echo "make log      follow every service's log"
	@echo "make db_init  create the configured database"
	@echo "make test     run the tests against their own stack (TEST_ARGS=... for pytest)"
	@echo "make screenshots  the README's dashboard images (docs/screenshots/), by the browser tests"
	@echo "make lint     ruff check + ruff format --check + mypy (new errors only)"
	@echo "make mypy_baseline  rewrite mypy-baseline.txt with mypy's errors of now"

$(VENV_STAMP): requirements.txt pyproject.toml
	$(PYTHON) -m baselayer.tools.ensure_venv

venv: $(VENV_STAMP)

$(JOB_INIT): shell_service/executors/job_init.c shell_service/executors/init_program.py | $(VENV_STAMP)
	$(VENV_PYTHON) -m shell_service.executors.init_program

run: $(VENV_STAMP) $(JOB_INIT)
	$(VENV_PYTHON) -m baselayer.tools.stack start

stop: $(VENV_STAMP)
	$(VENV_PYTHON) -m baselayer.tools.stack stop

status: $(VENV_STAMP)
	$(VENV_PYTHON) -m baselayer.tools.stack status

log: $(VENV_STAMP)
	$(VENV_PYTHON) -m baselayer.tools.watch_logs

db_init: $(VENV_STAMP)
	$(VENV_PYTHON) -m baselayer.tools.stack db_init

test: $(VENV_STAMP) $(JOB_INIT)
	BASELAYER_CONFIG=$(TEST_CONFIG) $(VENV_PYTHON) -m baselayer.tools.test_runner $(TEST_ARGS)

# The browser tests, saving the dashboard's pages as docs/screenshots/*.png (README).
screenshots: $(VENV_STAMP) $(JOB_INIT)
	SCREENSHOTS_DIR=$(CURDIR)/docs/screenshots BASELAYER_CONFIG=$(TEST_CONFIG) $(VENV_PYTHON) -m baselayer.tools.test_runner tests/browser $(TEST_ARGS)

# mypy (pyproject.toml: [tool.mypy]) on shell_service/ and baselayer/; mypy-baseline
# fails on an error not in mypy-baseline.txt, and on one listed there that is gone.
lint: $(VENV_STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	@$(VENV)/bin/mypy | $(VENV)/bin/mypy-baseline filter || { \
	  echo "mypy: new errors (above) fail the lint: fix them. Fixed some listed in"; \
	  echo "mypy-baseline.txt, or must keep one? make mypy_baseline, and commit the file."; \
	  exit 1; }

mypy_baseline: $(VENV_STAMP)
	-$(VENV)/bin/mypy | $(VENV)/bin/mypy-baseline sync

# Every scenario of issue 5 on a bench stack of its own (bench/config.bench.yaml);
# writes BENCHMARKS.md and bench/results/latest.json. BENCH_ARGS="--profile" or "--quick".
BENCH_ARGS ?=
bench: $(VENV_STAMP) $(JOB_INIT)
	$(VENV_PYTHON) -m bench.run $(BENCH_ARGS)
