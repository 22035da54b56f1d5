"""The webhooks scenario: a receiver in this process on 127.0.0.1, registered with POST
/admin/webhooks (the server needs FERRY_WEBHOOKS_ALLOW_LOOPBACK=1); one member's created,
updated, aggregation, balance, history and deleted events checked for order, payloads,
X-Callback-Payload, signatures, event ids and the delivery log; the endpoint deleted at the end,
also when a step fails.
"""
import base64
import hashlib
import hmac
import http.server
import json
import re
import threading
import time
import urllib.error
import urllib.request

from .harness import (
    API_KEY, CLIENT_ID, RUN, URL, CheckFailed, assert_member, check, delete_user, expect_status, member_action,
    members, mxbank_member_body, new_user, step, transactions_api, wait_for_member,
)

BASIC = "Basic " + base64.b64encode(f"{CLIENT_ID}:{API_KEY}".encode()).decode()
WEBHOOK_SEQUENCE = ["MEMBER.created", "MEMBER.updated", "AGGREGATION.member_data_updated",
                    "AGGREGATION.member_data_updated", "BALANCE.member_data_updated",
                    "HISTORY.member_data_updated", "MEMBER.deleted"]
CALLBACK_CREATE = base64.b64encode(f"create {RUN}".encode()).decode()
CALLBACK_AGGREGATE = base64.b64encode(f"aggregate {RUN}".encode()).decode()


def run():
    st = {}
    receiver = WebhookReceiver()
    try:
        webhooks_steps(st, receiver)
    finally:
        if st.get("endpoint"):  # never leave an endpoint behind for the scenarios and suites after this one
            admin("DELETE", f"/admin/webhooks/{st['endpoint']}")
        receiver.close()


def webhooks_steps(st, receiver):
    def register():
        status, body = admin("POST", "/admin/webhooks", {"webhook": {"url": receiver.url, "event_types": []}})
        check(status == 200, f"HTTP {status}: {body}")
        w = body["webhook"]
        st["endpoint"], st["secret"] = w.get("guid"), w.get("secret")
        check(w.get("url") == receiver.url and w.get("event_types") == [], f"webhook {w}")
        check(isinstance(st["secret"], str) and len(st["secret"]) >= 32, f"secret {st['secret']!r}")
        status, body = admin("GET", "/admin/webhooks")
        listed = [x for x in (body or {}).get("webhooks", []) if x.get("guid") == st["endpoint"]]
        check(status == 200 and len(listed) == 1, f"GET /admin/webhooks: HTTP {status}, {body}")
        check("secret" not in listed[0], "the listing shows the secret again")
    step("webhooks: receiver on 127.0.0.1; POST /admin/webhooks -> 200 with the secret (listed without it)", register)

    user = step("create user", lambda: new_user("hooks"))

    def create():
        r = members.create_member_with_http_info(user, mxbank_member_body("password", False),
                                                 x_callback_payload=CALLBACK_CREATE)
        expect_status(r, 202)
        assert_member(r.data.member, user)
        st["member"] = r.data.member.guid
    step("create member (password 'password', x_callback_payload) -> 202", create)
    member = st["member"]

    step("poll until CONNECTED", lambda: wait_for_member(member, user, "CONNECTED"))

    # Each action's 202 shows the job queued (is_being_aggregated), so polling until it is over
    # waits for that job, however fast the previous one was.
    step("aggregate_member (another x_callback_payload) -> 202; poll until CONNECTED",
         lambda: member_action(lambda m, u: members.aggregate_member_with_http_info(
             m, u, x_callback_payload=CALLBACK_AGGREGATE), member, user, 202))
    step("check_balances -> 202; poll until CONNECTED",
         lambda: member_action(members.check_balances_with_http_info, member, user, 202))
    step("extend_history -> 202; poll until CONNECTED",
         lambda: member_action(transactions_api.extend_history_with_http_info, member, user, 202))

    def delete():
        expect_status(members.delete_member_with_http_info(member, user), 204)
    step("delete member -> 204", delete)

    def arrive():
        deadline = time.monotonic() + 15
        while True:
            got = receiver.of_member(member)
            names = [event_name(d) for d in got]
            if names == WEBHOOK_SEQUENCE or len(names) > len(WEBHOOK_SEQUENCE) or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        check(names == WEBHOOK_SEQUENCE, f"received {names}, expected {WEBHOOK_SEQUENCE}")
        check(all(d["path"] == receiver.path for d in got), f"paths {[d['path'] for d in got]}")
        st["got"] = got
    step("the receiver gets, in order: " + ", ".join(WEBHOOK_SEQUENCE), arrive)
    got = st["got"]

    def payloads():
        created, updated, agg1, agg2, balance, hist, deleted = (d["json"] for d in got)
        check(created["member"]["connection_status"] == "CREATED" and created["member"]["user_guid"] == user,
              f"MEMBER created: {created['member']}")
        check(updated["member"]["connection_status"] == "CONNECTED", f"MEMBER updated: {updated['member']}")
        check(deleted["member"]["guid"] == member, f"MEMBER deleted: {deleted['member']}")
        for p in (agg1, agg2, balance, hist):
            check(p["member_guid"] == member and p["user_guid"] == user, f"{p['type']}: member/user {p}")
        for p in (agg1, agg2, hist):
            check(str(p.get("job_guid", "")).startswith("JOB-"), f"{p['type']}: job_guid {p.get('job_guid')!r}")
        check(len({agg1["job_guid"], agg2["job_guid"], hist["job_guid"]}) == 3, "job guids repeat")
        check(agg1["transactions_created_count"] > 0 and hist["transactions_created_count"] > 0,
              f"transactions_created_count {agg1['transactions_created_count']} / {hist['transactions_created_count']}")
        for d in got:
            check((d["headers"].get("Content-Type") or "").startswith("application/json"),
                  f"{event_name(d)}: Content-Type {d['headers'].get('Content-Type')!r}")
            check(d["headers"].get("Ferry-Event-Type") == event_name(d),
                  f"{event_name(d)}: Ferry-Event-Type {d['headers'].get('Ferry-Event-Type')!r}")
    step("payloads: created CREATED, updated CONNECTED, member_data_updated with member, user and job guids", payloads)

    def callback_payloads():
        want = [CALLBACK_CREATE, CALLBACK_CREATE, CALLBACK_CREATE, CALLBACK_AGGREGATE, None, None, None]
        have = [d["headers"].get("X-Callback-Payload") for d in got]
        check(have == want, f"X-Callback-Payload {list(zip([event_name(d) for d in got], have))}")
    step("X-Callback-Payload: the create's on created/updated/first aggregation, the aggregate's on the second", callback_payloads)

    step("Ferry-Signature verifies (HMAC-SHA256 of t.body with the secret) on every delivery",
         lambda: [verify_signature(st["secret"], d) for d in got])

    def event_ids():
        ids = [d["headers"].get("Ferry-Event-Id") for d in got]
        check(all(ids) and len(set(ids)) == len(ids), f"Ferry-Event-Id {ids}")
        st["ids"] = ids
    step("Ferry-Event-Id: present and unique", event_ids)

    def log():
        status, body = admin("GET", f"/admin/webhooks/deliveries?endpoint_guid={st['endpoint']}&limit=1000")
        check(status == 200, f"HTTP {status}: {body}")
        mine = {d["event_guid"]: d for d in body["deliveries"] if d.get("member_guid") == member}
        check(set(mine) == set(st["ids"]), f"logged {sorted(mine)}, received {sorted(st['ids'])}")
        for d in got:
            logged = mine[d["headers"]["Ferry-Event-Id"]]
            check(logged["status"] == "DELIVERED" and logged["last_status_code"] == 204 and logged["attempts"] == 1
                  and logged["endpoint_guid"] == st["endpoint"] and f"{logged['type']}.{logged['action']}" == event_name(d),
                  f"{event_name(d)} logged as {logged}")
    step("GET /admin/webhooks/deliveries lists them: DELIVERED, one attempt, 204", log)

    def unregister():
        status, body = admin("DELETE", f"/admin/webhooks/{st['endpoint']}")
        check(status == 204, f"HTTP {status}: {body}")
        endpoint, st["endpoint"] = st["endpoint"], None
        status, body = admin("GET", "/admin/webhooks")
        check(status == 200 and all(w.get("guid") != endpoint for w in body["webhooks"]), f"still listed: {body}")
    step("DELETE /admin/webhooks/{guid} -> 204; no longer listed", unregister)

    step("delete user -> 204", lambda: delete_user(user))


def admin(method, path, body=None):
    """Ferry's admin routes (HTTP Basic like the API, plain JSON): (status, parsed body)."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(URL + path, data=data, method=method, headers={"Authorization": BASIC})
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            raw = r.read()
            return r.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as e:
        raw = e.read()
        try:
            return e.code, json.loads(raw) if raw else None
        except ValueError:
            return e.code, raw.decode(errors="replace")


class WebhookReceiver:
    """An HTTP server on 127.0.0.1 that records every request (path, headers, body) and
    answers 204."""

    def __init__(self):
        self.received = []
        self.lock = threading.Lock()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
                with outer.lock:
                    outer.received.append({"path": self.path, "headers": self.headers, "body": body,
                                           "at": time.time()})
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.path = f"/hooks/{RUN}"
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}{self.path}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def of_member(self, member):
        """The deliveries about `member`, in arrival order, with their parsed JSON."""
        with self.lock:
            got = list(self.received)
        out = []
        for r in got:
            try:
                payload = json.loads(r["body"])
            except ValueError:
                raise CheckFailed(f"a delivery is not JSON: {r['body'][:200]!r}")
            if payload.get("member_guid") == member or (payload.get("member") or {}).get("guid") == member:
                out.append(dict(r, json=payload))
        return out

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def event_name(d):
    return f"{d['json'].get('type')}.{d['json'].get('action')}"


def verify_signature(secret, d):
    """Ferry-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, f"{t}.{body}")>."""
    header = d["headers"].get("Ferry-Signature") or ""
    m = re.fullmatch(r"t=(\d+),v1=([0-9a-f]{64})", header)
    check(m, f"{event_name(d)}: Ferry-Signature {header!r}")
    t, v1 = m.groups()
    want = hmac.new(secret.encode(), f"{t}.{d['body']}".encode(), hashlib.sha256).hexdigest()
    check(hmac.compare_digest(want, v1), f"{event_name(d)}: signature {v1} != HMAC-SHA256 {want}")
    check(abs(int(t) - d["at"]) < 300, f"{event_name(d)}: signature time {t}, received at {d['at']:.0f}")
