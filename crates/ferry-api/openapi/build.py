#!/usr/bin/env python3
"""Builds Ferry's OpenAPI document, crates/ferry-api/openapi/ferry.json (committed, embedded in
the binary and served at GET /openapi.json), from:

  * MX's v20111101 document (../shared/reference/mx-openapi/v20111101.yml beside the repo, or the
    path given as the first argument): every operation the Platform router serves, as MX
    describes it;
  * overlay.yaml: Ferry's own operations and schemas, and the actions of the
    `/users/{user}/members/{member}/{action}` route;
  * the router's source (platform/mod.rs, oauth.rs, admin.rs, lib.rs): which (method, path) pairs
    it serves.

A served operation that neither MX's document nor the overlay describes is an error. The Rust test
`openapi::tests` checks the result against the running router, both ways, so the document and the
router cannot drift apart: run this script after changing either, and commit ferry.json.

    python3 crates/ferry-api/openapi/build.py [MX_SPEC]
"""
import json
import pathlib
import re
import sys

import yaml

HERE = pathlib.Path(__file__).resolve().parent
SRC = HERE.parent / "src"
ROOT = HERE.parents[2]
MX = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT.parent / "shared/reference/mx-openapi/v20111101.yml"
ROUTER_FILES = ["platform/mod.rs", "oauth.rs", "admin.rs", "lib.rs"]
METHODS = ("get", "post", "put", "delete", "patch")


def norm(path):
    return re.sub(r"\{[^}]+\}", "{}", path)


def router_routes():
    """(METHOD, path) pairs from `.route("path", get(..).post(..))` calls."""
    out = set()
    for name in ROUTER_FILES:
        text = (SRC / name).read_text()
        for m in re.finditer(r'\.route\(\s*"([^"]+)"\s*,', text):
            # The method chain: up to the `)` that closes `.route(`.
            depth, i = 1, m.end()
            while depth:
                depth += {"(": 1, ")": -1}.get(text[i], 0)
                i += 1
            chain = text[m.end():i - 1]
            methods = re.findall(r"(?:^|[\s.])(get|post|put|delete|patch)\(", chain)
            if not methods:
                sys.exit(f"{name}: no method in the route {m.group(1)}")
            for method in methods:
                out.add((method.upper(), m.group(1)))
    return out


def refs(node, found):
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "$ref" and isinstance(v, str):
                found.add(v)
            else:
                refs(v, found)
    elif isinstance(node, list):
        for v in node:
            refs(v, found)
    return found


def main():
    mx = yaml.safe_load(MX.read_text())
    overlay = yaml.safe_load((HERE / "overlay.yaml").read_text())
    mx_ops = {}
    for path, item in mx["paths"].items():
        for method, op in item.items():
            if method in METHODS:
                # Path-level parameters go with each operation (only served methods are kept).
                shared = [p for p in item.get("parameters", []) if p not in op.get("parameters", [])]
                if shared:
                    op = dict(op, parameters=shared + op.get("parameters", []))
                mx_ops[(method.upper(), norm(path))] = (path, op)
    overlay_ops = {}
    for path, item in overlay["paths"].items():
        for method, op in item.items():
            overlay_ops[(method.upper(), norm(path))] = (path, op)

    served = set()
    for method, path in router_routes():
        if path.endswith("/{action}"):
            served |= {(method, norm(path[: -len("{action}")] + a)) for a in overlay["actions"]}
        else:
            served.add((method, norm(path)))

    paths = {}
    for key in sorted(served):
        if key in overlay_ops and key in mx_ops:
            sys.exit(f"{key} is described by MX's document and by the overlay: keep one")
        source = overlay_ops.get(key) or mx_ops.get(key)
        if source is None:
            sys.exit(f"{key[0]} {key[1]} is served but described nowhere: add it to overlay.yaml")
        path, op = source
        paths.setdefault(path, {})[key[0].lower()] = op
    for key in overlay_ops:
        if key not in served:
            sys.exit(f"overlay.yaml describes {key}, which the router does not serve")

    components = {k: v for k, v in mx["components"].items() if k != "schemas"}
    components["schemas"] = {}
    all_schemas = {**mx["components"]["schemas"], **overlay.get("schemas", {})}
    pending = refs(paths, set()) | refs(components, set())
    done = set()
    while pending:
        ref = pending.pop()
        if ref in done:
            continue
        done.add(ref)
        if ref.startswith("#/components/schemas/"):
            name = ref.rsplit("/", 1)[1]
            if name not in all_schemas:
                sys.exit(f"unknown schema {name}")
            components["schemas"][name] = all_schemas[name]
            pending |= refs(all_schemas[name], set())
    components["schemas"] = dict(sorted(components["schemas"].items()))

    used_tags = {t for item in paths.values() for op in item.values() for t in op.get("tags", [])}
    tags = [t for t in mx.get("tags", []) if t["name"] in used_tags]
    tags += [{"name": "ferry", "description": "Ferry's own operations."},
             {"name": "oauth", "description": "OAuth pages end users see, and the sandbox bank's provider."}]
    doc = {
        "openapi": mx["openapi"],
        "info": overlay["info"],
        "servers": [{"url": "/"}],
        "security": mx["security"],
        "tags": [t for t in tags if t["name"] in used_tags],
        "paths": dict(sorted(paths.items())),
        "components": components,
    }
    out = HERE / "ferry.json"
    out.write_text(json.dumps(doc, indent=1, sort_keys=False, ensure_ascii=False) + "\n")
    ops = sum(len(v) for v in paths.values())
    print(f"wrote {out.relative_to(ROOT)}: {ops} operations on {len(paths)} paths, {len(components['schemas'])} schemas")


if __name__ == "__main__":
    main()
