#!/usr/bin/env bash
# The earning rules' speed goals, in one run, next to the PostgreSQL ceiling of the same run:
#   1. pgbench -c 8 -j 2 -T 30 (bench/pgbench.sh)
#   2. the pure calculation: a 20-line order against 0, 50 and 500 rules (bench/rules_eval.py)
#   3. ingestion of 20-line orders through the API, 2 workers, single events C = 8 and batches
#      of 1,000 C = 2: under a rule-less program, then under a program of 50 rules; the ratios.
# Before 3, an unmeasured pass enrols nearly every customer of the pool (orders of a total
# only), so that no measured phase pays for more enrolments than another. Each phase spreads
# its connections over the workers (ingest.py --balance): two batch connections made at once
# mostly land on one worker, which halves the figure.
# Needs a virtualenv with `pip install -e '.[dev]'` activated, PostgreSQL at
# postgres@127.0.0.1:5432 (trust auth) and its client tools. Uses the scratch database
# patron_rules_bench, dropped and created again. Run it on a quiet machine; about six minutes.
# Overrides: SECONDS_PER_PHASE (30), WORKERS (2), PORT (8766), LINES (20), RULES (50).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

pg="postgresql://postgres@127.0.0.1:5432"
seconds="${SECONDS_PER_PHASE:-30}"
workers="${WORKERS:-2}"
port="${PORT:-8766}"
lines="${LINES:-20}"
rules="${RULES:-50}"
out="$(mktemp -d)"
server=""
cleanup() { [[ -n "$server" ]] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null; rm -rf "$out"; }
trap cleanup EXIT
step() { printf '\n=== %s ===\n' "$*"; }

step "1. pgbench ceiling"
bench/pgbench.sh | tee "$out/pgbench.txt"

step "2. the calculation alone"
python bench/rules_eval.py

step "3. ingestion, $lines-line orders, $workers workers"
export PATRON_DATABASE_URL="$pg/patron_rules_bench"
dropdb -h 127.0.0.1 -U postgres --if-exists patron_rules_bench
createdb -h 127.0.0.1 -U postgres patron_rules_bench
patron migrate >/dev/null
patron tenants create bench >/dev/null
export PATRON_API_KEY="$(patron keys create --tenant bench)"
echo '{"name": "no rules", "currency": "USD"}' >"$out/none.json"
python bench/rules_eval.py --write-program "$rules" "$out/rules.json"
PATRON_JOBS_INTERVAL=0 patron serve --workers "$workers" --port "$port" >"$out/server.log" 2>&1 &
server=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.2; done
url="http://127.0.0.1:$port"
echo "enrolling the customers (not measured)"
python bench/ingest.py --url "$url" --mode batch -c 2 --events 30000 --warmup 0 \
  --program "$out/none.json" >/dev/null
run() {  # program, mode, concurrency
  python bench/ingest.py --url "$url" --mode "$2" -c "$3" --duration "$seconds" --lines "$lines" \
    --program "$out/$1.json" --pid "$server" --balance "$workers" --label "$1, $2" --json \
    | tee "$out/$1-$2.txt"
}
run none single 8
run none batch 2
run rules single 8
run rules batch 2

step "ratios ($rules rules against none, same run)"
python - "$out" "$rules" <<'EOF'
import json, re, sys
out, rules = sys.argv[1], sys.argv[2]
tps = re.search(r"tps = ([0-9.]+)", open(f"{out}/pgbench.txt").read())
print(f"pgbench -c 8: {tps.group(1) if tps else '?'} tps")
print(f"| | no rules | {rules} rules | ratio |")
print("|---|---|---|---|")
for mode, what in (("single", "single events, C = 8"), ("batch", "batches of 1,000, C = 2")):
    a, b = (
        json.loads(open(f"{out}/{p}-{mode}.txt").read().strip().splitlines()[-1])["phases"][0]
        for p in ("none", "rules")
    )
    print(
        f"| {what} | {a['events_per_s']:,.1f}/s (p50 {a['latency_ms']['p50']:,.0f} ms) "
        f"| {b['events_per_s']:,.1f}/s (p50 {b['latency_ms']['p50']:,.0f} ms) "
        f"| {b['events_per_s'] / a['events_per_s']:.0%} |"
    )
EOF
