#!/usr/bin/env bash
# Run HERE (the dev box), from anywhere: stage what a GPU machine lacks into git-ignored folders
# of the checkout, sized for two device calls of at most 64 MiB each (see bench/README.md):
#   .whl/       DuckDB, duckdb-engine, SQLAlchemy, Alembic, Mako, greenlet wheels (~31 MB)
#   .gpu/       IMDB train + test Parquet (~22 MB) and MiniLM's config + tokenizer (no weights)
#   .gpumodel/  MiniLM-L6 bf16 weights and all (~45 MB), for the full fine-tune
set -euo pipefail
cd "$(dirname "$0")/../.."
SHARED=${ASAAS_SHARED:-../shared}
MINILM=$SHARED/models/all-MiniLM-L6-v2-bf16
PY=${PYTHON:-python3}

rm -rf .whl .gpu .gpumodel
mkdir -p .whl .gpu/data/imdb .gpu/models/all-MiniLM-L6-v2-bf16 .gpumodel
# The GPU machine runs Python 3.12 on x86-64 and already has torch, transformers, pyarrow,
# numpy, scikit-learn, click, accelerate and typing-extensions.
for pkg in duckdb==2.0.1 duckdb_engine==0.17.0 sqlalchemy==2.1.9 alembic==1.20.1 mako==1.4.3 \
           greenlet==3.5.6; do
  "$PY" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
    --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 \
    --platform manylinux_2_24_x86_64 --platform manylinux_2_17_x86_64 \
    --platform manylinux2014_x86_64 -d .whl "$pkg"
done
cp "$SHARED"/data/imdb/train.parquet "$SHARED"/data/imdb/test.parquet .gpu/data/imdb/
find "$MINILM" -maxdepth 1 -type f ! -name '*.safetensors' ! -name '*.bin' \
  -exec cp {} .gpu/models/all-MiniLM-L6-v2-bf16/ \;
cp -r "$MINILM" .gpumodel/
du -sh .whl .gpu .gpumodel
