#!/usr/bin/env bash
# Load benchmark of a release `ferry serve` on SQLite with wrk (Debian package `wrk`):
# a trivial endpoint (/health), GET /users/{guid}, member creation with skip_aggregation, and
# member creation with its first aggregation job (written in the member's transaction; the
# server runs with --no-workers so that only the writes are measured), all in one run against
# one server. Prints requests/s and p50/p99 latency.
#
#   bash bench/run.sh            # 10 s per scenario, 16 connections, 2 wrk threads
#   DURATION=30s CONNECTIONS=16 bash bench/run.sh
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-16}
THREADS=${THREADS:-2}
command -v wrk >/dev/null || { echo "wrk is needed: apt-get install -y wrk" >&2; exit 1; }

cargo build --release -p ferry -q
BIN=target/release/ferry
work=$(mktemp -d)
trap 'kill $server 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT
export FERRY_DATABASE_URL="sqlite://$work/bench.db"
export FERRY_LOG=warn

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$BIN" serve --no-workers --listen "127.0.0.1:$port" >"$work/server.out" 2>"$work/server.err" &
server=$!
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/health" >/dev/null && break; sleep 0.1; done

creds=$("$BIN" clients create bench --json)
id=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["client_id"])' "$creds")
key=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["api_key"])' "$creds")
export FERRY_AUTH=$(printf '%s:%s' "$id" "$key" | base64 -w0)
user=$(curl -sf -u "$id:$key" -H 'Content-Type: application/json' -d '{"user":{"id":"bench"}}' "http://127.0.0.1:$port/users" \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["user"]["guid"])')
export FERRY_USER=$user

# Prints "name req/s p50 p99 non-2xx" from one wrk run.
measure() {
  local name=$1; shift
  local out
  out=$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency "$@")
  python3 - "$name" "$out" "$work/rps" <<'PY'
import re, sys
name, out = sys.argv[1], sys.argv[2]
def ms(v):
    n, unit = re.match(r"([\d.]+)(us|ms|s)", v).groups()
    return float(n) * {"us": 0.001, "ms": 1, "s": 1000}[unit]
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
p50 = ms(re.search(r"\s50%\s+(\S+)", out).group(1))
p99 = ms(re.search(r"\s99%\s+(\S+)", out).group(1))
bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
errors = re.search(r"Socket errors: (.*)", out)
print(f"| {name} | {rps:,.0f} | {p50:.2f} | {p99:.2f} | {bad.group(1) if bad else 0}{' (' + errors.group(1) + ')' if errors else ''} |")
open(sys.argv[3], "a").write(f"{rps}\n")
PY
}

echo "Ferry $(git rev-parse --short HEAD 2>/dev/null || echo '?'), SQLite, wrk -t$THREADS -c$CONNECTIONS -d$DURATION, $(nproc) cores"
echo
echo "| scenario | requests/s | p50 ms | p99 ms | non-2xx |"
echo "|---|---:|---:|---:|---:|"
measure "GET /health (trivial)" "http://127.0.0.1:$port/health"
measure "GET /users/{guid}" -H "Authorization: Basic $FERRY_AUTH" -H "Accept: application/vnd.mx.api.v1+json" "http://127.0.0.1:$port/users/$user"
measure "POST /users/{guid}/members (skip_aggregation)" -s bench/create_member.lua "http://127.0.0.1:$port"
FERRY_SKIP_AGGREGATION=false measure "POST /users/{guid}/members (with its first job)" -s bench/create_member.lua "http://127.0.0.1:$port"
python3 - "$work/rps" <<'PY'
import sys
trivial, read, create, with_job = [float(x) for x in open(sys.argv[1]).read().split()]
print(f"\nreads: {100 * read / trivial:.0f}% of the trivial endpoint's throughput; member creations: {create:,.0f}/s, with their first job {with_job:,.0f}/s")
PY
