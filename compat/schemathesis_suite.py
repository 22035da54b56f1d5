#!/usr/bin/env python3
"""Schemathesis (pinned 4.32.5 by run.sh) against a running Ferry server, on Ferry's own OpenAPI
document as the server serves it (GET /openapi.json: MX's v20111101 operations that Ferry serves,
in MX's shapes, and Ferry's own), every operation in it.

Env: FERRY_URL, FERRY_CLIENT_ID, FERRY_API_KEY; optional FERRY_COMPAT_SPEC (a file to use instead
of the served document, e.g. ../shared/reference/mx-openapi/v20111101.yml; then only the
operations in MX_OPERATIONS are run), FERRY_COMPAT_ST_MAX_EXAMPLES (default 25),
FERRY_COMPAT_ST_PHASES (default examples,coverage,fuzzing,stateful), FERRY_COMPAT_ST_SEED,
FERRY_COMPAT_ST_WORKERS (default 1), FERRY_COMPAT_ST_REPORT_DIR (JUnit report goes there).
Extra command-line arguments are passed on to `st run`.

Paths like /users/{user_guid}/members/{member_guid} only get past 404 with real guids, so this
script first creates, through plain HTTP, a user whose member is aggregated against the sandbox bank
(password `password`, waited on until CONNECTED, so it has 6 accounts, ~90 days of transactions and
4 investment holdings), then verified, identified and given its statements (each job waited on: 2
account numbers, 7 account owners, 9 statements); two manual accounts of that user (one to update,
one to delete, both under its Manual Institution member), a member of that user left CHALLENGED
(password `challenge`) for resumeAggregation, and a spare user and member for the delete
operations; then
  * writes a copy of the spec whose path-parameter `example`s are those guids (the examples and
    coverage phases draw on examples), deleteUser/deleteMember/deleteManualAccount getting the
    spare ones;
  * writes a schemathesis.toml binding the path parameters (user, member, account, transaction,
    holding, statement, institution) to fuzz dictionaries holding the same guids (the fuzzing phase
    uses them for 90% of values, the rest stay random), and the resume body's challenge guids to the
    real ones;
and runs `st run`; the stateful phase follows the links Schemathesis infers (createUser -> readUser...).
Only 5xx responses and schema violations of *declared* responses fail; undeclared statuses such as
400/404/409 with {"error": {...}} bodies are not checked.
"""
import base64
import json
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid

import yaml  # PyYAML, a dependency of schemathesis

HERE = pathlib.Path(__file__).resolve().parent
SPEC = pathlib.Path(os.environ["FERRY_COMPAT_SPEC"]).resolve() if os.environ.get("FERRY_COMPAT_SPEC") else None
# With MX's own document: the operations of it that Ferry serves.
MX_OPERATIONS = [
    "createUser", "readUser", "updateUser", "deleteUser", "listUsers",
    "listInstitutions", "listFavoriteInstitutions", "readInstitution", "listInstitutionCredentials",
    "createMember", "readMember", "updateMember", "deleteMember", "listMembers",
    "readMemberStatus", "listMemberCredentials", "listMemberChallenges",
    "aggregateMember", "resumeAggregation",
    "listUserAccounts", "listMemberAccounts", "readAccount",
    "listTransactions", "listTransactionsByMember", "listTransactionsByAccount", "readTransaction",
    "verifyMember", "identifyMember", "fetchStatements",
    "listAccountNumbersByMember", "listAccountNumbersByAccount", "listAccountOwnersByMember",
    "listHoldings", "listHoldingsByMember", "listHoldingsByAccount", "readHolding",
    "listStatementsByMember", "readStatementByMember", "downloadStatementPDF",
    "createManualAccount", "deleteManualAccount", "readAccountByMember", "updateAccountByMember",
    "updateTransaction", "updateTransactionByAccount",
    "requestWidgetURL",
]
CHECKS = "not_a_server_error,response_schema_conformance"
LOGIN_CRD = "CRD-9f61fb4c-912c-bd1e-b175-ccc7f0275cc1"
PASSWORD_CRD = "CRD-e3d7ea81-aac7-05e9-fbdd-4b493c6e474d"

URL = os.environ.get("FERRY_URL", "http://127.0.0.1:8080").rstrip("/")
CLIENT_ID = os.environ["FERRY_CLIENT_ID"]
API_KEY = os.environ["FERRY_API_KEY"]
AUTH = "Basic " + base64.b64encode(f"{CLIENT_ID}:{API_KEY}".encode()).decode()


def call(method, path, body=None):
    req = urllib.request.Request(URL + path, method=method, data=json.dumps(body).encode() if body else None,
                                 headers={"Authorization": AUTH, "Content-Type": "application/json",
                                          "Accept": "application/vnd.mx.api.v1+json"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.loads(resp.read() or b"null")


def wait_for(user_guid, member_guid, expect="CONNECTED", timeout=30.0):
    """Polls the member's status until its job is over; it must have ended in `expect`."""
    deadline = time.monotonic() + timeout
    while True:
        status = call("GET", f"/users/{user_guid}/members/{member_guid}/status")["member"]
        done = not status["is_being_aggregated"] and status["connection_status"] not in ("CREATED", "RESUMED")
        if done and status["connection_status"] == expect:
            return status
        if done or time.monotonic() > deadline:
            raise RuntimeError(f"member {member_guid} is {status['connection_status']} "
                               f"(is_being_aggregated={status['is_being_aggregated']}), expected {expect}")
        time.sleep(0.2)


def seed():
    run = uuid.uuid4().hex[:10]

    def user(tag):
        return call("POST", "/users", {"user": {"id": f"st-{tag}-{run}", "metadata": "schemathesis"}})["user"]["guid"]

    def member(user_guid, password, skip_aggregation=True):
        body = {"member": {"institution_code": "mxbank", "skip_aggregation": skip_aggregation, "credentials": [
            {"guid": LOGIN_CRD, "value": "mxuser"}, {"guid": PASSWORD_CRD, "value": password}]}}
        return call("POST", f"/users/{user_guid}/members", body)["member"]["guid"]

    def manual_account(user_guid, name, account_type):
        return call("POST", f"/users/{user_guid}/accounts", {"account": {
            "name": name, "account_type": account_type, "balance": 1000, "metadata": "schemathesis"}})["account"]

    main_user, doomed_user = user("main"), user("doomed")
    main_member = member(main_user, "password", skip_aggregation=False)
    challenged = member(main_user, "challenge", skip_aggregation=False)
    wait_for(main_user, main_member, "CONNECTED")
    status = wait_for(main_user, challenged, "CHALLENGED")
    # One job per member at a time: each action waits for the previous one to end.
    base = f"/users/{main_user}/members/{main_member}"
    for action in ("verify", "identify", "fetch_statements"):
        call("POST", f"{base}/{action}")
        wait_for(main_user, main_member)
    accounts = call("GET", f"{base}/accounts?records_per_page=100")["accounts"]
    txs = call("GET", f"/users/{main_user}/transactions?records_per_page=1000")["transactions"]
    holdings = call("GET", f"/users/{main_user}/investment_holdings?records_per_page=100")["investment_holdings"]
    statements = call("GET", f"{base}/statements?records_per_page=100")["statements"]
    numbers = call("GET", f"{base}/account_numbers?records_per_page=100")["account_numbers"]
    owners = call("GET", f"{base}/account_owners?records_per_page=100")["account_owners"]
    if not (accounts and txs and holdings and statements and numbers and owners):
        raise RuntimeError(f"the aggregated member has {len(accounts)} accounts, {len(txs)} transactions, "
                           f"{len(holdings)} holdings, {len(statements)} statements, {len(numbers)} account numbers "
                           f"and {len(owners)} account owners")
    manual = manual_account(main_user, "st manual", "PROPERTY")
    doomed_account = manual_account(main_user, "st doomed", "CASH")["guid"]
    # A few transactions spread over the list (newest first: PENDING ones, then POSTED).
    picks = sorted({0, len(txs) // 3, 2 * len(txs) // 3, len(txs) - 1})
    hook = call("POST", "/admin/webhooks", {"webhook": {"url": "http://127.0.0.1:9/st-hook", "event_types": ["MEMBER"]}})
    doomed_hook = call("POST", "/admin/webhooks", {"webhook": {"url": "http://127.0.0.1:9/st-doomed"}})
    return dict(user=main_user, member=main_member,
                webhook=hook["webhook"]["guid"], doomed_webhook=doomed_hook["webhook"]["guid"],
                accounts=[a["guid"] for a in accounts],
                transactions=[txs[i]["guid"] for i in picks],
                # updateTransactionByAccount gets a transaction with its own account.
                transaction_account=txs[picks[0]]["account_guid"],
                holdings=[h["guid"] for h in holdings],
                statements=[s["guid"] for s in statements],
                manual_member=manual["member_guid"], manual_account=manual["guid"], doomed_account=doomed_account,
                challenged_member=challenged,
                # text:1's guid, plus the follow-up question's (answering `challenge` leads there).
                challenges=sorted({c["guid"] for c in status["challenges"]} | {"CRD-1b2a7f6e-0000-4000-8000-000000000002"}),
                doomed_user=doomed_user, doomed_member=member(main_user, f"st-doomed-{run}"))


def patched_spec(ids, dest):
    """Copy of the document with the guids as path-parameter examples; deletes get the spare
    objects and resumeAggregation the CHALLENGED member, with a right answer as its body's example."""
    if SPEC:
        spec = yaml.safe_load(SPEC.read_text())
    else:
        with urllib.request.urlopen(URL + "/openapi.json", timeout=30) as resp:
            spec = json.loads(resp.read())
    params = spec["components"]["parameters"]
    params["userGuid"]["example"] = ids["user"]
    params["memberGuid"]["example"] = ids["member"]
    params["accountGuid"]["example"] = ids["accounts"][0]
    params["transactionGuid"]["example"] = ids["transactions"][0]
    params["holdingGuid"]["example"] = ids["holdings"][0]
    params["statementGuid"]["example"] = ids["statements"][0]
    doomed = {"deleteUser": ("userGuid", ids["doomed_user"]), "deleteMember": ("memberGuid", ids["doomed_member"]),
              "deleteManualAccount": ("accountGuid", ids["doomed_account"]),
              "resumeAggregation": ("memberGuid", ids["challenged_member"])}
    for item in spec["paths"].values():
        for op in item.values():
            if isinstance(op, dict) and op.get("operationId") == "resumeAggregation":
                # The examples phase sends this first: a right answer, so one resume gets its 202.
                op["requestBody"]["content"]["application/json"]["example"] = {
                    "member": {"challenges": [{"guid": ids["challenges"][0], "value": "correct"}]}}
            if isinstance(op, dict) and op.get("operationId") in doomed:
                name, guid = doomed[op["operationId"]]
                op["parameters"] = [dict(params[name], example=guid)
                                    if p.get("$ref") == f"#/components/parameters/{name}" else p
                                    for p in op["parameters"]]
    dest.write_text(json.dumps(spec))
    return dest


def toml_list(values):
    return "[" + ", ".join(json.dumps(v) for v in values) + "]"


def config(ids):
    # Dictionaries feed real values; the 0.1 left over keeps random (mostly 404) ones in the mix.
    return f"""
[auth]
basic = {{ username = "${{FERRY_CLIENT_ID}}", password = "${{FERRY_API_KEY}}" }}

[dictionaries.users]
values = {toml_list([ids["user"]])}
[dictionaries.members]
values = {toml_list([ids["member"], ids["manual_member"]])}
[dictionaries.institutions]
values = ["mxbank", "mx_bank_oauth"]
[dictionaries.credentials]
values = {toml_list([LOGIN_CRD, PASSWORD_CRD])}
[dictionaries.accounts]
values = {toml_list(ids["accounts"] + [ids["manual_account"]])}
[dictionaries.transactions]
values = {toml_list(ids["transactions"])}
[dictionaries.challenges]
values = {toml_list(ids["challenges"])}
[dictionaries.holdings]
values = {toml_list(ids["holdings"])}
[dictionaries.statements]
values = {toml_list(ids["statements"])}

[parameters]
"path.user_guid" = {{ dictionary = "users", probability = 0.9 }}
"path.member_guid" = {{ dictionary = "members", probability = 0.9 }}
"path.institution_code" = {{ dictionary = "institutions", probability = 0.9 }}
"body.member.institution_code" = {{ dictionary = "institutions", probability = 0.7 }}
"body.member.credentials[*].guid" = {{ dictionary = "credentials", probability = 0.7 }}
"path.account_guid" = {{ dictionary = "accounts", probability = 0.9 }}
"path.transaction_guid" = {{ dictionary = "transactions", probability = 0.9 }}
"body.member.challenges[*].guid" = {{ dictionary = "challenges", probability = 0.7 }}
"path.holding_guid" = {{ dictionary = "holdings", probability = 0.9 }}
"path.statement_guid" = {{ dictionary = "statements", probability = 0.9 }}

# Deletes always get objects of their own (a plain value is forced in every phase; the examples
# phase would otherwise also try the main user's guid), so the rest of the run keeps its user and member.
[[operations]]
include-operation-id = "deleteUser"
parameters = {{ "path.user_guid" = {json.dumps(ids["doomed_user"])} }}

[[operations]]
include-operation-id = "deleteMember"
parameters = {{ "path.member_guid" = {json.dumps(ids["doomed_member"])} }}

[[operations]]
include-operation-id = "deleteManualAccount"
parameters = {{ "path.user_guid" = {json.dumps(ids["user"])}, "path.account_guid" = {json.dumps(ids["doomed_account"])} }}

# Body-heavy operations: force the real objects so generated bodies reach validation, not a 404.
[[operations]]
include-operation-id = ["createMember", "updateUser", "createManualAccount", "updateTransaction"]
parameters = {{ "path.user_guid" = {json.dumps(ids["user"])} }}

# Every field of a manual account can be updated (an aggregated one takes only three).
[[operations]]
include-operation-id = "updateAccountByMember"
parameters = {{ "path.user_guid" = {json.dumps(ids["user"])}, "path.member_guid" = {json.dumps(ids["manual_member"])}, "path.account_guid" = {json.dumps(ids["manual_account"])} }}

[[operations]]
include-operation-id = "updateTransactionByAccount"
parameters = {{ "path.user_guid" = {json.dumps(ids["user"])}, "path.member_guid" = {json.dumps(ids["member"])}, "path.account_guid" = {json.dumps(ids["transaction_account"])}, "path.transaction_guid" = {json.dumps(ids["transactions"][0])} }}

[[operations]]
include-operation-id = "updateMember"
parameters = {{ "path.user_guid" = {json.dumps(ids["user"])}, "path.member_guid" = {json.dumps(ids["member"])} }}

# Answers go to the member left CHALLENGED (the first one that fits ends its challenge: REJECTED,
# CONNECTED or a follow-up question; later ones are 400s), never to the aggregated member.
[[operations]]
include-operation-id = "resumeAggregation"
parameters = {{ "path.user_guid" = {json.dumps(ids["user"])}, "path.member_guid" = {json.dumps(ids["challenged_member"])} }}

# Webhook endpoints only ever point at a closed loopback port (never at the internet).
[[operations]]
include-operation-id = "createWebhook"
parameters = {{ "body.webhook.url" = "http://127.0.0.1:9/st-fuzz" }}

[[operations]]
include-operation-id = "deleteWebhook"
parameters = {{ "path.webhook_guid" = {json.dumps(ids["doomed_webhook"])} }}

[phases.stateful]
max-steps = 20
"""


def main():
    if SPEC and not SPEC.is_file():
        sys.exit(f"spec not found: {SPEC}")
    try:
        ids = seed()
    except urllib.error.HTTPError as e:
        sys.exit(f"creating the seed user/members failed: HTTP {e.code} {e.read().decode(errors='replace')}")
    except RuntimeError as e:
        sys.exit(f"aggregating the seed member failed: {e}")
    print(f"schemathesis seed objects: {json.dumps(ids)}", flush=True)
    print(f"spec: {SPEC or URL + '/openapi.json'} (path-parameter examples replaced by the objects above)", flush=True)
    work = pathlib.Path(tempfile.mkdtemp(prefix="ferry-st-"))
    try:
        (work / "schemathesis.toml").write_text(config(ids))
        spec = patched_spec(ids, work / "openapi.json")
        st = shutil.which("st", path=os.path.dirname(sys.executable)) or shutil.which("st") or "st"
        cmd = [st, "--config-file", str(work / "schemathesis.toml"), "run", str(spec),
               "--url", URL,
               "--checks", CHECKS,
               "--max-examples", os.environ.get("FERRY_COMPAT_ST_MAX_EXAMPLES", "25"),
               "--phases", os.environ.get("FERRY_COMPAT_ST_PHASES", "examples,coverage,fuzzing,stateful"),
               "--workers", os.environ.get("FERRY_COMPAT_ST_WORKERS", "1"),
               "--generation-database", "none",
               "--request-timeout", "30",
               "--no-color"]
        for op in (MX_OPERATIONS if SPEC else []):
            cmd += ["--include-operation-id", op]
        if os.environ.get("FERRY_COMPAT_ST_SEED"):
            cmd += ["--seed", os.environ["FERRY_COMPAT_ST_SEED"]]
        if os.environ.get("FERRY_COMPAT_ST_REPORT_DIR"):
            cmd += ["--report", "junit", "--report-dir", os.environ["FERRY_COMPAT_ST_REPORT_DIR"]]
        cmd += sys.argv[1:]
        print("+ " + " ".join(cmd), flush=True)
        return subprocess.call(cmd, cwd=work)  # cwd: keeps stray .hypothesis/ reports out of the repo
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
