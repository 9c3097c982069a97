#!/usr/bin/env bash
# The earning rules' speed goals, in one run, next to the PostgreSQL ceiling of the same run:
#   1. pgbench -c 8 -j 2 -T 30 (bench/pgbench.sh)
#   2. the pure calculation: a 20-line order against 0, 50 and 500 rules (bench/rules_eval.py)
#   3. ingestion of 20-line orders through the API, 2 workers, single events C = 8 and batches
#      of 1,000 C = 2: under a rule-less program, then under a program of 50 rules.
# Needs a virtualenv with `pip install -e '.[dev]'` activated, PostgreSQL at
# postgres@127.0.0.1:5432 (trust auth) and its client tools. Uses the scratch database
# patron_rules_bench, dropped and created again. Run it on a quiet machine.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

pg="postgresql://postgres@127.0.0.1:5432"
seconds="${SECONDS_PER_PHASE:-30}"
workers="${WORKERS:-2}"
port="${PORT:-8766}"
out="$(mktemp -d)"
server=""
cleanup() { [[ -n "$server" ]] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null; rm -rf "$out"; }
trap cleanup EXIT
step() { printf '\n=== %s ===\n' "$*"; }

step "1. pgbench ceiling"
bench/pgbench.sh

step "2. the calculation alone"
python bench/rules_eval.py

step "3. ingestion, 20-line orders"
export PATRON_DATABASE_URL="$pg/patron_rules_bench"
dropdb -h 127.0.0.1 -U postgres --if-exists patron_rules_bench
createdb -h 127.0.0.1 -U postgres patron_rules_bench
patron migrate >/dev/null
patron tenants create bench >/dev/null
export PATRON_API_KEY="$(patron keys create --tenant bench)"
echo '{"name": "no rules", "currency": "USD"}' >"$out/none.json"
python bench/rules_eval.py --write-program 50 "$out/rules50.json"
PATRON_JOBS_INTERVAL=0 patron serve --workers "$workers" --port "$port" >"$out/server.log" 2>&1 &
server=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.2; done
url="http://127.0.0.1:$port"
for program in none rules50; do
  python bench/ingest.py --url "$url" --mode single -c 8 --duration "$seconds" --lines 20 \
    --program "$out/$program.json" --pid "$server" --label "$program, single"
  python bench/ingest.py --url "$url" --mode batch -c 2 --duration "$seconds" --lines 20 \
    --pid "$server" --label "$program, batch"
done
