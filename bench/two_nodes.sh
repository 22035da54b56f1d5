#!/usr/bin/env bash
# Several nodes on one PostgreSQL database, measured: N API nodes (`serve --no-workers`) and N
# `worker` processes, for N = 1 and N = 2, each on a fresh database. wrk drives every API node at
# once (the 16 connections split between them):
#   1. reads: GET /users/{guid};
#   2. member creations, each with its first aggregation job (written with the member);
#   3. aggregations: the jobs those creations queued, drained by the workers (jobs/s).
# Prints requests/s and p99 per scenario and topology. Needs wrk and psql.
#
#   bash bench/two_nodes.sh                 # 10 s per scenario
#   DURATION=20s FERRY_BENCH_POSTGRES=postgres://postgres@127.0.0.1:5432 bash bench/two_nodes.sh
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-16}
PG=${FERRY_BENCH_POSTGRES:-postgres://postgres@127.0.0.1:5432}
command -v wrk >/dev/null || { echo "wrk is needed: apt-get install -y wrk" >&2; exit 1; }
command -v psql >/dev/null || { echo "psql is needed" >&2; exit 1; }

cargo build --release -p ferry -q
BIN=$PWD/target/release/ferry
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
export FERRY_MASTER_KEY=00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff
export FERRY_LOG=warn
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# Prints "rps p99_ms non2xx" of one wrk output.
parse() {
  python3 - "$1" <<'PY'
import re, sys
out = open(sys.argv[1]).read()
def ms(v):
    n, unit = re.match(r"([\d.]+)(us|ms|s)", v).groups()
    return float(n) * {"us": 0.001, "ms": 1, "s": 1000}[unit]
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
p99 = ms(re.search(r"\s99%\s+(\S+)", out).group(1))
bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
print(rps, p99, bad.group(1) if bad else 0)
PY
}

# run_wrk NAME NODES... : wrk at every node at once; prints "total_rps max_p99 non2xx".
run_wrk() {
  local name=$1; shift
  local per=$((CONNECTIONS / $#)) i=0 wpids=()
  for port in "$@"; do
    i=$((i + 1))
    FERRY_BENCH_TAG="n$i-" wrk -t1 -c"$per" -d"$DURATION" --latency "${WRK_ARGS[@]}" "http://127.0.0.1:$port$WRK_PATH" >"$work/$name-$i.txt" &
    wpids+=($!)
  done
  wait "${wpids[@]}"
  local total=0 p99=0 bad=0
  for ((j = 1; j <= i; j++)); do
    read -r r p b < <(parse "$work/$name-$j.txt")
    total=$(python3 -c "print($total + $r)"); p99=$(python3 -c "print(max($p99, $p))"); bad=$((bad + b))
  done
  echo "$total $p99 $bad"
}

results=()
for nodes in 1 2; do
  db="ferry_bench_$(date +%s)_$nodes"
  psql "$PG/postgres" -qAtX -c "CREATE DATABASE $db" >/dev/null
  url="$PG/$db"
  "$BIN" migrate --database "$url" >/dev/null
  ports=()
  for ((n = 1; n <= nodes; n++)); do
    port=$(free_port)
    "$BIN" serve --no-workers --listen "127.0.0.1:$port" --database "$url" >"$work/api-$nodes-$n.out" 2>&1 &
    pids+=($!)
    ports+=("$port")
    FERRY_WORKERS=4 "$BIN" worker --database "$url" >"$work/worker-$nodes-$n.out" 2>&1 &
    pids+=($!)
  done
  for port in "${ports[@]}"; do
    for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/health" >/dev/null && break; sleep 0.1; done
  done
  creds=$("$BIN" clients create bench --json --database "$url")
  id=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["client_id"])' "$creds")
  key=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["api_key"])' "$creds")
  export FERRY_AUTH=$(printf '%s:%s' "$id" "$key" | base64 -w0)
  user=$(curl -sf -u "$id:$key" -H 'Content-Type: application/json' -d '{"user":{"id":"bench"}}' "http://127.0.0.1:${ports[0]}/users" \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["user"]["guid"])')
  export FERRY_USER=$user

  WRK_ARGS=(-H "Authorization: Basic $FERRY_AUTH" -H "Accept: application/vnd.mx.api.v1+json"); WRK_PATH="/users/$user"
  read -r rps p99 bad < <(run_wrk reads "${ports[@]}")
  results+=("| $nodes | GET /users/{guid} | $(printf '%.0f' "$rps") | $p99 | $bad |")

  queued_before=$(psql "$url" -qAtX -c "SELECT COUNT(*) FROM jobs")
  WRK_ARGS=(-s bench/create_member.lua); WRK_PATH=""
  read -r rps p99 bad < <(FERRY_SKIP_AGGREGATION=false run_wrk creates "${ports[@]}")
  results+=("| $nodes | POST members (with their first job) | $(printf '%.0f' "$rps") | $p99 | $bad |")

  # The workers have run jobs during the creations already; time the rest of the queue.
  started=$(date +%s.%N)
  left0=$(psql "$url" -qAtX -c "SELECT COUNT(*) FROM jobs WHERE status IN ('QUEUED','RUNNING')")
  while [[ $(psql "$url" -qAtX -c "SELECT COUNT(*) FROM jobs WHERE status IN ('QUEUED','RUNNING')") != 0 ]]; do sleep 0.2; done
  ended=$(date +%s.%N)
  done_total=$(psql "$url" -qAtX -c "SELECT COUNT(*) FROM jobs WHERE status IN ('SUCCEEDED','FAILED')")
  jobs_rate=$(python3 -c "print(round($left0 / max($ended - $started, 0.001)))")
  results+=("| $nodes | aggregations drained after the creations ($left0 of $((done_total - queued_before)) jobs) | $jobs_rate jobs/s | | |")

  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  pids=()
  psql "$PG/postgres" -qAtX -c "DROP DATABASE $db WITH (FORCE)" >/dev/null
done

echo "Ferry $(git rev-parse --short HEAD 2>/dev/null || echo '?'), PostgreSQL, wrk with $CONNECTIONS connections split across the API nodes, $DURATION per scenario, $(nproc) cores"
echo
echo "| nodes (API + worker processes) | scenario | requests/s | p99 ms | non-2xx |"
echo "|---:|---|---:|---:|---:|"
printf '%s\n' "${results[@]}"
