# Two commands for a new machine: `make run` and `make test`. Both create .venv and install first.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Running needs the package and the local Stripe stand-in only, not the test tools (browsers, fuzzers).
RUN_STAMP := $(VENV)/.installed-run

.PHONY: run test install bench fuzz crash soak clean lint

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

$(RUN_STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[demo]'
	touch $(RUN_STAMP)

install: $(STAMP)

# The suite runs in parallel workers, one per core (at most four), each taking whole test files so that a
# file's server or browser starts once; TEST_WORKERS=0 runs it in this one process. The 15 slowest tests are
# listed at the end.
TEST_WORKERS ?= auto
test: $(STAMP)
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --maxprocesses 4 --dist loadfile --durations=15 $(PYTEST_ARGS)

run: $(RUN_STAMP)
	$(BIN)/vardekedja init
	$(BIN)/vardekedja demo --local-stripe
	@echo "Serving the web UI at http://127.0.0.1:8000/ (the API's interactive docs at http://127.0.0.1:8000/docs); Ctrl-C stops."
	$(BIN)/vardekedja serve --host 127.0.0.1 --port 8000 --local-stripe

bench: $(STAMP)
	@for script in $(filter-out bench/schemathesis_long.py,$(wildcard bench/*.py)); do \
		echo "== $$script"; $(BIN)/python $$script || exit 1; done

# Schemathesis for longer than the test suite does: every phase, role and operation (FUZZ_ARGS=--max-time 300).
fuzz: $(STAMP)
	$(BIN)/python bench/schemathesis_long.py $(FUZZ_ARGS)

clean:
	rm -rf $(VENV) var .pytest_cache .hypothesis

lint: $(STAMP)
	$(BIN)/python -m pip install --quiet ruff
	$(BIN)/ruff check src tests bench

# Crash consistency for longer than the suite does: SIGKILL mid-burst, restart, retry (CRASH_ROUNDS=20).
crash: $(STAMP)
	CRASH_ROUNDS=$${CRASH_ROUNDS:-20} $(BIN)/python -m pytest tests/e2e/test_crash_consistency.py -q $(PYTEST_ARGS)

# The soak-like tests at their long sizes (VARDEKEDJA_SOAK=1, read by tests/soak.py): more kills, events,
# orders and examples than the suite gives them, the crash test for 20 rounds.
SOAK_TESTS := tests/e2e/test_crash_consistency.py tests/e2e/test_scale_mode.py tests/e2e/test_projections_processes.py \
	tests/integration/test_projections_replay.py tests/integration/test_chain_state_machine.py \
	tests/integration/test_projections_rebuild_while_serving.py tests/integration/test_audit_as_of.py \
	tests/integration/test_projections_idempotence.py tests/integration/test_bookkeeping.py
soak: $(STAMP)
	VARDEKEDJA_SOAK=1 $(BIN)/python -m pytest $(SOAK_TESTS) -q $(PYTEST_ARGS)
