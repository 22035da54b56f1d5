"""Ferry's server faces driven by published third-party clients (the server runs with
FERRY_SIMPLEFIN=1 FERRY_OFX=1 and FERRY_PUBLIC_URL set to its own URL):

* SimpleFIN: `simplefin4py==0.0.18` (Home Assistant's SimpleFIN client) claims a setup token from
  `ferry simplefin token` (and one from `POST /users/{guid}/simplefin_token`) and reads the
  Account Set with `fetch_data`; it must equal what the Platform API says of the same user
  (accounts, balances with liabilities negated, POSTED transactions with signed amounts, no
  PENDING ones, holdings). A second claim is refused (403), and so is the access once
  `ferry simplefin revoke` revoked it. The query parameters simplefin4py never sends (pending,
  start-date/end-date, account, balances-only) are checked with urllib.
* OFX: `ofxtools==1.1.1`'s `ofxget` command (OFX 1.0.2 and 2.2) signs on with the login and
  password from `ferry ofx password`: its account list is the user's six accounts and none of the
  other user's; the checking, card and investment statements equal the Platform API's POSTED
  transactions (FITID = guid, signed TRNAMT, DTPOSTED = posted_at, NAME = description, 32
  characters at most), balances and positions; another user's ACCTID is not found (2003); a wrong
  password is 15500 and five in a row lock the login (15502, even with the right password; on a
  user of its own). Then ofxget's default flow, which asks for the server's profile first: the
  profile must be one ofxtools reads (the steps above run with --skipprofile).

Each scenario stops at its first failure, the next one still runs; exits non-zero if any failed.

Env: FERRY_URL, FERRY_CLIENT_ID, FERRY_API_KEY, FERRY_DATABASE_URL (the server's database, for the
`ferry simplefin`/`ferry ofx` commands), FERRY_BIN (all set by compat/run.sh); FERRY_MASTER_KEY for
a postgres database. Run: `python compat/faces_clients.py` in a venv with both clients.
"""
import asyncio
import base64
import contextlib
import datetime
import io
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
import warnings
from decimal import Decimal

from ofxtools.Parser import OFXTree
from simplefin4py import SimpleFin
from simplefin4py.exceptions import SimpleFinAuthError, SimpleFinClaimError

# simplefin4py configures the root logger at DEBUG and logs every response body.
logging.getLogger().setLevel(logging.WARNING)
# dataclasses_json warns about keys the protocol lets be null (memo, available-balance).
warnings.filterwarnings("ignore", category=RuntimeWarning, module="dataclasses_json")

URL = os.environ.get("FERRY_URL", "http://127.0.0.1:8080").rstrip("/")
CLIENT_ID = os.environ["FERRY_CLIENT_ID"]
API_KEY = os.environ["FERRY_API_KEY"]
ACCEPT = "application/vnd.mx.api.v1+json"
LOGIN_CRD = "CRD-9f61fb4c-912c-bd1e-b175-ccc7f0275cc1"
PASSWORD_CRD = "CRD-e3d7ea81-aac7-05e9-fbdd-4b493c6e474d"
ACCOUNT_TYPES = sorted(["CHECKING", "SAVINGS", "CREDIT_CARD", "LOAN", "MORTGAGE", "INVESTMENT"])
LIABILITIES = {"CREDIT_CARD", "LOAN", "MORTGAGE", "LINE_OF_CREDIT"}
POLL_INTERVAL, POLL_TIMEOUT = 0.2, 30.0
RUN = uuid.uuid4().hex[:12]
OFX_PASSWORD = f"pw-{RUN}"  # 15 characters: OFX passwords are 8 to 32
OFX_VERSIONS = (102, 220)

created_users = []  # deleted at the end, whatever happens
n_steps = 0
n_failed = 0


# --- steps and checks -----------------------------------------------------------------------

class CheckFailed(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise CheckFailed(msg)


def step(name, fn):
    global n_steps
    n_steps += 1
    try:
        result = fn()
    except CheckFailed as e:
        print(f"FAIL {name}: {e}", flush=True)
        raise
    except Exception as e:
        print(f"FAIL {name}: {type(e).__name__}: {e}", flush=True)
        raise
    print(f"ok   {name}", flush=True)
    return result


def scenario(fn):
    """Runs one scenario; its first failing step ends it (the failure is counted, not raised)."""
    global n_failed
    try:
        fn()
    except Exception:
        n_failed += 1


# --- the Platform API (urllib; amounts are parsed as Decimal) ---------------------------------

BASIC = "Basic " + base64.b64encode(f"{CLIENT_ID}:{API_KEY}".encode()).decode()


def api(method, path, body=None, expect=200):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(URL + path, data=data, method=method,
                                 headers={"Authorization": BASIC, "Accept": ACCEPT, "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            status, raw = r.status, r.read()
    except urllib.error.HTTPError as e:
        status, raw = e.code, e.read()
    check(status == expect, f"{method} {path}: HTTP {status}, expected {expect}: {raw[:300]!r}")
    return json.loads(raw, parse_float=Decimal) if raw else None


def epoch(rfc3339):
    """Epoch seconds (float) of an API time such as 2026-08-28T18:00:00.000Z."""
    return datetime.datetime.fromisoformat(rfc3339.replace("Z", "+00:00")).timestamp()


def signed(t):
    """The API's amount (a magnitude) with the direction of its type: DEBITs are negative."""
    return -t["amount"] if t["type"] == "DEBIT" else t["amount"]


def dec(x):
    return None if x is None else Decimal(str(x))


def differ(got, want):
    """A few ids on either side only, for a failure message."""
    got, want = set(got), set(want)
    return f"(extra {sorted(got - want)[:3]}, missing {sorted(want - got)[:3]})"


def new_user(tag):
    partner_id = f"faces-{tag}-{RUN}"
    user = api("POST", "/users", {"user": {"id": partner_id}})["user"]
    check(user["guid"].startswith("USR-") and user["id"] == partner_id, f"user {user}")
    created_users.append(user["guid"])
    return user["guid"], partner_id


def create_member(user):
    body = {"member": {"institution_code": "mxbank", "credentials": [
        {"guid": LOGIN_CRD, "value": "mxuser"}, {"guid": PASSWORD_CRD, "value": "password"}]}}
    return api("POST", f"/users/{user}/members", body, expect=202)["member"]["guid"]


def wait_connected(pairs):
    """Polls every (user, member) until its job is over; each must end CONNECTED."""
    pending, deadline = set(pairs), time.monotonic() + POLL_TIMEOUT
    while pending:
        for user, member in sorted(pending):
            s = api("GET", f"/users/{user}/members/{member}/status")["member"]
            if not s["is_being_aggregated"] and s["connection_status"] not in ("CREATED", "RESUMED"):
                check(s["connection_status"] == "CONNECTED", f"{member} ended {s['connection_status']}")
                pending.discard((user, member))
        if pending:
            check(time.monotonic() < deadline,
                  f"{sorted(m for _, m in pending)} not CONNECTED after {POLL_TIMEOUT:.0f}s")
            time.sleep(POLL_INTERVAL)


def all_transactions(user):
    out, page = [], 1
    while True:
        body = api("GET", f"/users/{user}/transactions?records_per_page=1000&page={page}"
                          "&from_date=2000-01-01&to_date=2100-01-01")
        out += body["transactions"]
        if page >= body["pagination"]["total_pages"]:
            return out
        page += 1


class Data:
    """What the Platform API says of one user: accounts by guid, transactions, holdings."""

    def __init__(self, user, partner_id):
        self.user, self.partner_id = user, partner_id
        accounts = api("GET", f"/users/{user}/accounts?records_per_page=1000")["accounts"]
        self.accounts = {a["guid"]: a for a in accounts}
        self.transactions = all_transactions(user)
        self.holdings = api("GET", f"/users/{user}/investment_holdings?records_per_page=1000")["investment_holdings"]

    def of_type(self, kind):
        found = [a for a in self.accounts.values() if a["type"] == kind]
        check(len(found) == 1, f"{len(found)} {kind} accounts")
        return found[0]

    def posted(self, account=None):
        return [t for t in self.transactions if t["status"] == "POSTED" and account in (None, t["account_guid"])]

    def pending(self):
        return [t for t in self.transactions if t["status"] == "PENDING"]


# --- the ferry CLI ------------------------------------------------------------------------------

CLI_DIR = tempfile.mkdtemp(prefix="ferry-faces-")  # cwd of the CLI commands and ofxget's HOME


def ferry(*args, as_json=True):
    env = dict(os.environ, FERRY_PUBLIC_URL=URL)
    out = subprocess.run([os.environ["FERRY_BIN"], *args, "--database", os.environ["FERRY_DATABASE_URL"]],
                         capture_output=True, text=True, timeout=60, env=env, cwd=CLI_DIR)
    check(out.returncode == 0, f"ferry {' '.join(args[:2])}: exit {out.returncode}: {out.stderr.strip()[-500:]}")
    return json.loads(out.stdout) if as_json else out.stdout


# --- SimpleFIN ----------------------------------------------------------------------------------

def sf_raw(access, query=""):
    """GET {access}/accounts?query with the access URL's Basic credentials; the parsed body."""
    parts = urllib.parse.urlsplit(access)
    bare = urllib.parse.urlunsplit(parts._replace(netloc=parts.hostname + (f":{parts.port}" if parts.port else "")))
    auth = base64.b64encode(f"{urllib.parse.unquote(parts.username)}:{urllib.parse.unquote(parts.password)}".encode())
    req = urllib.request.Request(bare + "/accounts" + (f"?{query}" if query else ""),
                                 headers={"Authorization": "Basic " + auth.decode()})
    with urllib.request.urlopen(req, timeout=30) as r:
        check(r.status == 200, f"HTTP {r.status}")
        return json.loads(r.read())


def sf_transactions(body):
    """{transaction id: (account id, transaction)} of a raw Account Set."""
    return {t["id"]: (a["id"], t) for a in body["accounts"] for t in a["transactions"]}


def simplefin(a, b):
    st = {}

    def token():
        out = ferry("simplefin", "token", "--client", CLIENT_ID, "--user", a.user, "--json")
        claim_url = base64.b64decode(out["setup_token"]).decode()
        check(claim_url.startswith(f"{URL}/simplefin/claim/"), f"the setup token decodes to {claim_url!r}")
        expires = datetime.datetime.fromisoformat(out["expires_at"][:19] + "+00:00")
        left = expires - datetime.datetime.now(datetime.timezone.utc)
        check(datetime.timedelta(hours=23) < left <= datetime.timedelta(hours=24, minutes=1),
              f"expires_at {out['expires_at']}")
        st["token"] = out["setup_token"]
    step("simplefin: `ferry simplefin token` for user A -> a base64 claim URL on the server, valid 24 h", token)

    def claim():
        access = asyncio.run(SimpleFin.claim_setup_token(st["token"]))
        parts = urllib.parse.urlsplit(access)
        server = urllib.parse.urlsplit(URL)
        check(parts.scheme == server.scheme and (parts.hostname, parts.port) == (server.hostname, server.port)
              and parts.path == "/simplefin" and parts.username and parts.password,
              f"access URL {parts._replace(netloc='USER:SECRET@' + parts.netloc.split('@')[-1]).geturl()!r}")
        st["access"] = access
    step("simplefin: simplefin4py claim_setup_token -> an access URL http://USER:SECRET@host:port/simplefin", claim)

    def claim_again():
        try:
            asyncio.run(SimpleFin.claim_setup_token(st["token"]))
        except SimpleFinClaimError:
            return
        raise CheckFailed("the second claim succeeded")
    step("simplefin: claiming the same token again -> SimpleFinClaimError (403)", claim_again)

    def accounts():
        data = asyncio.run(SimpleFin(st["access"]).fetch_data())
        check(data.errors == [], f"errors {data.errors}")
        got = {acct.id: acct for acct in data.accounts}
        check(set(got) == set(a.accounts), f"account ids {sorted(got)} != the API's {sorted(a.accounts)}")
        for guid, want in a.accounts.items():
            acct = got[guid]
            balance = -want["balance"] if want["type"] in LIABILITIES else want["balance"]
            check(Decimal(acct.balance) == balance, f"{want['name']}: balance {acct.balance} != {balance}")
            check(dec(acct.available_balance) == want["available_balance"],
                  f"{want['name']}: available-balance {acct.available_balance} != {want['available_balance']}")
            check((acct.name, acct.currency) == (want["name"], want["currency_code"]),
                  f"{want['name']}: {acct.name}, {acct.currency}")
            check(int(acct.balance_date.timestamp()) == int(epoch(want["updated_at"])),
                  f"{want['name']}: balance-date {acct.balance_date} != updated_at {want['updated_at']}")
            check(acct.org.sfin_url == f"{URL}/simplefin" and acct.org.name, f"{want['name']}: org {acct.org}")
        st["data"] = data
    step("simplefin: fetch_data -> A's 6 accounts, the API's balances (liabilities negated), currencies, dates",
         accounts)

    def transactions():
        got = {t.id: (acct.id, t) for acct in st["data"].accounts for t in acct.transactions}
        want = {t["guid"]: t for t in a.posted()}
        check(a.pending(), "the API lists no PENDING transaction to leave out")
        check(set(got) == set(want), f"{len(got)} transactions, the API has {len(want)} POSTED {differ(got, want)}")
        for guid, (account, t) in got.items():
            w = want[guid]
            check(account == w["account_guid"], f"{guid} under {account}, not {w['account_guid']}")
            check(Decimal(t.amount) == signed(w), f"{guid}: amount {t.amount} != {signed(w)} ({w['type']})")
            check(t.posted.timestamp() == int(epoch(w["posted_at"])), f"{guid}: posted {t.posted} != {w['posted_at']}")
            check(t.description == (w["original_description"] or w["description"]),
                  f"{guid}: description {t.description!r}")
            check(t.payee == w["description"] and t.memo == w["memo"], f"{guid}: payee {t.payee!r}, memo {t.memo!r}")
            if w["transacted_at"]:
                check(t.transacted_at.timestamp() == int(epoch(w["transacted_at"])),
                      f"{guid}: transacted_at {t.transacted_at}")
    step("simplefin: fetch_data transactions = the API's POSTED ones (ids, signed amounts, posted, "
         "description, payee), no PENDING", transactions)

    def holdings():
        got = {h.id: (acct.id, h) for acct in st["data"].accounts for h in acct.holdings}
        want = {h["guid"]: h for h in a.holdings}
        check(want and set(got) == set(want), f"holdings {sorted(got)} != the API's {sorted(want)}")
        for guid, (account, h) in got.items():
            w = want[guid]
            check((account, h.symbol, Decimal(h.shares), dec(h.market_value)) ==
                  (w["account_guid"], w["symbol"], Decimal(w["quantity"]), w["market_value"]),
                  f"{guid}: {account} {h.symbol} {h.shares} {h.market_value} != {w}")
    step("simplefin: fetch_data holdings = the API's (account, symbol, shares, market-value)", holdings)

    def pending():
        body = sf_raw(st["access"], "pending=1")
        got = sf_transactions(body)
        check(set(got) == {t["guid"] for t in a.transactions},
              f"{len(got)} transactions, the API has {len(a.transactions)}")
        for t in a.pending():
            raw = got[t["guid"]][1]
            check(raw["posted"] == 0 and raw["pending"] is True and Decimal(raw["amount"]) == signed(t),
                  f"pending {t['guid']}: {raw}")
        check(all(raw["pending"] is False for _, raw in got.values() if raw["posted"]), "a posted one marked pending")
    step("simplefin: GET {access}/accounts?pending=1 (urllib) -> the PENDING ones too, posted 0, pending true", pending)

    def window():
        times = sorted({int(epoch(t["posted_at"])) for t in a.posted()})
        start, end = times[len(times) // 3], times[2 * len(times) // 3]
        body = sf_raw(st["access"], f"start-date={start}&end-date={end}")
        got = sf_transactions(body)
        want = {t["guid"] for t in a.posted() if start <= int(epoch(t["posted_at"])) < end}
        check(got.keys() == want,
              f"window [{start}, {end}): {len(got)} transactions, expected {len(want)} {differ(got, want)}")
        check(any(raw["posted"] == start for _, raw in got.values()), "nothing posted at start-date (inclusive)")
    step("simplefin: start-date/end-date -> exactly the transactions with start <= posted < end", window)

    def one_account():
        checking, card = a.of_type("CHECKING")["guid"], a.of_type("CREDIT_CARD")["guid"]
        body = sf_raw(st["access"], f"account={checking}")
        check([x["id"] for x in body["accounts"]] == [checking], f"accounts {[x['id'] for x in body['accounts']]}")
        check({t["id"] for t in body["accounts"][0]["transactions"]} == {t["guid"] for t in a.posted(checking)},
              "the checking account's transactions differ from the API's")
        body = sf_raw(st["access"], f"account={checking}&account={card}")
        check(sorted(x["id"] for x in body["accounts"]) == sorted([checking, card]),
              f"accounts {[x['id'] for x in body['accounts']]}")
    step("simplefin: account=ID -> only that account (repeated: those accounts)", one_account)

    def balances_only():
        body = sf_raw(st["access"], "balances-only=1")
        check(sorted(x["id"] for x in body["accounts"]) == sorted(a.accounts), "accounts differ")
        check(all(x["transactions"] == [] for x in body["accounts"]), "transactions with balances-only=1")
        balances = {x["id"]: Decimal(x["balance"]) for x in body["accounts"]}
        check(balances == {x.id: Decimal(x.balance) for x in st["data"].accounts}, f"balances {balances}")
    step("simplefin: balances-only=1 -> the same balances, empty transaction lists", balances_only)

    def other_user():
        out = api("POST", f"/users/{b.user}/simplefin_token", {})["simplefin_token"]
        check(out["setup_token"] and out["expires_at"], f"simplefin_token {out}")
        access = asyncio.run(SimpleFin.claim_setup_token(out["setup_token"]))
        data = asyncio.run(SimpleFin(access).fetch_data())
        ids = {acct.id for acct in data.accounts}
        check(ids == set(b.accounts), f"B's access reads {sorted(ids)}, not B's {sorted(b.accounts)}")
        check(not ids & set(a.accounts), "B's access reads A's accounts")
        tx = {t.id for acct in data.accounts for t in acct.transactions}
        check(tx == {t["guid"] for t in b.posted()}, "B's transactions differ from the API's")
        st["access_b"] = access
    step("simplefin: POST /users/{B}/simplefin_token -> claimed -> B's accounts only, none of A's", other_user)

    def listed():
        items = ferry("simplefin", "list", "--client", CLIENT_ID, "--json")
        mine = [i for i in items if i["user_guid"] == a.user]
        username = urllib.parse.unquote(urllib.parse.urlsplit(st["access"]).username)
        check(len(mine) == 1 and mine[0]["username"] == username and mine[0]["user_id"] == a.partner_id,
              f"A's access: {mine}")
        check(mine[0]["guid"].startswith("SFA-") and mine[0]["last_used_at"] and mine[0]["revoked_at"] is None,
              f"A's access: {mine[0]}")
        check(urllib.parse.unquote(urllib.parse.urlsplit(st["access"]).password) not in json.dumps(items),
              "the list shows a secret")
        check(any(i["user_guid"] == b.user for i in items), "B's access is not listed")
        st["guid"] = mine[0]["guid"]
    step("simplefin: `ferry simplefin list` -> A's access (username, partner id, used, not revoked), no secret", listed)

    def revoke():
        ferry("simplefin", "revoke", "--client", CLIENT_ID, st["guid"], as_json=False)
        try:
            with contextlib.redirect_stdout(io.StringIO()):  # simplefin4py prints the error it raises
                asyncio.run(SimpleFin(st["access"]).fetch_data())
        except SimpleFinAuthError:
            pass
        else:
            raise CheckFailed("fetch_data still works after the revocation")
        [mine] = [i for i in ferry("simplefin", "list", "--client", CLIENT_ID, "--json") if i["guid"] == st["guid"]]
        check(mine["revoked_at"], f"revoked_at {mine['revoked_at']!r}")
        check(asyncio.run(SimpleFin(st["access_b"]).fetch_data()).accounts, "B's access stopped working too")
    step("simplefin: `ferry simplefin revoke` -> fetch_data raises SimpleFinAuthError (403); B's access still works",
         revoke)


# --- OFX ------------------------------------------------------------------------------------------

OFX_HOME = os.path.join(CLI_DIR, "home")
OFXGET = os.path.join(os.path.dirname(sys.executable), "ofxget")


def ofxget(*args, user=None, password=OFX_PASSWORD, version=220, profile=False):
    """Runs `ofxget ARGS` against the server (signing on as `user` if given; asking for the
    profile first, as ofxget does by default, only with profile=True); returns (raw text,
    converted OFX)."""
    env = dict(os.environ, HOME=OFX_HOME, XDG_CONFIG_HOME=f"{OFX_HOME}/.config",
               XDG_DATA_HOME=f"{OFX_HOME}/.local/share", XDG_CACHE_HOME=f"{OFX_HOME}/.cache")
    cmd = [OFXGET, *args, "--url", f"{URL}/ofx", "--org", "Ferry", "--fid", "1", "--nokeyring",
           "--version", str(version)]
    cmd += ["-u", user, "--password", password] if user else []
    cmd += [] if profile else ["--skipprofile"]
    out = subprocess.run(cmd, capture_output=True, timeout=60, env=env, cwd=CLI_DIR)
    if out.returncode != 0:  # its last line is the exception a traceback ends with
        lines = out.stderr.decode(errors="replace").strip().splitlines() or ["(no output)"]
        raise CheckFailed(f"ofxget {args[0]} v{version} exit {out.returncode}: {lines[-1][-500:]}")
    text = out.stdout.decode("ascii", errors="replace")
    tree = OFXTree()
    tree.parse(io.BytesIO(out.stdout))
    return text, tree.convert()


def sonrs_code(ofx):
    return ofx.signonmsgsrsv1.sonrs.status.code


def acctinfo(ofx):
    """[(kind, from-aggregate, DESC)] of an ACCTINFORS."""
    check(sonrs_code(ofx) == 0, f"SONRS code {sonrs_code(ofx)}")
    out = []
    for info in ofx.signupmsgsrsv1[0].acctinfors:
        (sub,) = list(info)
        kind = type(sub).__name__
        frm = {"BANKACCTINFO": "bankacctfrom", "CCACCTINFO": "ccacctfrom", "INVACCTINFO": "invacctfrom"}[kind]
        out.append((kind, getattr(sub, frm), info.desc))
    return out


def check_trnamts(where, got, want):
    """`got`: STMTTRNs; `want`: the API's POSTED transactions of the account."""
    ids = [t.fitid for t in got]
    check(len(ids) == len(set(ids)), f"{where}: a FITID twice")
    want = {t["guid"]: t for t in want}
    check(set(ids) == set(want), f"{where}: {len(ids)} STMTTRNs, the API has {len(want)} POSTED {differ(ids, want)}")
    for t in got:
        w = want[t.fitid]
        check(t.trnamt == signed(w), f"{where} {t.fitid}: TRNAMT {t.trnamt} != {signed(w)}")
        check(t.dtposted.timestamp() == epoch(w["posted_at"]),
              f"{where} {t.fitid}: DTPOSTED {t.dtposted} != {w['posted_at']}")
        name = (w["description"] or w["original_description"] or "")[:32]
        check(t.name == name, f"{where} {t.fitid}: NAME {t.name!r} != {name!r}")


def ofx(a, b):
    st = {}

    def info():
        out = ferry("ofx", "info", "--json")
        check(out == {"url": f"{URL}/ofx", "org": "Ferry", "fid": "1"}, f"ofx info {out}")
    step("ofx: `ferry ofx info --json` -> the server's /ofx URL, ORG Ferry, FID 1", info)

    def passwords():
        out = ferry("ofx", "password", "--client", CLIENT_ID, "--user", a.partner_id, "--password", OFX_PASSWORD,
                    "--json")
        check(out == {"user_id": a.partner_id}, f"A: {out}")
        out = ferry("ofx", "password", "--client", CLIENT_ID, "--user", b.user, "--password", OFX_PASSWORD, "--json")
        check(out == {"user_id": b.partner_id}, f"B (by guid): {out}")
    step("ofx: `ferry ofx password` for A (partner id) and B (guid) -> their partner ids as OFX user IDs", passwords)

    def list_accounts(version):
        def run():
            _, reply = ofxget("acctinfo", user=a.partner_id, version=version)
            listed = acctinfo(reply)
            check(len(listed) == len(a.accounts), f"{len(listed)} ACCTINFOs: {[d for _, _, d in listed]}")
            found = {}
            # One bank, one BANKID: an account without a routing number (a loan) takes that of
            # another account of the same member.
            member_routing = {}
            for x in a.accounts.values():
                if x["routing_number"]:
                    member_routing.setdefault(x["member_guid"], x["routing_number"])
            for kind, frm, desc in listed:
                matches = [x for x in a.accounts.values() if desc.startswith(x["name"] + " ") or desc == x["name"]]
                check(len(matches) == 1, f"DESC {desc!r} names {len(matches)} accounts")
                acct = matches[0]
                check(len(frm.acctid) == 22 and frm.acctid.isalnum() and frm.acctid not in acct["guid"],
                      f"{desc}: ACCTID {frm.acctid!r}")
                t = acct["type"]
                if t in ("CHECKING", "SAVINGS", "LOAN", "MORTGAGE"):
                    accttype = {"LOAN": "CREDITLINE", "MORTGAGE": "CREDITLINE"}.get(t, t)
                    bankid = acct["routing_number"] or member_routing.get(acct["member_guid"]) or "000000000"
                    check((kind, frm.accttype, frm.bankid) == ("BANKACCTINFO", accttype, bankid),
                          f"{desc} ({t}): {kind} {frm}")
                elif t == "CREDIT_CARD":
                    check(kind == "CCACCTINFO", f"{desc} ({t}): {kind}")
                else:
                    check(kind == "INVACCTINFO" and frm.brokerid, f"{desc} ({t}): {kind} {frm}")
                found[acct["guid"]] = frm
            check(set(found) == set(a.accounts), "an account listed twice")
            if "acctids" in st:
                check({g: f.acctid for g, f in found.items()} == st["acctids"], "ACCTIDs differ between versions")
            st["acctids"] = {g: f.acctid for g, f in found.items()}
            st["from"] = found
        return run
    for version in OFX_VERSIONS:
        step(f"ofx: ofxget acctinfo v{version} -> A's 6 accounts (checking/savings BANKACCTFROM with the routing "
             "number, loans CREDITLINE with their bank's, card CCACCTFROM, brokerage INVACCTFROM)", list_accounts(version))

    def other_user():
        _, reply = ofxget("acctinfo", user=b.partner_id, version=102)
        listed = acctinfo(reply)
        check(len(listed) == len(b.accounts), f"{len(listed)} ACCTINFOs for B")
        mine = set(st["acctids"].values())
        check(not {frm.acctid for _, frm, _ in listed} & mine, "B's list shows A's ACCTIDs")
        st["b_checking"] = [frm for kind, frm, _ in listed if kind == "BANKACCTINFO" and frm.accttype == "CHECKING"][0]
    step("ofx: ofxget acctinfo for B -> B's 6 accounts, none of A's ACCTIDs", other_user)

    def statement(version, kind):
        def run():
            acct = a.of_type(kind)
            frm = st["from"][acct["guid"]]
            if kind == "CHECKING":
                args = ["-C", frm.acctid, "--bankid", frm.bankid]
            elif kind == "CREDIT_CARD":
                args = ["-c", frm.acctid]
            else:
                args = ["-i", frm.acctid, "--brokerid", frm.brokerid]
            _, reply = ofxget("stmt", *args, "-s", "20000101", user=a.partner_id, version=version)
            check(sonrs_code(reply) == 0, f"SONRS code {sonrs_code(reply)}")
            (stmt,) = reply.statements
            check(stmt.curdef == acct["currency_code"], f"CURDEF {stmt.curdef}")
            want = a.posted(acct["guid"])
            if kind == "INVESTMENT":
                check(stmt.invacctfrom.acctid == frm.acctid, f"INVACCTFROM {stmt.invacctfrom}")
                check_trnamts(acct["name"], [t.stmttrn for t in stmt.transactions], want)
                positions = {p.secid.uniqueid: (p.units, p.mktval) for p in stmt.invposlist}
                holdings = {h["symbol"]: (Decimal(h["quantity"]), h["market_value"]) for h in a.holdings
                            if h["account_guid"] == acct["guid"]}
                check(positions == holdings, f"positions {positions} != holdings {holdings}")
            else:
                check(stmt.account.acctid == frm.acctid, f"account {stmt.account}")
                check_trnamts(acct["name"], list(stmt.transactions), want)
                balance = -acct["balance"] if kind == "CREDIT_CARD" else acct["balance"]
                check(stmt.ledgerbal.balamt == balance, f"LEDGERBAL {stmt.ledgerbal.balamt} != {balance}")
        return run
    for version in OFX_VERSIONS:
        for kind, what in (("CHECKING", "LEDGERBAL = balance"), ("CREDIT_CARD", "LEDGERBAL = -balance"),
                           ("INVESTMENT", "positions = holdings")):
            step(f"ofx: ofxget stmt v{version} {kind} -s 20000101 -> the API's POSTED transactions (FITID, TRNAMT, "
                 f"DTPOSTED, NAME), {what}", statement(version, kind))

    def not_mine():
        frm = st["b_checking"]
        _, reply = ofxget("stmt", "-C", frm.acctid, "--bankid", frm.bankid, "-s", "20000101", user=a.partner_id)
        trnrs = reply.bankmsgsrsv1[0]
        check(trnrs.status.code == 2003 and trnrs.stmtrs is None, f"STMTTRNRS status {trnrs.status}")
    step("ofx: A asks for B's checking ACCTID -> STMTTRNRS status 2003 (account not found), no statement", not_mine)

    def wrong_password():
        for version in OFX_VERSIONS:
            text, reply = ofxget("acctinfo", user=a.partner_id, password="not-the-password", version=version)
            check(sonrs_code(reply) == 15500 and "15500" in text, f"v{version}: SONRS code {sonrs_code(reply)}")
            check(reply.signupmsgsrsv1 is None, f"v{version}: an account list with a wrong password")
    step("ofx: a wrong password (v102, v220) -> SONRS 15500, no account list", wrong_password)

    def still_works():
        _, reply = ofxget("acctinfo", user=a.partner_id, version=102)
        check(len(acctinfo(reply)) == len(a.accounts), "A's account list changed")
    step("ofx: the right password afterwards -> A's account list again", still_works)

    def lockout():
        c, partner_id = new_user("c")
        ferry("ofx", "password", "--client", CLIENT_ID, "--user", partner_id, "--password", OFX_PASSWORD, "--json")
        # The fifth wrong password is the one that locks: its answer says so already.
        codes = [sonrs_code(ofxget("acctinfo", user=partner_id, password=f"wrong-{i}-pass")[1]) for i in range(5)]
        check(codes == [15500] * 4 + [15502], f"five wrong passwords: {codes}")
        _, reply = ofxget("acctinfo", user=partner_id)
        check(sonrs_code(reply) == 15502 and reply.signupmsgsrsv1 is None,
              f"the right password, locked: {sonrs_code(reply)}")
    step("ofx: user C, five wrong passwords in a row -> 15500 four times, then 15502 (locked), "
         "and 15502 for the right password too", lockout)


def ofx_profile(a):
    """ofxget's default flow: the server's profile (PROFRQ, anonymous) before anything else."""
    def profile():
        for version in OFX_VERSIONS:
            _, reply = ofxget("prof", version=version)
            check(sonrs_code(reply) == 0, f"v{version}: SONRS code {sonrs_code(reply)}")
            prof = reply.profmsgsrsv1[0].profrs
            check(prof.finame == "Ferry", f"v{version}: FINAME {prof.finame!r}")
            urls = {getattr(m, type(m).__name__.lower() + "v1").msgsetcore.url for m in prof.msgsetlist}
            check(urls == {f"{URL}/ofx"}, f"v{version}: message set URLs {urls}")
    step("ofx: ofxget prof v102 and v220 -> a profile ofxtools reads (FINAME Ferry, every message set at /ofx)",
         profile)

    def acctinfo_with_profile():
        _, reply = ofxget("acctinfo", user=a.partner_id, version=102, profile=True)
        check(len(acctinfo(reply)) == len(a.accounts), "A's account list differs")
    step("ofx: ofxget acctinfo without --skipprofile (profile first, its default) -> A's 6 accounts",
         acctinfo_with_profile)


# --- main -------------------------------------------------------------------------------------

def setup():
    st = {}

    def users_and_members():
        (ua, pa), (ub, pb) = new_user("a"), new_user("b")
        pairs = [(ua, create_member(ua)), (ub, create_member(ub))]
        wait_connected(pairs)
        st["ids"] = (ua, pa), (ub, pb)
    step("setup: users A and B (their own partner ids), each with an MX Bank member -> CONNECTED", users_and_members)

    def read():
        (ua, pa), (ub, pb) = st["ids"]
        a, b = Data(ua, pa), Data(ub, pb)
        for who, d in (("A", a), ("B", b)):
            check(sorted(x["type"] for x in d.accounts.values()) == ACCOUNT_TYPES, f"{who}'s account types")
            check(len(d.posted()) > 100 and d.pending(), f"{who}: {len(d.posted())} POSTED, {len(d.pending())} PENDING")
        check(a.holdings, "A has no holdings")
        return a, b
    return step("setup: the Platform API's accounts, transactions (every page) and holdings of A and B", read)


def main():
    print(f"server faces (SimpleFIN with simplefin4py, OFX with ofxget) against {URL}", flush=True)
    try:
        try:
            a, b = setup()
        except Exception:
            print("faces: setup failed, nothing else ran", flush=True)
            return 1
        print("-- simplefin", flush=True)
        scenario(lambda: simplefin(a, b))
        print("-- ofx", flush=True)
        scenario(lambda: ofx(a, b))
        print("-- ofx profile", flush=True)
        scenario(lambda: ofx_profile(a))
    finally:
        for guid in created_users:  # best effort
            try:
                api("DELETE", f"/users/{guid}", expect=204)
            except Exception:
                pass
        shutil.rmtree(CLI_DIR, ignore_errors=True)
    print(f"faces: {n_steps - n_failed} passed, {n_failed} failed", flush=True)
    return 1 if n_failed else 0


if __name__ == "__main__":
    sys.exit(main())
