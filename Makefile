# drillkit: `make demo` runs a real drill in the local lab; `make test` runs the test suite.
PYTHON ?= python3
VENV ?= .venv
SAM_VENV ?= .venv-sam
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup demo test test-fast lint validate build bench bench-aws clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -c 'import sys; sys.exit("drillkit needs Python 3.11+, found " + sys.version.split()[0]) if sys.version_info < (3, 11) else None'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: setup
	$(BIN)/drillkit demo

# Four workers on two cores: a lab test mostly waits on real timings (a quarter of a core each), so four labs
# at once keep the cores busy. --dist loadgroup keeps each group on one worker: a module with its module-scoped
# lab, or a slice of a module of independent drills; tests/lab/conftest.py deals out the longest first.
test: setup
	$(BIN)/pytest -q -n 4 --dist loadgroup

test-fast: setup
	$(BIN)/pytest -q -n 2 -m "not lab"

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# Speed and memory targets, as numbers (not timed tests): lab ready time and RSS, with a drill.
bench: setup
	$(BIN)/python benchmarks/lab.py --runs 3 --drill

# Every shipped fault on the AWS-timed lab profile (10 s checks, 60 s TTL, 300 s drain, minutes-long
# Aurora operations): tens of minutes, never in CI.
bench-aws: setup
	$(BIN)/python benchmarks/aws_timed.py --parallel 2

# SAM CLI pins boto3, click and pydantic: it lives in its own virtualenv.
$(SAM_VENV)/bin/sam:
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/pip install --quiet aws-sam-cli

validate: $(SAM_VENV)/bin/sam
	SAM_CLI_TELEMETRY=0 $(SAM_VENV)/bin/sam validate --lint

# sam build needs the Lambda runtime's interpreter (python3.13) on PATH: say so in one line before anything else.
build:
	@$(PYTHON) scripts/check_build_python.py
	@$(MAKE) --no-print-directory $(SAM_VENV)/bin/sam
	SAM_CLI_TELEMETRY=0 $(SAM_VENV)/bin/sam build

clean:
	rm -rf .drillkit drillkit-reports .pytest_cache .ruff_cache .aws-sam
