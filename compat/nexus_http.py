"""The Nexus dialect over plain HTTP (stdlib only): API token -> session -> members -> status ->
job -> accounts -> transactions -> duplicates 4220 -> stale credentials -> bad sessions 4011
-> the same member through the Platform API -> delete; every answer, errors too, in the Nexus
media type. (Session expiry by time is tested in the Rust tests with the injected clock.)

Environment: FERRY_URL, FERRY_CLIENT_ID, FERRY_API_KEY (set by compat/run.sh).
"""

import base64
import json
import os
import sys
import time
import urllib.error
import urllib.request

URL = os.environ["FERRY_URL"].rstrip("/")
BASIC = "Basic " + base64.b64encode(f"{os.environ['FERRY_CLIENT_ID']}:{os.environ['FERRY_API_KEY']}".encode()).decode()
NEXUS = "application/vnd.mx.nexus.v1+json"
MXBANK = "INS-1572a04c-912b-59bf-5841-332c7dfafaef"
LOGIN = "CRD-9f61fb4c-912c-bd1e-b175-ccc7f0275cc1"
PASSWORD = "CRD-e3d7ea81-aac7-05e9-fbdd-4b493c6e474d"

steps = 0
nexus_answers = []  # (method, path, status, Content-Type) of every answer in the Nexus dialect


def step(name, ok, detail=""):
    global steps
    steps += 1
    print(f"{'ok' if ok else 'FAIL'} {steps:2d} {name}{(': ' + str(detail)) if detail else ''}")
    if not ok:
        sys.exit(1)


def call(method, path, headers, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(URL + path, data=data, method=method, headers=headers)
    if data is not None:
        req.add_header("Content-Type", headers.get("Accept", "application/json"))
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            status, ctype, raw = r.status, r.headers.get("Content-Type", ""), r.read()
    except urllib.error.HTTPError as e:
        status, ctype, raw = e.code, e.headers.get("Content-Type", ""), e.read()
    if "MD-API-TOKEN" in headers or "MD-SESSION-TOKEN" in headers:
        nexus_answers.append((method, path, status, ctype))
    return status, ctype, json.loads(raw) if raw else None


def platform(method, path, body=None):
    return call(method, path, {"Authorization": BASIC, "Accept": "application/vnd.mx.api.v1+json"}, body)


def main():
    status, _, body = platform("POST", "/users", {"user": {}})
    user = body["user"]["guid"]
    status, _, body = platform("POST", f"/users/{user}/api_token", {})
    step("api token (Platform side)", status == 200 and body["api_token"]["token"], status)
    token = body["api_token"]["token"]

    status, ctype, body = call("POST", "/sessions", {"MD-API-TOKEN": token, "Accept": NEXUS})
    step("session", status == 200 and ctype.startswith(NEXUS) and body["session"]["token"], status)
    session = body["session"]["token"]
    status, _, body = call("POST", "/sessions", {"MD-API-TOKEN": token, "Accept": NEXUS})
    step("an API token works once (4011)", status == 401 and body["error"]["code"] == 4011, body)

    h = {"MD-SESSION-TOKEN": session, "Accept": NEXUS}
    # A Nexus client learns the institution_guid it creates members with from the catalog.
    status, _, body = call("GET", "/institutions?name=MX%20Bank", h)
    guids = [i.get("guid") for i in body.get("institutions", [])]
    step("institutions carry their guid", status == 200 and MXBANK in guids and all(guids), guids)
    status, _, body = call("GET", f"/institutions/{MXBANK}", h)
    step("an institution carries its guid", status == 200 and body["institution"].get("guid") == MXBANK, body)
    status, _, body = call("GET", f"/institutions/{MXBANK}/credentials", h)
    fields = {c["field_name"]: c["guid"] for c in body["credentials"]}
    step("institution credentials", fields == {"LOGIN": LOGIN, "PASSWORD": PASSWORD}, fields)

    external = f"ext-{time.time_ns()}"

    def create(password, ext):
        return call("POST", "/members", h, {"member": {"institution_guid": MXBANK, "external_guid": ext, "credentials": [
            {"guid": LOGIN, "value": "mxuser"}, {"guid": PASSWORD, "value": password}]}})

    status, ctype, body = create("password", external)
    step("create member", status == 202 and ctype.startswith(NEXUS) and body["member"]["external_guid"] == external, body)
    member = body["member"]["guid"]
    step("connection_status_id", isinstance(body["member"]["connection_status_id"], int), body["member"]["connection_status_id"])

    deadline = time.time() + 30
    while True:
        status, _, body = call("GET", f"/members/{member}", h)
        m = body["member"]
        if m["connection_status"] == "CONNECTED" and not m["is_being_aggregated"]:
            break
        if time.time() > deadline:
            step("member connects", False, m)
        time.sleep(0.2)
    step("member connects", m["connection_status_id"] == 6 and isinstance(m["revision"], int), m["connection_status_id"])

    status, _, body = call("GET", f"/jobs/{m['job_guid']}", h)
    step("job", status == 200 and body["job"]["member_guid"] == member and body["job"]["status_name"] == "CONNECTED", body)
    status, _, body = call("GET", "/accounts", h)
    step("accounts", status == 200 and len(body["accounts"]) == 6, len(body["accounts"]))
    status, _, body = call("GET", "/transactions?records_per_page=25", h)
    step("transactions", status == 200 and body["pagination"]["total_entries"] > 100, body["pagination"])

    status, _, body = create("password", None)
    step("duplicate member (422, 4220)", status == 422 and body["error"]["code"] == 4220, body)
    status, _, body = create("other", external)
    step("duplicate external_guid (4220)", status == 422 and body["error"]["code"] == 4220, body)
    status, _, body = call("POST", "/members", h, {"member": {"institution_guid": MXBANK, "credentials": [
        {"guid": "CRD-00000000-0000-4000-8000-000000000000", "value": "x"}]}})
    step("stale credential guids (400)", status == 400 and "no longer valid" in body["error"]["message"], body)

    status, _, body = call("GET", "/members", {"MD-SESSION-TOKEN": "not-a-session", "Accept": NEXUS})
    step("unknown session (401, 4011)", status == 401 and body["error"]["code"] == 4011, body)
    status, _, body = call("GET", "/members", {"MD-SESSION-TOKEN": session, "Accept": "text/html"})
    step("wrong media type (406)", status == 406 and body["error"]["code"] == 4060, body)

    status, _, body = platform("GET", f"/users/{user}/members/{member}")
    step("the same member through the Platform API", status == 200 and body["member"]["id"] == external, body["member"]["id"])

    status, _, body = call("DELETE", f"/members/{member}", h)
    step("delete (200 {})", status == 200 and body == {}, body)
    status, _, _ = call("GET", f"/members/{member}", h)
    step("deleted member is gone", status == 404, status)
    other = [a for a in nexus_answers if not a[3].startswith(NEXUS)]
    step(f"every Nexus answer ({len(nexus_answers)}, errors too) is {NEXUS}", not other, other)
    print(f"nexus: {steps} steps passed")


if __name__ == "__main__":
    main()
