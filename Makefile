# drillkit: `make demo` runs a real drill in the local lab; `make test` runs the test suite.
PYTHON ?= python3
VENV ?= .venv
SAM_VENV ?= .venv-sam
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup demo test test-fast lint validate build bench bench-lab bench-aws clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -c 'import sys; sys.exit("drillkit needs Python 3.11+, found " + sys.version.split()[0]) if sys.version_info < (3, 11) else None'
	$(PYTHON) -m venv $(VENV)
	@# pip and setuptools warn while they build (editable wheel, deprecations): kept in a log, shown only on failure,
	@# so that nothing but the demo's progress and verdict reaches the terminal.
	@echo "installing drillkit into $(VENV) (log: $(VENV)/setup.log)"
	@$(BIN)/pip install --quiet --upgrade pip > $(VENV)/setup.log 2>&1 || (cat $(VENV)/setup.log; exit 1)
	@$(BIN)/pip install --quiet -e '.[dev]' >> $(VENV)/setup.log 2>&1 || (cat $(VENV)/setup.log; exit 1)
	touch $(STAMP)

demo: setup
	$(BIN)/drillkit demo

# The suite starts some forty Python processes (pytest's workers, the labs, their Lambda workers) that import drillkit,
# the lab and the tests: they write Python's bytecode caches (__pycache__, ignored by git) even where
# PYTHONDONTWRITEBYTECODE is set, as on our machines, where each process compiled them all again (5.8 -> 2.8 CPU s
# of each worker's collection alone). Installed packages have theirs from pip.
BYTECODE_CACHE := PYTHONDONTWRITEBYTECODE=

# Six workers on two cores: a lab test spends much of its time waiting on the lab's real timings (a drill's steady
# state, observation, restore), so six labs at once keep both cores busy. Five left about a tenth of them idle once
# the labs' physics stopped polling and the functions shared a session; six then ran the suite in 189 and 249 s
# against 214 and 296 s with five. Eight made the run CPU-bound (docs/performance.md, "Time to test").
# --dist loadfile keeps each module (and its lab) on one worker, but for the two long modules of independent drills,
# whose groups other workers can take; tests/conftest.py gives loadfile that scheduler and orders the groups, the
# longest lab groups first and the modules without a lab spread between the others (tests/scheduling.py), and
# --no-loadscope-reorder keeps that order (pytest-xdist sorts them by number of tests otherwise).
test: setup
	$(BYTECODE_CACHE) $(BIN)/pytest -q -n 6 --dist loadfile --no-loadscope-reorder

# Everything but the lab: under a minute on this 2-core machine (docs/performance.md, "Time to test"); a third worker
# fills what the loopback tests leave idle: 41.2 and 41.4 s (735 tests, bytecode cached), 58.6 to 65.7 s before.
test-fast: setup
	$(BYTECODE_CACHE) $(BIN)/pytest -q -n 3 -m "not lab"

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# Figures of merit as numbers (not timed tests), side by side in one run: measurement error per milestone,
# wall time over inherent time, lab ready time and memory, modeled AWS cost; writes benchmarks/results.json
# and the table in docs/performance.md (a few minutes: one drill per shipped scenario, two more of the demo).
bench: setup
	$(BIN)/python benchmarks/ratios.py

# Lab start-up and memory alone, three runs (seconds).
bench-lab: setup
	$(BIN)/python benchmarks/lab.py --runs 3 --drill

# Every shipped fault on the AWS-timed lab profile (10 s checks, 60 s TTL, 300 s drain, minutes-long
# Aurora operations): tens of minutes, never in CI.
bench-aws: setup
	$(BIN)/python benchmarks/aws_timed.py --parallel 2

# SAM CLI pins boto3, click and pydantic: it lives in its own virtualenv. --no-compile: pip's byte-compiling of every
# module it installs took 12 of its 42 s; `sam validate` imports a few hundred of them once (3 s more without it).
$(SAM_VENV)/bin/sam:
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/pip install --quiet --no-compile aws-sam-cli

validate: $(SAM_VENV)/bin/sam
	SAM_CLI_TELEMETRY=0 $(SAM_VENV)/bin/sam validate --lint

# sam build needs the Lambda runtime's interpreter (python3.13) on PATH: say so in one line before anything else.
build:
	@$(PYTHON) scripts/check_build_python.py
	@$(MAKE) --no-print-directory $(SAM_VENV)/bin/sam
	SAM_CLI_TELEMETRY=0 $(SAM_VENV)/bin/sam build

clean:
	rm -rf .drillkit drillkit-reports .pytest_cache .ruff_cache .aws-sam
