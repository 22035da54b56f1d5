#!/usr/bin/env python3
"""Times ofxtools' parser on the documents Ferry's bench example writes, next to Ferry's own numbers.

ofxtools is a test tool only (GPL): it is installed in a venv, never vendored or imported by Ferry.
Usage: bash crates/ferry-connector-ofx/bench/run.sh, or PYTHON bench/ofxtools_parse.py [--prefix /tmp/ofxbench] [--iterations 3]
It runs `cargo run --release --example bench_parse -- --write PREFIX` first (Ferry's numbers are
printed by that run), then parses PREFIX-v102.ofx and PREFIX-v220.ofx with ofxtools.
"""
import argparse
import os
import subprocess
import sys
import time

from ofxtools.Parser import OFXTree

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--prefix", default="/tmp/ofxbench")
    ap.add_argument("--iterations", type=int, default=3)
    ap.add_argument("--no-rust", action="store_true", help="reuse files already written")
    args = ap.parse_args()
    if not args.no_rust:
        cmd = ["cargo", "run", "--release", "--quiet", "-p", "ferry-connector-ofx", "--example", "bench_parse",
               "--", "--write", args.prefix]
        subprocess.run(cmd, cwd=HERE, check=True)
    for version in (102, 220):
        path = f"{args.prefix}-v{version}.ofx"
        size = os.path.getsize(path)
        best = None
        count = 0
        for _ in range(args.iterations):
            start = time.perf_counter()
            tree = OFXTree()
            tree.parse(path)
            ofx = tree.convert()
            elapsed = time.perf_counter() - start
            count = len(ofx.statements[0].banktranlist)
            best = elapsed if best is None else min(best, elapsed)
        print(f"ofxtools v{version}: {size / 1e6:.2f} MB in {best * 1e3:.0f} ms/parse+convert -> "
              f"{size / 1e6 / best:.2f} MB/s, {count / best:.0f} transactions/s ({count} transactions)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
