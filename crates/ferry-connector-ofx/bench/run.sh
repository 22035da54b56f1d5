#!/usr/bin/env bash
# OFX parse throughput, Ferry against ofxtools on the same 50,000-transaction statements (v102
# SGML and v220 XML), in one run. ofxtools (GPL) is a test tool here, installed in a venv under
# bench/.venv, never vendored or linked.
#
#   bash crates/ferry-connector-ofx/bench/run.sh [--iterations N]
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
VENV="$HERE/.venv"
if [[ ! -x $VENV/bin/python ]] || ! "$VENV/bin/python" -c 'import ofxtools' 2>/dev/null; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check "ofxtools==1.1.1"
fi
exec "$VENV/bin/python" "$HERE/ofxtools_parse.py" "$@"
