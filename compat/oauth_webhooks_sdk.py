"""OAuth members and webhooks with MX's Python SDK (mx-platform-python 1.12.0), the browser's
part played with urllib: a webhook receiver on 127.0.0.1 (the server runs with
FERRY_WEBHOOKS_ALLOW_LOOPBACK=1), an OAuth member at MX Bank (OAuth) authorized on the sandbox
bank's page, then the member's webhooks checked: order, payloads, signatures, event ids.

Environment: FERRY_URL, FERRY_CLIENT_ID, FERRY_API_KEY (set by compat/run.sh).
"""

import base64
import hashlib
import hmac
import html.parser
import http.server
import json
import os
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

import mx_platform_python as mx
from mx_platform_python import MemberCreateRequest, MemberCreateRequestBody, UserCreateRequest, UserCreateRequestBody

URL = os.environ["FERRY_URL"].rstrip("/")
CLIENT_ID = os.environ["FERRY_CLIENT_ID"]
API_KEY = os.environ["FERRY_API_KEY"]
BASIC = "Basic " + base64.b64encode(f"{CLIENT_ID}:{API_KEY}".encode()).decode()

steps = 0


def step(name, ok, detail=""):
    global steps
    steps += 1
    print(f"{'ok' if ok else 'FAIL'} {steps:2d} {name}{(': ' + str(detail)) if detail else ''}")
    if not ok:
        sys.exit(1)


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


browser = urllib.request.build_opener(NoRedirect)


def visit(url, form=None):
    data = urllib.parse.urlencode(form).encode() if form is not None else None
    try:
        with browser.open(urllib.request.Request(url, data=data), timeout=30) as r:
            return r.status, r.headers, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read().decode()


class Form(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.fields, self.buttons = [], []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "input" and a.get("type") == "hidden":
            self.fields.append((a["name"], a.get("value", "")))
        if tag == "button":
            self.buttons.append(a.get("value"))


received = []


class Receiver(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
        received.append((self.headers, body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


def main():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    hook_url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    req = urllib.request.Request(f"{URL}/admin/webhooks", method="POST",
                                 data=json.dumps({"webhook": {"url": hook_url}}).encode(),
                                 headers={"Authorization": BASIC, "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        secret = json.load(r)["webhook"]["secret"]
    step("register a webhook endpoint", secret.startswith("whsec_"))

    client = mx.ApiClient(mx.Configuration(host=URL, username=CLIENT_ID, password=API_KEY))
    users, members, widgets = mx.UsersApi(client), mx.MembersApi(client), mx.WidgetsApi(client)
    user = users.create_user(UserCreateRequestBody(user=UserCreateRequest(id=f"oauth-{time.time_ns()}"))).user.guid
    m = members.create_member(user, MemberCreateRequestBody(
        member=MemberCreateRequest(institution_code="mx_bank_oauth", is_oauth=True, credentials=[]))).member
    step("OAuth member is PENDING with a window URI", m.connection_status == "PENDING" and m.oauth_window_uri, m.connection_status)
    member = m.guid
    uri = widgets.request_o_auth_window_uri(member, user, referral_source="BROWSER").member.oauth_window_uri
    step("request_oauth_window_uri", uri and uri != m.oauth_window_uri, uri)

    status, headers, _ = visit(uri)
    step("the window URI leads to the bank", status == 302 and "/oauth/sandbox/authorize?" in headers["Location"], status)
    status, _, page = visit(headers["Location"])
    form = Form()
    form.feed(page)
    step("the bank's page has Authorize and Deny", status == 200 and form.buttons == ["authorize", "deny"], form.buttons)
    status, headers, _ = visit(f"{URL}/oauth/sandbox/authorize", form.fields + [("decision", "authorize")])
    step("Authorize redirects to Ferry's callback", status == 303 and "/oauth/callback?" in headers["Location"], status)
    status, _, page = visit(headers["Location"])
    step("the callback page tells the opener", status == 200 and "mx/client/oauthComplete" in page and '"success"' in page)
    status, _, _ = visit(uri)
    step("a window URI works once", status == 410, status)

    deadline = time.time() + 30
    while True:
        s = members.read_member_status(member, user).member
        if s.connection_status == "CONNECTED" and not s.is_being_aggregated:
            break
        if time.time() > deadline:
            step("member connects", False, s.connection_status)
        time.sleep(0.2)
    step("member connects and aggregates", s.has_processed_transactions)
    members.delete_member(member, user)
    step("delete member", True)

    deadline = time.time() + 15
    wanted = ["MEMBER.created", "MEMBER.updated", "AGGREGATION.member_data_updated", "MEMBER.deleted"]
    while True:
        mine = [(h, json.loads(b)) for h, b in received if member in b]
        kinds = [f"{b['type']}.{b['action']}" for _, b in mine]
        if kinds == wanted or time.time() > deadline:
            break
        time.sleep(0.1)
    step("the member's webhooks arrive in order", kinds == wanted, kinds)
    step("created PENDING, then CONNECTED", mine[0][1]["member"]["connection_status"] == "PENDING"
         and mine[1][1]["member"]["connection_status"] == "CONNECTED")
    ids = [h.get("Ferry-Event-Id") for h, _ in mine]
    step("event ids are unique", len(set(ids)) == len(ids) and all(ids), ids)

    def verify(headers, body):
        t, v1 = (part.split("=", 1)[1] for part in headers["Ferry-Signature"].split(","))
        return hmac.compare_digest(hmac.new(secret.encode(), f"{t}.{body}".encode(), hashlib.sha256).hexdigest(), v1)

    step("signatures verify", all(verify(h, b) for h, b in received if member in b))
    print(f"oauth_webhooks: {steps} steps passed")


if __name__ == "__main__":
    main()
