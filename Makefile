# The two set-up commands of the README: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DEMO := demo-org
STORE := worksignal.duckdb

.PHONY: demo test lint bench clean

$(BIN)/worksignal: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

demo: $(BIN)/worksignal
	$(BIN)/worksignal simulate --out $(DEMO) --people 300 --days 20 --seed 7
	$(BIN)/worksignal ingest $(DEMO)/people.csv $(DEMO)/conversations.jsonl --store $(STORE)
	$(BIN)/worksignal report --store $(STORE) --html $(DEMO)/report.html

test: $(BIN)/worksignal
	$(BIN)/ruff check src tests bench scripts
	$(BIN)/mypy
	$(BIN)/pytest

bench: $(BIN)/worksignal
	$(BIN)/python bench/ingest.py

clean:
	rm -rf $(VENV) $(DEMO) $(STORE) $(STORE).wal .pytest_cache .mypy_cache
