#!/usr/bin/env bash
# Run THERE (the GPU machine), in the checkout's root: every GPU figure issues 3 and 4 ask for,
# in three back-to-back device calls (what a call carries stays in /tmp only while it is warm):
#   bash bench/gpu/run.sh stage      carry .whl and .gpu: install the wheels, copy the data
#   bash bench/gpu/run.sh finetune   carry .gpumodel: full MiniLM fine-tune on the 25k train
#                                    reviews (512 tokens, head+tail), scored on all 25k test
#   bash bench/gpu/run.sh benches    carry nothing: scoring and training speed against the
#                                    usual ways (random-weight MiniLM and DistilBERT)
# Every step stages whatever it was given first, so `stage` can be merged into another step.
# Figures go to $OUT (the device tool's folder) or bench/out. DEVICE=cpu REVIEWS=64 LIMIT=64
# PYTHON=.venv/bin/python runs the same steps small on a CPU, to check the script before a lease.
set -uo pipefail
STAGE=${STAGE:-/tmp/asaas-stage}
DEVICE=${DEVICE:-cuda}
REVIEWS=${REVIEWS:-25000}        # reviews asaas scores / trains on in the speed benches
USUAL=${USUAL:-2000}             # reviews the usual ways run on (their rate is what is compared)
PY=${PYTHON:-python3}
out=${OUT:-bench/out}
mkdir -p "$out" "$STAGE/shared/models"
export PYTHONPATH="$STAGE/site:$PWD" ASAAS_SHARED="$STAGE/shared" PYTHONUNBUFFERED=1
if [ -d .whl ] && ! "$PY" -c "import duckdb, duckdb_engine, sqlalchemy, alembic" 2>/dev/null; then
  "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target "$STAGE/site" .whl/*.whl || exit 1
fi
[ -d .gpu ] && cp -r .gpu/. "$STAGE/shared/"
[ -d .gpumodel ] && cp -r .gpumodel/. "$STAGE/shared/models/"
command -v nvidia-smi >/dev/null && nvidia-smi -L
status=0
step() { echo "== $*"; "$@" || { echo "!! failed ($?): $*"; status=1; }; }

case "${1:-}" in
  stage)
    "$PY" -c "import duckdb, duckdb_engine, sqlalchemy, alembic, asaas.store" || status=1
    ls "$STAGE/shared/data/imdb" || status=1
    ;;
  benches)
    step "$PY" bench/score_bench.py --model-dir distilbert-random --device "$DEVICE" \
      --reviews "$REVIEWS" --notebook-reviews "$USUAL" --json "$out/score_distilbert.json"
    step "$PY" bench/score_bench.py --model-dir minilm-random --device "$DEVICE" \
      --reviews "$REVIEWS" --notebook-reviews "$USUAL" --json "$out/score_minilm.json"
    for m in minilm-random distilbert-random; do
      step "$PY" bench/train_bench.py --model-dir "$m" --device "$DEVICE" --reviews "$REVIEWS" \
        --usual-reviews "$USUAL" --json "$out/train_${m%-random}.json"
    done
    ;;
  finetune)
    db="$STAGE/imdb.duckdb"
    asaas() { "$PY" -m asaas "$@" --db "$db"; }
    step asaas ingest --source "$STAGE/shared/data/imdb"
    step asaas train finetuned --base "$STAGE/shared/models/all-MiniLM-L6-v2-bf16" \
      --truncation head+tail --lr 5e-5 --device "$DEVICE" --skip-existing ${LIMIT:+--limit $LIMIT}
    step asaas score --model finetuned --truncation head+tail --device "$DEVICE" \
      ${LIMIT:+--limit $LIMIT}
    asaas report --format markdown | tee "$out/finetune_report.md"
    asaas models list | tee "$out/models.txt"
    ;;
  *) echo "usage: bash bench/gpu/run.sh stage|finetune|benches" >&2; exit 2 ;;
esac
exit $status
