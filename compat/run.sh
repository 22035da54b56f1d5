#!/usr/bin/env bash
# Ferry compatibility harness: runs MX's Python SDK, MX's Node SDK, Schemathesis, the Atrium SDK,
# the Nexus scenario, the OAuth/webhooks suite, the real-institutions suite (SimpleFIN and OFX
# against their fake servers) and the server-faces suite (simplefin4py and ofxget against Ferry's
# own SimpleFIN and OFX faces) and the browser suite (Ferry's pages in headless Chromium) against a
# freshly started `ferry serve`, once per database; and the OFX interop check with ofxtools, which
# needs no server, once per invocation.
#
#   compat/run.sh [DATABASE_URL...]
#
# Without arguments: one fresh SQLite file in a temp dir. If FERRY_COMPAT_POSTGRES_URL is set
# (e.g. postgres://postgres@127.0.0.1:5432), a fresh database ferry_compat_<random> is created
# there as well, and dropped at the end. See compat/README.md for the other variables.
set -euo pipefail

COMPAT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(dirname "$COMPAT_DIR")

# Pinned tool versions (the Node SDK is pinned by compat/node/package.json + package-lock.json).
MX_PYTHON_PIN="mx-platform-python==1.12.0"
ATRIUM_PIN="atrium==2.11.7"
SCHEMATHESIS_PIN="schemathesis==4.32.5"
# ofxtools is GPL: a test tool installed into the cached venv, never vendored nor linked.
OFXTOOLS_PIN="ofxtools==1.1.1"
# The faces suite's published clients, one venv (space-separated pins).
FACES_PINS="simplefin4py==0.0.18 $OFXTOOLS_PIN"

PYTHON=${PYTHON:-python3}
SUITES=${FERRY_COMPAT_SUITES:-python node schemathesis atrium nexus oauth_webhooks real_institutions faces browser ofx_interop}
has_suite() { [[ " $SUITES " == *" $1 "* ]]; }

binary() { # binary VAR DEFAULT HOW_TO_BUILD: resolves $VAR (relative: from the repo root), exits if missing
  local path=${!1:-$2}
  [[ $path == /* ]] || path="$REPO_ROOT/$path"
  if [[ ! -x $path ]]; then
    echo "$3 not found at $path (build it with '$4' or set $1)" >&2
    exit 2
  fi
  printf -v "$1" '%s' "$path"
  export "${1?}"
}
# Suites that talk to a server run once per database; ofx_interop needs neither and runs once.
DB_SUITES=$(for s in $SUITES; do [[ $s == ofx_interop ]] || echo "$s"; done | xargs)
[[ -z $DB_SUITES ]] || binary FERRY_BIN target/release/ferry "ferry binary" "cargo build --release -p ferry"
if has_suite real_institutions; then
  binary FERRY_FAKE_SIMPLEFIN_BIN target/release/examples/fake_simplefin "fake SimpleFIN server" \
    "cargo build --release -p ferry-connector-simplefin --features fake --example fake_simplefin"
  binary FERRY_FAKE_OFX_BIN target/release/examples/fake_ofx "fake OFX bank" \
    "cargo build --release -p ferry-connector-ofx --features fake --example fake_ofx"
fi
if has_suite ofx_interop; then
  binary FERRY_OFX_INTEROP_BIN target/release/examples/ofx_interop "ofx_interop example" \
    "cargo build --release -p ferry-connector-ofx --example ofx_interop"
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/ferry-compat.XXXXXX")
SERVER_PID=""
PG_ADMIN_URL=""
PG_DBS=()
RESULTS=()
PASSED=0
FAILED=0

log() { printf '\n==> %s\n' "$*"; }

cleanup() {
  local rc=$?
  stop_server
  for db in "${PG_DBS[@]}"; do
    psql "$PG_ADMIN_URL" -qX -c "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null 2>&1 ||
      psql "$PG_ADMIN_URL" -qX -c "DROP DATABASE IF EXISTS \"$db\"" >/dev/null 2>&1 ||
      echo "warning: could not drop postgres database $db" >&2
  done
  if [[ $rc -eq 0 && -z ${FERRY_COMPAT_KEEP:-} ]]; then
    rm -rf "$WORK"
  else
    echo "logs kept in $WORK" >&2
  fi
}
trap cleanup EXIT

stop_server() {
  if [[ -n $SERVER_PID ]]; then
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=""
  fi
}

# --- environments (cached in compat/.cache unless FERRY_COMPAT_CACHE=0) -------------------

if [[ ${FERRY_COMPAT_CACHE:-1} == 0 ]]; then ENV_ROOT="$WORK/envs"; else ENV_ROOT="$COMPAT_DIR/.cache"; fi
mkdir -p "$ENV_ROOT"

key() { printf '%s' "$*" | sha256sum | cut -c1-12; }

python_env() { # python_env NAME "PIN [PIN...]" -> prints the venv's directory (keyed by all the pins)
  local dir pins
  read -ra pins <<<"$2"
  dir="$ENV_ROOT/$1-$(key "$2" "$("$PYTHON" -V 2>&1)")"
  if [[ ! -f $dir/.ok ]]; then
    rm -rf "$dir"
    "$PYTHON" -m venv "$dir" >&2
    "$dir/bin/pip" install -q --disable-pip-version-check "${pins[@]}" >&2
    touch "$dir/.ok"
  fi
  echo "$dir"
}

npm_env() { # npm_env DIR -> prints the node_modules of compat/DIR's package.json + package-lock.json
  local dir
  dir="$ENV_ROOT/$1-$(cat "$COMPAT_DIR/$1/package.json" "$COMPAT_DIR/$1/package-lock.json" | sha256sum | cut -c1-12)"
  if [[ ! -f $dir/.ok ]]; then
    rm -rf "$dir" && mkdir -p "$dir"
    cp "$COMPAT_DIR/$1/package.json" "$COMPAT_DIR/$1/package-lock.json" "$dir/"
    (cd "$dir" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error) >&2
    touch "$dir/.ok"
  fi
  echo "$dir/node_modules"
}

# --- server lifecycle --------------------------------------------------------------------

free_port() {
  "$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

json_field() { "$PYTHON" -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }

start_server() { # start_server LABEL DATABASE_URL; sets FERRY_URL FERRY_CLIENT_ID FERRY_API_KEY
  local label=$1 url=$2 port creds i
  local logf="$WORK/$label/ferry.log"
  # (called from an `if`, so set -e is off in here: check each step)
  if ! "$FERRY_BIN" migrate --database "$url" >>"$logf" 2>&1 ||
    ! creds=$("$FERRY_BIN" clients create "compat-$label" --database "$url" --json 2>>"$logf") ||
    ! FERRY_CLIENT_ID=$(json_field client_id <<<"$creds") ||
    ! FERRY_API_KEY=$(json_field api_key <<<"$creds"); then
    echo "ferry migrate / clients create failed; last log lines:" >&2
    tail -n 40 "$logf" >&2
    return 1
  fi
  port=$(free_port)
  FERRY_URL="http://127.0.0.1:$port"
  export FERRY_URL FERRY_CLIENT_ID FERRY_API_KEY
  # Loopback webhook URLs are allowed: the receivers of the oauth_webhooks suite and of the
  # Python suite's webhooks scenario are on 127.0.0.1. So are loopback connector addresses: the
  # real_institutions suite's fake SimpleFIN server and fake OFX bank are there too. Every suite
  # comes from 127.0.0.1 and some fail to authenticate on purpose (Schemathesis guesses OAuth
  # states by the hundred): the per-address limit on failed authentication is off here (the
  # Rust tests cover it). The SimpleFIN and OFX faces are on for the faces suite, with the
  # server's own URL as the public one (setup tokens and `ferry ofx info` are built on it).
  FERRY_AUTH_FAILURES_PER_MINUTE=0 FERRY_WEBHOOKS_ALLOW_LOOPBACK=1 FERRY_CONNECTORS_ALLOW_LOOPBACK=1 \
    FERRY_SIMPLEFIN=1 FERRY_OFX=1 FERRY_PUBLIC_URL="$FERRY_URL" \
    "$FERRY_BIN" serve --listen "127.0.0.1:$port" --database "$url" >>"$logf" 2>&1 &
  SERVER_PID=$!
  for ((i = 0; i < 120; i++)); do
    if curl -fsS -o /dev/null "$FERRY_URL/health" 2>/dev/null; then
      echo "ferry serving on $FERRY_URL (pid $SERVER_PID, log $logf)"
      return 0
    fi
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.5
  done
  echo "ferry did not become healthy on $FERRY_URL; last log lines:" >&2
  tail -n 40 "$logf" >&2
  stop_server
  return 1
}

# --- suites ------------------------------------------------------------------------------

run_suite() { # run_suite LABEL SUITE [DATABASE_URL]
  local label=$1 suite=$2 url=${3:-} rc=0
  log "[$label] $suite"
  case $suite in
    python) (cd "$COMPAT_DIR" && "$SDK_VENV/bin/python" -m python_sdk) || rc=$? ;;
    node) MX_NODE_MODULES="$NODE_MODULES" node "$COMPAT_DIR/node/node_sdk.mjs" || rc=$? ;;
    atrium) "$ATRIUM_VENV/bin/python" "$COMPAT_DIR/atrium_sdk.py" || rc=$? ;;
    nexus) "$PYTHON" "$COMPAT_DIR/nexus_http.py" || rc=$? ;;
    oauth_webhooks) "$SDK_VENV/bin/python" "$COMPAT_DIR/oauth_webhooks_sdk.py" || rc=$? ;;
    real_institutions)
      FERRY_DATABASE_URL="$url" "$SDK_VENV/bin/python" "$COMPAT_DIR/real_institutions_sdk.py" || rc=$? ;;
    faces) FERRY_DATABASE_URL="$url" "$FACES_VENV/bin/python" "$COMPAT_DIR/faces_clients.py" || rc=$? ;;
    browser)
      # Both scripts run (and both must pass): the OAuth pages, then the Connect widget.
      for script in oauth_pages widget; do
        FERRY_BROWSER_MODULES="$BROWSER_MODULES" FERRY_BROWSER_SHOTS="$WORK/$label/screenshots" \
          node "$COMPAT_DIR/browser/$script.mjs" || rc=$?
      done ;;
    ofx_interop) "$OFX_VENV/bin/python" "$COMPAT_DIR/ofx_interop.py" || rc=$? ;;
    schemathesis)
      FERRY_COMPAT_ST_REPORT_DIR="$WORK/$label/schemathesis-report" \
        "$ST_VENV/bin/python" "$COMPAT_DIR/schemathesis_suite.py" || rc=$? ;;
    *) echo "unknown suite: $suite" >&2; rc=2 ;;
  esac
  record "$label" "$suite" "$rc"
}

record() {
  if [[ $3 -eq 0 ]]; then
    RESULTS+=("PASS  $1  $2"); PASSED=$((PASSED + 1))
  else
    RESULTS+=("FAIL  $1  $2 (exit $3)"); FAILED=$((FAILED + 1))
  fi
}

run_database() { # run_database LABEL DATABASE_URL
  local label=$1 url=$2 suite failed_before=$FAILED
  mkdir -p "$WORK/$label"
  log "[$label] database $url"
  if ! start_server "$label" "$url"; then
    record "$label" "server start" 1
    return 0
  fi
  for suite in $DB_SUITES; do run_suite "$label" "$suite" "$url"; done
  kill -0 "$SERVER_PID" 2>/dev/null || { SERVER_PID=""; record "$label" "server still running after the suites" 1; }
  stop_server
  if [[ $FAILED -gt $failed_before ]]; then
    echo "[$label] server log: $WORK/$label/ferry.log"
  fi
}

pg_url() { # pg_url URL DBNAME -> URL with its database path replaced
  "$PYTHON" - "$1" "$2" <<'EOF'
import sys, urllib.parse as up
parts = up.urlsplit(sys.argv[1])
print(up.urlunsplit(parts._replace(path="/" + sys.argv[2])))
EOF
}

# --- main --------------------------------------------------------------------------------

for tool in "$PYTHON" curl; do command -v "$tool" >/dev/null || { echo "missing tool: $tool" >&2; exit 2; }; done
! has_suite node || command -v npm >/dev/null || { echo "missing tool: npm" >&2; exit 2; }
! has_suite browser || command -v npm >/dev/null || { echo "missing tool: npm" >&2; exit 2; }
! has_suite browser || [[ -x ${FERRY_CHROMIUM:-/usr/bin/chromium} ]] ||
  { echo "missing tool: chromium (apt-get install chromium, or set FERRY_CHROMIUM)" >&2; exit 2; }

# Postgres URLs need a master key; one random key per run, used for every database.
export FERRY_MASTER_KEY=${FERRY_MASTER_KEY:-$("$PYTHON" -c 'import secrets; print(secrets.token_hex(32))')}

log "preparing environments in $ENV_ROOT"
! has_suite python && ! has_suite oauth_webhooks && ! has_suite real_institutions ||
  SDK_VENV=$(python_env py-sdk "$MX_PYTHON_PIN")
! has_suite schemathesis || ST_VENV=$(python_env py-st "$SCHEMATHESIS_PIN")
! has_suite node || NODE_MODULES=$(npm_env node)
! has_suite atrium || ATRIUM_VENV=$(python_env py-atrium "$ATRIUM_PIN")
! has_suite ofx_interop || OFX_VENV=$(python_env py-ofx "$OFXTOOLS_PIN")
! has_suite faces || FACES_VENV=$(python_env py-faces "$FACES_PINS")
! has_suite browser || BROWSER_MODULES=$(npm_env browser)

LABELS=()
URLS=()
if [[ -z $DB_SUITES ]]; then
  : # only suites without a server: no database at all
elif [[ $# -gt 0 ]]; then
  for url in "$@"; do LABELS+=("db${#LABELS[@]}-${url%%:*}"); URLS+=("$url"); done
else
  mkdir -p "$WORK/sqlite-db"
  LABELS+=(sqlite); URLS+=("sqlite://$WORK/sqlite-db/ferry.db")
fi
if [[ -n $DB_SUITES && -n ${FERRY_COMPAT_POSTGRES_URL:-} ]]; then
  command -v psql >/dev/null || { echo "missing tool: psql" >&2; exit 2; }
  pg_db="ferry_compat_$("$PYTHON" -c 'import secrets; print(secrets.token_hex(6))')"
  if [[ $("$PYTHON" -c 'import sys, urllib.parse as up; print(up.urlsplit(sys.argv[1]).path.strip("/"))' "$FERRY_COMPAT_POSTGRES_URL") ]]; then
    PG_ADMIN_URL=$FERRY_COMPAT_POSTGRES_URL
  else
    PG_ADMIN_URL=$(pg_url "$FERRY_COMPAT_POSTGRES_URL" postgres)
  fi
  psql "$PG_ADMIN_URL" -qX -v ON_ERROR_STOP=1 -c "CREATE DATABASE \"$pg_db\"" >/dev/null
  PG_DBS+=("$pg_db")
  LABELS+=(postgres); URLS+=("$(pg_url "$FERRY_COMPAT_POSTGRES_URL" "$pg_db")")
fi

for i in "${!URLS[@]}"; do run_database "${LABELS[$i]}" "${URLS[$i]}"; done
if has_suite ofx_interop; then
  mkdir -p "$WORK/nodb"
  run_suite nodb ofx_interop
fi

log "summary"
printf '  %s\n' "${RESULTS[@]}"
echo "compat: $PASSED passed, $FAILED failed"
[[ $FAILED -eq 0 ]]
