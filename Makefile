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
# The encoder to fine-tune: the offline MiniLM copy when it is there, else the Hub original.
BASE ?= $(or $(firstword $(wildcard ../shared/models/all-MiniLM-L6-v2-bf16)),sentence-transformers/all-MiniLM-L6-v2)
DB ?= asaas.duckdb
ASAAS := $(BIN)/asaas

.PHONY: setup chromium postgres demo test bench clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml setup.py
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q $(TORCH_INSTALL)
	$(BIN)/python -m pip install -q -e ".[dev,postgres,ray,multilingual]"
	touch $@

# The main job, small enough for a laptop CPU (about 10 minutes on 2 idle vCPUs): ingest IMDB,
# train the cheap baseline and a demo-size fine-tune (registered as `finetuned`, its small-data
# recipe recorded with it), score 2,000 test reviews with both. Every step is idempotent: running
# it again skips what is already done.
demo: setup
	$(ASAAS) ingest --db $(DB) $(if $(IMDB_SOURCE),--source $(IMDB_SOURCE))
	$(ASAAS) train tfidf-lr --db $(DB) --skip-existing
	$(ASAAS) score --db $(DB) --model tfidf-lr --limit 2000
	$(ASAAS) train finetuned --db $(DB) --base $(BASE) --name finetuned --limit 2000 \
		--max-length 256 --truncation head+tail --lr 5e-5 --skip-existing
	$(ASAAS) score --db $(DB) --model finetuned --limit 2000

# The HTML report test renders the page in real headless Chromium (Debian's package). Installing
# it needs root and apt; elsewhere that test is skipped (and fails under CI=true).
chromium:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null \
		&& apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium \
		>/dev/null; } || echo "note: chromium not installed; the HTML rendering test will be skipped"

# The PostgreSQL tests start a throwaway server (tests/pg.py) and need its programs (initdb,
# pg_ctl): Debian's postgresql package, installed here when missing and we are root with apt.
# Elsewhere those tests are skipped (and fail under CI=true).
postgres:
	@command -v initdb >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 \
		|| { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null \
		&& apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
		postgresql >/dev/null; } || echo "note: PostgreSQL not installed; its tests will be skipped"

test: setup chromium postgres
	$(BIN)/python -m pytest -q

bench: setup
	$(BIN)/python -m pip install -q -e ".[bench]"
	$(BIN)/python bench/ingest_bench.py
	$(BIN)/python bench/write_bench.py
	$(BIN)/python bench/score_bench.py --model-dir minilm-random --reviews 300 --int8
	$(BIN)/python bench/train_bench.py --model-dir minilm-random --reviews 128 --max-length 256
	$(BIN)/python bench/report_bench.py
	$(BIN)/python bench/reader_wait_bench.py --chunks 60
	$(if $(wildcard ../shared/data/steam),$(BIN)/python bench/timeline_bench.py --repeat 3)

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache
