"""The OAuth scenario: members at mx_bank_oauth authorized and denied on the sandbox bank's page,
urllib playing the end user's browser with redirects not followed, and a callback that sends
the browser on to the app's client_redirect_url.
"""
import html.parser
import json
import re
import urllib.error
import urllib.parse
import urllib.request

from mx_platform_python import MemberCreateRequest, MemberCreateRequestBody

from .harness import (
    ACCOUNT_TYPES, accounts_api, assert_member, check, check_connected_status, delete_user, expect_api_error,
    expect_status, members, new_user, step, wait_for_member, widgets,
)

OAUTH_BANK = "mx_bank_oauth"
APP_REDIRECT = "https://app.example.com/done"


def run():
    st = {}
    user = step("oauth: create user", lambda: new_user("oauth"))

    def create():
        st["created"] = create_oauth_member(user)
    step(f"create member at {OAUTH_BANK} (is_oauth: true, no credentials) -> 200, PENDING, oauth_window_uri", create)
    member = st["created"].guid

    def fresh_window():
        st["uri"] = request_window(member, user, referral_source="BROWSER")
        check(st["uri"] != st["created"].oauth_window_uri, "the same URI as at creation")
        s = members.read_member_status(member, user).member
        check(s.connection_status == "PENDING" and not s.is_being_aggregated,
              f"status {s.connection_status} is_being_aggregated {s.is_being_aggregated}")
    step("request_o_auth_window_uri (referral_source BROWSER) -> 200 with a fresh URI; still PENDING", fresh_window)

    def window():
        st["bank"], st["state"] = open_window(st["uri"])
    step("browser: GET the window URI -> 302 to /oauth/sandbox/authorize (code, PKCE S256, state)", window)

    def page():
        st["action"], st["hidden"] = bank_page(st["bank"], st["state"])
    step("GET the bank's page -> 200 HTML form: hidden fields, buttons decision=authorize / deny", page)

    def authorize():
        st["callback"], q = decide(st["action"], st["hidden"], "authorize", st["state"])
        check(q.get("code") and "error" not in q, f"callback query {sorted(q)}")
    step("POST the form with decision=authorize -> 303 to /oauth/callback?code=…&state=…", authorize)

    step("GET the callback -> 200 page posting mx/client/oauthComplete, status success",
         lambda: completion_page(st["callback"], member, "success"))

    def spent():
        status, _, _ = visit(st["uri"])
        check(status == 410, f"window URI again: HTTP {status}, expected 410")
        status, _, text = visit(st["callback"])
        check(status == 400, f"callback again: HTTP {status}, expected 400: {text[:200]!r}")
    step("the used window URI -> 410; the callback again -> 400", spent)

    def connected():
        check_connected_status(wait_for_member(member, user, "CONNECTED"))
        accts = accounts_api.list_member_accounts(user, member).accounts or []
        check(sorted(a.type for a in accts) == ACCOUNT_TYPES, f"account types {sorted(a.type for a in accts)}")
        check(all(a.member_guid == member for a in accts), "an account of another member")
    step("poll read_member_status until CONNECTED and aggregated; list_member_accounts -> 6", connected)

    def one_per_institution():
        body = expect_api_error(lambda: members.create_member(user, oauth_member_body()), 409)
        check((body or {}).get("error", {}).get("guid") == member, f"409 body {body}")
    step(f"a second OAuth member of the same user at {OAUTH_BANK} -> 409 naming the first", one_per_institution)

    user2 = step("deny: a second user", lambda: new_user("oauth-deny"))

    def create2():
        st["member2"] = create_oauth_member(user2).guid
    step(f"create member at {OAUTH_BANK} (is_oauth: true) -> 200, PENDING", create2)
    member2 = st["member2"]

    def deny():
        uri = request_window(member2, user2)
        bank, state = open_window(uri)
        action, hidden = bank_page(bank, state)
        st["deny_callback"], q = decide(action, hidden, "deny", state)
        check(q.get("error") == "access_denied" and "code" not in q, f"callback query {q}")
    step("window URI -> bank's page -> decision=deny -> 303 to /oauth/callback?error=access_denied&state=…", deny)

    step("GET the callback -> 200 page posting mx/client/oauthComplete, status error, error_reason DENIED",
         lambda: completion_page(st["deny_callback"], member2, "error", "DENIED"))

    def denied():
        s = members.read_member_status(member2, user2).member
        check(s.connection_status == "DENIED" and not s.is_being_aggregated,
              f"status {s.connection_status} is_being_aggregated {s.is_being_aggregated}")
        check(not accounts_api.list_member_accounts(user2, member2).accounts, "accounts after a denial")
    step("the member is DENIED, not aggregating, no accounts", denied)

    def app():
        uri = request_window(member2, user2, referral_source="APP", client_redirect_url=APP_REDIRECT)
        bank, state = open_window(uri)
        action, hidden = bank_page(bank, state)
        callback, _ = decide(action, hidden, "authorize", state)
        status, headers, _ = visit(callback)
        check(status == 302, f"callback: HTTP {status}, expected 302")
        to = headers.get("Location") or ""
        parts = urllib.parse.urlsplit(to)
        q = urllib.parse.parse_qs(parts.query)
        check(f"{parts.scheme}://{parts.netloc}{parts.path}" == APP_REDIRECT, f"Location {to!r}")
        check(q.get("status") == ["success"] and q.get("member_guid") == [member2], f"Location query {q}")
    step(f"again with referral_source APP, client_redirect_url {APP_REDIRECT}: Authorize -> the callback "
         "302s to it with status=success&member_guid=…", app)

    def reconnected():
        check_connected_status(wait_for_member(member2, user2, "CONNECTED"))
        n = len(accounts_api.list_member_accounts(user2, member2).accounts or [])
        check(n == len(ACCOUNT_TYPES), f"{n} accounts")
    step("the member (DENIED before) polls to CONNECTED; 6 accounts", reconnected)

    def cleanup():
        delete_user(user)
        delete_user(user2)
    step("delete both users -> 204", cleanup)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # the browser's steps are checked one at a time


_browser = urllib.request.build_opener(_NoRedirect)


def visit(url, form=None):
    """The end user's browser: one GET (or a form POST), redirects not followed.
    Returns (status, headers, text)."""
    data = urllib.parse.urlencode(form).encode() if form is not None else None
    try:
        with _browser.open(urllib.request.Request(url, data=data), timeout=30) as r:
            return r.status, r.headers, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read().decode()


def redirected(answer, base, want_status, want_path):
    """Checks a redirect answer of visit(); returns its absolute target and query parameters."""
    status, headers, text = answer
    check(status == want_status, f"HTTP {status}, expected {want_status}: {text[:200]!r}")
    to = urllib.parse.urljoin(base, headers.get("Location") or "")
    parts = urllib.parse.urlsplit(to)
    check(parts.path == want_path, f"Location {to!r}, expected the path {want_path}")
    return to, {k: v[0] for k, v in urllib.parse.parse_qs(parts.query).items()}


class BankPage(html.parser.HTMLParser):
    """The sandbox bank's authorization page: its form, hidden inputs and submit buttons."""

    def __init__(self):
        super().__init__()
        self.action, self.method, self.hidden, self.buttons = None, None, [], []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self.action, self.method = a.get("action"), (a.get("method") or "get").lower()
        elif tag == "input" and a.get("type") == "hidden":
            self.hidden.append((a["name"], a.get("value") or ""))
        elif tag == "button":
            self.buttons.append((a.get("name"), a.get("value")))


def oauth_member_body():
    return MemberCreateRequestBody(member=MemberCreateRequest(institution_code=OAUTH_BANK, is_oauth=True, credentials=[]))


def create_oauth_member(user):
    r = members.create_member_with_http_info(user, oauth_member_body())
    expect_status(r, 200)
    m = r.data.member
    assert_member(m, user, OAUTH_BANK)
    check(m.is_oauth is True, f"is_oauth {m.is_oauth!r}")
    check(m.connection_status == "PENDING", f"connection_status {m.connection_status!r}")
    check(re.match(r"https?://", m.oauth_window_uri or ""), f"oauth_window_uri {m.oauth_window_uri!r}")
    return m


def request_window(member, user, **opts):
    r = widgets.request_o_auth_window_uri_with_http_info(member, user, **opts)
    expect_status(r, 200)
    m = r.data.member
    check(m is not None and m.guid == member, f"member {m.to_dict() if m else None}")
    check(re.match(r"https?://", m.oauth_window_uri or ""), f"oauth_window_uri {m.oauth_window_uri!r}")
    return m.oauth_window_uri


def open_window(uri):
    """GET the window URI -> 302 to the bank's authorization URL (code flow, PKCE S256)."""
    to, q = redirected(visit(uri), uri, 302, "/oauth/sandbox/authorize")
    check(q.get("response_type") == "code", f"response_type {q.get('response_type')!r}")
    check(q.get("code_challenge_method") == "S256" and len(q.get("code_challenge", "")) >= 43,
          f"code_challenge {q.get('code_challenge')!r} ({q.get('code_challenge_method')!r})")
    check(q.get("state") and q.get("client_id"), f"state/client_id {q.get('state')!r}/{q.get('client_id')!r}")
    check((q.get("redirect_uri") or "").endswith("/oauth/callback"), f"redirect_uri {q.get('redirect_uri')!r}")
    return to, q["state"]


def bank_page(url, state):
    """GET the bank's page -> its form: hidden fields (state among them), Authorize and Deny."""
    status, headers, text = visit(url)
    check(status == 200, f"HTTP {status}: {text[:200]!r}")
    check((headers.get("Content-Type") or "").startswith("text/html"), f"Content-Type {headers.get('Content-Type')!r}")
    page = BankPage()
    page.feed(text)
    check(page.buttons == [("decision", "authorize"), ("decision", "deny")], f"buttons {page.buttons}")
    check(page.method == "post" and urllib.parse.urlsplit(page.action or "").path == "/oauth/sandbox/authorize",
          f"form {page.method} {page.action!r}")
    check(dict(page.hidden).get("state") == state, f"hidden fields {[n for n, _ in page.hidden]}, state differs")
    return urllib.parse.urljoin(url, page.action), page.hidden


def decide(action, hidden, decision, state):
    """POST the form with decision=... -> 303 to Ferry's callback; returns (url, query)."""
    to, q = redirected(visit(action, hidden + [("decision", decision)]), action, 303, "/oauth/callback")
    check(q.get("state") == state, f"callback state {q.get('state')!r}")
    return to, q


def completion_page(url, member, status, reason=None):
    """GET the callback -> 200 HTML that posts MX's mx/client/oauthComplete to the opener."""
    code, headers, text = visit(url)
    check(code == 200, f"HTTP {code}: {text[:300]!r}")
    check((headers.get("Content-Type") or "").startswith("text/html"), f"Content-Type {headers.get('Content-Type')!r}")
    check("mx/client/oauthComplete" in text, "no mx/client/oauthComplete message in the page")
    m = re.search(r"var m=(\{.*?\});", text)
    check(m, "no message object in the page's script")
    message = json.loads(m.group(1))
    meta = message.get("metadata") or {}
    check(message.get("type") == "mx/client/oauthComplete" and meta.get("member_guid") == member
          and meta.get("status") == status and meta.get("error_reason") == reason,
          f"message {message}, expected status {status} error_reason {reason} for {member}")
