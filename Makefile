# gr4vy-nb — two commands on a fresh machine: `make demo` and `make test`.
# Each creates .venv (Python 3.11+) and installs what it needs the first time.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint lab bench reliability sample-data clean help

help:
	@echo "make demo   - run the main job end to end on the embedded sandbox"
	@echo "make test   - lint and run the whole test suite"
	@echo "make lab    - open JupyterLab on notebooks/ (sandbox is the default target)"
	@echo "make bench  - run the benchmarks and print their figures"
	@echo "make reliability - full reliability tier and run-workflow state machine (~9 min on 2 cores); rewrite RELIABILITY.md"

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m gr4vy_nb.demo
	$(BIN)/python -m gr4vy_nb.notebook_support render notebooks build/notebooks

lint: $(STAMP)
	$(BIN)/ruff check gr4vy_nb tests bench data

test: lint
	$(BIN)/python -m pytest

lab: $(STAMP)
	$(BIN)/python -m gr4vy_nb.notebook_support lab notebooks/

bench: $(STAMP)
	$(BIN)/python bench/run_all.py

reliability: $(STAMP)
	$(BIN)/python -m tests.reliability.run_full

sample-data: $(STAMP)
	$(BIN)/python data/generate_sample_sessions.py

clean:
	rm -rf build .pytest_cache .ruff_cache
