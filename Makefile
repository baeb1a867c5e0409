# The front door. `make demo` sets up and runs the main job; `make test` sets up and runs the tests.
# Both create ./.venv when needed; nothing is installed outside it.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# CPU torch first: a plain `torch` requirement pulls a multi-GB CUDA build. On a GPU machine use
# e.g. TORCH_INSTALL="torch --index-url https://download.pytorch.org/whl/cu128".
TORCH_INSTALL ?= torch==2.13.0
# The offline IMDB copy when it is there; otherwise asaas loads stanfordnlp/imdb from the Hub.
IMDB_SOURCE ?= $(firstword $(wildcard ../shared/data/imdb))
DB ?= asaas.duckdb

.PHONY: setup demo test bench clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q $(TORCH_INSTALL)
	$(BIN)/python -m pip install -q -e ".[dev,postgres]"
	touch $@

demo: setup
	$(BIN)/asaas ingest --db $(DB) $(if $(IMDB_SOURCE),--source $(IMDB_SOURCE))

test: setup
	$(BIN)/python -m pytest -q

bench: setup
	$(BIN)/python bench/ingest_bench.py

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache
