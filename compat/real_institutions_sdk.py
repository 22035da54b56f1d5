"""Real-institution connectors through MX's Python SDK (mx-platform-python 1.12.0), against the
fake servers the connector crates ship (the server runs with FERRY_CONNECTORS_ALLOW_LOOPBACK=1):

* SimpleFIN: members at the built-in `simplefin` institution with setup tokens from the fake
  SimpleFIN server (scenario users `alice`, `revoked`, `unpaid`): CONNECTED with 4 accounts, their
  balances, 6 transactions (one PENDING) and a holding; the same token again DENIED ("already
  claimed"); a revoked access DENIED; an unpaid one IMPEDED.
* OFX: a catalog file pointing at the fake OFX bank imported with `ferry institutions import`,
  found with list_institutions, its LOGIN/PASSWORD fields, and members: alice CONNECTED (checking
  and card, "Joe's Diner & Bar"), a wrong password DENIED, `locked` LOCKED, `mfa` CHALLENGED with
  the bank's question and CONNECTED once resume_aggregation answers it, `investor` with a VTI
  holding.

Each scenario stops at its first failure, the next one still runs; exits non-zero if any failed.

Env: FERRY_URL, FERRY_CLIENT_ID, FERRY_API_KEY, FERRY_DATABASE_URL (the server's database, for
the import), FERRY_BIN, FERRY_FAKE_SIMPLEFIN_BIN, FERRY_FAKE_OFX_BIN (all set by compat/run.sh).
Run from anywhere: `python compat/real_institutions_sdk.py` (it imports compat/python_sdk/harness.py).
"""
import json
import os
import select
import subprocess
import sys
import tempfile
import time
import urllib.request

from mx_platform_python import (
    CredentialRequest,
    MemberCreateRequest,
    MemberCreateRequestBody,
    MemberResumeRequest,
    MemberResumeRequestBody,
)

from python_sdk import harness
from python_sdk.harness import (
    ACCEPT, RUN, accounts_api, assert_member, check, check_connected_status, created_users, expect_status,
    holdings_api, institutions, members, new_user, step, today_utc, transactions_api, users, wait_for_member,
)

SIMPLEFIN = "simplefin"
OFX_CODE = f"fake_ofx_{RUN}"
OFX_NAME = f"Fake OFX Bank {RUN}"
PET_QUESTION = "What was your first pet's name?"

fakes = []  # running fake servers, killed at the end whatever happens


# --- the fake servers -----------------------------------------------------------------------

def start_fake(env_var):
    """Starts the binary named by `env_var` on a free port (0: the OS picks) with today's UTC
    date; returns its base URL once it prints `listening on 127.0.0.1:PORT`."""
    binary = os.environ.get(env_var)
    check(binary and os.access(binary, os.X_OK), f"{env_var}={binary!r} is not an executable")
    proc = subprocess.Popen([binary, "0", today_utc().isoformat()], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    fakes.append(proc)
    ready, _, _ = select.select([proc.stdout], [], [], 15)
    line = proc.stdout.readline().strip() if ready else ""
    if not line.startswith("listening on 127.0.0.1:"):
        try:
            code = proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            code = "none yet"
        raise harness.CheckFailed(f"{os.path.basename(binary)} printed {line!r} (exit status {code})")
    return "http://" + line.removeprefix("listening on ")


def stop_fakes():
    for proc in fakes:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def admin(base, path):
    with urllib.request.urlopen(urllib.request.Request(base + path, method="POST", data=b""), timeout=10) as r:
        return r.read().decode()


# --- shared checks --------------------------------------------------------------------------

def credentials_of(code):
    """The institution's credential fields by field_name."""
    body = institutions.list_institution_credentials(code)
    return {c.field_name: c for c in body.credentials or []}


def create_member(user, code, values):
    """create_member (202, aggregating) with `values` by credential guid; returns the guid."""
    body = MemberCreateRequestBody(member=MemberCreateRequest(
        institution_code=code, credentials=[CredentialRequest(guid=g, value=v) for g, v in values.items()]))
    r = members.create_member_with_http_info(user, body)
    expect_status(r, 202)
    m = r.data.member
    assert_member(m, user, code)
    check(m.is_being_aggregated is True, f"202 body is_being_aggregated {m.is_being_aggregated!r}")
    return m.guid


def ends(member, user, status, words=""):
    """Polls until the job is over with `status`; the member's message must contain `words`.
    Returns the member (read_member: it carries connection_status_message)."""
    wait_for_member(member, user, status)
    m = members.read_member(member, user).member
    message = m.connection_status_message or ""
    check(words.lower() in message.lower(), f"connection_status_message {message!r} lacks {words!r}")
    return m


def by_name(items, attr="name"):
    return {getattr(i, attr): i for i in items}


def money(x):
    return round(float(x), 2) if x is not None else None


def member_transactions(member, user):
    return transactions_api.list_transactions_by_member(member, user, records_per_page=1000).transactions or []


# --- SimpleFIN --------------------------------------------------------------------------------

def simplefin(fake):
    st = {}

    def field():
        fields = credentials_of(SIMPLEFIN)
        check(list(fields) == ["setup_token"], f"credential fields {list(fields)}")
        f = fields["setup_token"]
        check(f.field_type == "PASSWORD" or f.type == "PASSWORD", f"setup_token type {f.field_type!r}/{f.type!r}")
        st["field"] = f.guid
    step("simplefin: one credential field, setup_token (PASSWORD)", field)

    def connect():
        st["user"] = new_user("simplefin")
        st["token"] = admin(fake, "/admin/token/alice")
        st["member"] = create_member(st["user"], SIMPLEFIN, {st["field"]: st["token"]})
        check_connected_status(wait_for_member(st["member"], st["user"], "CONNECTED"))
    step("simplefin: alice's setup token -> create_member 202 -> CONNECTED", connect)
    user, member = st["user"], st["member"]

    def accounts():
        accts = accounts_api.list_member_accounts(user, member, records_per_page=100).accounts or []
        got = {a.name: (a.type, money(a.balance), a.currency_code) for a in accts}
        check(got == {
            "Everyday Checking": ("CHECKING", 1234.56, "USD"),
            "Visa Signature Card": ("CREDIT_CARD", 432.1, "USD"),
            "Euro Savings": ("SAVINGS", 1000.01, "EUR"),
            "Brokerage": ("INVESTMENT", 10500.0, "USD"),
        }, f"accounts (type, balance, currency) {got}")
        checking = by_name(accts)["Everyday Checking"]
        check(money(checking.available_balance) == 1200.0, f"checking available_balance {checking.available_balance!r}")
        st["accounts"] = {a.guid: a for a in accts}
    step("simplefin: 4 accounts (checking, Visa card, EUR savings, brokerage) with their balances", accounts)

    def transactions():
        txns = member_transactions(member, user)
        check(len(txns) == 6, f"{len(txns)} transactions: {[t.original_description for t in txns]}")
        check(all(t.account_guid in st["accounts"] for t in txns), "a transaction of another account")
        gas = [t for t in txns if t.original_description == "GAS STATION 42"]
        check(len(gas) == 1, f"{len(gas)} GAS STATION 42")
        check((gas[0].status, gas[0].description) == ("PENDING", "Gas Station"),
              f"gas station: status {gas[0].status!r}, description {gas[0].description!r}")
        check(sum(t.status == "PENDING" for t in txns) == 1, f"statuses {[t.status for t in txns]}")
        coffee = by_name(txns, "description").get("Coffee Shop")
        check(coffee and (money(coffee.amount), coffee.type) == (33.43, "DEBIT"), f"coffee {coffee and coffee.to_dict()}")
        interest = by_name(txns, "original_description").get("INTEREST")
        check(interest and (money(interest.amount), interest.type, interest.currency_code) == (0.01, "CREDIT", "EUR"),
              f"interest {interest and interest.to_dict()}")
        check("HARDWARE STORE" in {t.original_description for t in txns}, "80 days back: HARDWARE STORE missing")
    step("simplefin: 6 transactions, GAS STATION 42 PENDING with the payee 'Gas Station' as description", transactions)

    def holdings():
        hs = holdings_api.list_holdings_by_member(member, user).investment_holdings or []
        check([(h.symbol, h.quantity) for h in hs] == [("VTI", "10.5")], f"holdings {[(h.symbol, h.quantity) for h in hs]}")
        brokerage = st["accounts"].get(hs[0].account_guid)
        check(brokerage and brokerage.type == "INVESTMENT", f"holding's account {hs[0].account_guid}")
    step("simplefin: investment holdings -> VTI, quantity 10.5", holdings)

    def claimed():
        other = st["other"] = new_user("simplefin2")
        m = create_member(other, SIMPLEFIN, {st["field"]: st["token"]})
        ends(m, other, "DENIED", "already claimed")
    step("simplefin: the same token for another user -> DENIED, 'already claimed' in the message", claimed)

    for scenario, status, words in (("revoked", "DENIED", "revoked"), ("unpaid", "IMPEDED", "payment")):
        def refused(scenario=scenario, status=status, words=words):
            m = create_member(st["other"], SIMPLEFIN, {st["field"]: admin(fake, f"/admin/token/{scenario}")})
            ends(m, st["other"], status, words)
        step(f"simplefin: a setup token for '{scenario}' -> {status} ('{words}' in the message)", refused)


# --- OFX ----------------------------------------------------------------------------------------

def ofx(fake):
    st = {}

    def import_catalog():
        with tempfile.NamedTemporaryFile("w", suffix=".toml", prefix="ferry-ofx-", delete=False) as f:
            f.write(f"""[[institution]]
code = "{OFX_CODE}"
name = "{OFX_NAME}"
connector = "ofx"
url = "https://fakebank.example"
ofx_url = "{fake}/ofx"
org = "FAKEBANK"
fid = "9999"
ofx_version = 220
broker_id = "fakebroker.example"
""")
        try:
            out = subprocess.run([os.environ["FERRY_BIN"], "institutions", "import", f.name,
                                  "--database", os.environ["FERRY_DATABASE_URL"], "--json"],
                                 capture_output=True, text=True, timeout=60)
        finally:
            os.unlink(f.name)
        check(out.returncode == 0, f"ferry institutions import: exit {out.returncode}: {out.stderr.strip()[-500:]}")
        imported = json.loads(out.stdout).get("imported") or []
        check([i.get("code") for i in imported] == [OFX_CODE], f"imported {imported}")
        check(imported[0].get("created") is True and imported[0].get("guid", "").startswith("INS-"), f"imported {imported}")
    step("ofx: ferry institutions import (a catalog file pointing at the fake OFX bank) --json", import_catalog)

    def listed():
        found = institutions.list_institutions(name=OFX_NAME).institutions or []
        check([(i.code, i.name) for i in found] == [(OFX_CODE, OFX_NAME)], f"institutions {[(i.code, i.name) for i in found]}")
        check(found[0].url == "https://fakebank.example", f"url {found[0].url!r}")
    step("ofx: list_institutions(name=...) finds the imported institution", listed)

    def fields():
        f = credentials_of(OFX_CODE)
        check(sorted(f) == ["LOGIN", "PASSWORD"], f"credential fields {list(f)}")
        check(f["LOGIN"].field_type == "TEXT" and f["PASSWORD"].field_type == "PASSWORD",
              f"field types {f['LOGIN'].field_type!r}/{f['PASSWORD'].field_type!r}")
        st["login"], st["password"] = f["LOGIN"].guid, f["PASSWORD"].guid
    step("ofx: its credentials are LOGIN (TEXT) and PASSWORD", fields)

    def member(login, password):
        return create_member(st["user"], OFX_CODE, {st["login"]: login, st["password"]: password})

    def connect():
        st["user"] = new_user("ofx")
        st["alice"] = member("alice", "s3cret")
        check_connected_status(wait_for_member(st["alice"], st["user"], "CONNECTED"))
    step("ofx: alice/s3cret -> CONNECTED", connect)
    user = st["user"]

    def accounts():
        accts = accounts_api.list_member_accounts(user, st["alice"]).accounts or []
        got = sorted((a.type, a.name, money(a.balance), a.account_number) for a in accts)
        want = [("CHECKING", "Everyday Checking", 1234.56, "XXXXXX0001"), ("CREDIT_CARD", "Rewards Visa", 432.1, None)]
        check([g[:3] for g in got] == [w[:3] for w in want], f"accounts {got}")
        check(got[0][3] == "XXXXXX0001", f"checking account_number {got[0][3]!r} (masked)")
    step("ofx: 2 accounts, CHECKING 1234.56 and CREDIT_CARD 432.1 owed", accounts)

    def transactions():
        txns = member_transactions(st["alice"], user)
        names = {t.description: t for t in txns}
        check({"Joe's Diner & Bar", "STREAMING SERVICE", "PAYROLL ACME CORP"} <= set(names), f"descriptions {sorted(names)}")
        check("MONTHLY FEE" not in names, "200 days back is outside the first window")
        diner = names["Joe's Diner & Bar"]
        check((money(diner.amount), diner.type) == (33.43, "DEBIT"), f"diner {money(diner.amount)} {diner.type}")
        check(names["PAYROLL ACME CORP"].type == "CREDIT", f"payroll {names['PAYROLL ACME CORP'].type}")
    step("ofx: transactions include \"Joe's Diner & Bar\" (33.43 DEBIT) and the card's", transactions)

    def wrong_password():
        ends(member("alice", "wrong"), user, "DENIED")
    step("ofx: alice/wrong -> DENIED", wrong_password)

    def locked():
        ends(member("locked", "s3cret"), user, "LOCKED", "locked")
    step("ofx: locked/s3cret -> LOCKED", locked)

    def mfa():
        m = st["mfa"] = member("mfa", "s3cret")
        wait_for_member(m, user, "CHALLENGED")
        r = members.list_member_challenges_with_http_info(m, user)
        expect_status(r, 200)
        cs = r.data.challenges or []
        check([(c.type, c.label) for c in cs] == [("TEXT", PET_QUESTION)], f"challenges {[c.to_dict() for c in cs]}")
        st["challenge"] = cs[0].guid
    step("ofx: mfa/s3cret -> CHALLENGED with the bank's question (one TEXT challenge)", mfa)

    def resume():
        body = MemberResumeRequestBody(member=MemberResumeRequest(
            challenges=[CredentialRequest(guid=st["challenge"], value="rex")]))
        r = members.resume_aggregation_with_http_info(st["mfa"], user, body)
        expect_status(r, 202)
        check_connected_status(wait_for_member(st["mfa"], user, "CONNECTED"))
        n = len(accounts_api.list_member_accounts(user, st["mfa"]).accounts or [])
        check(n == 2, f"{n} accounts")
    step("ofx: resume_aggregation with 'rex' -> CONNECTED, 2 accounts", resume)

    def investor():
        m = member("investor", "s3cret")
        wait_for_member(m, user, "CONNECTED")
        types = sorted(a.type for a in accounts_api.list_member_accounts(user, m).accounts or [])
        check(types == ["CHECKING", "INVESTMENT"], f"account types {types}")
        hs = holdings_api.list_holdings_by_member(m, user).investment_holdings or []
        check([(h.symbol, h.quantity) for h in hs] == [("VTI", "10.5")], f"holdings {[(h.symbol, h.quantity) for h in hs]}")
    step("ofx: investor/s3cret -> CONNECTED, a brokerage with VTI 10.5", investor)


# --- main -----------------------------------------------------------------------------------

def main():
    print(f"real institutions (SimpleFIN, OFX) with mx-platform-python against {harness.URL}", flush=True)
    failed = 0
    try:
        for name, env_var, scenario in (("simplefin", "FERRY_FAKE_SIMPLEFIN_BIN", simplefin),
                                        ("ofx", "FERRY_FAKE_OFX_BIN", ofx)):
            print(f"-- {name}", flush=True)
            try:
                fake = step(f"{name}: start the fake server ({env_var})", lambda: start_fake(env_var))
                scenario(fake)
            except Exception:
                failed += 1
    finally:
        stop_fakes()
        for guid in list(created_users):  # best effort
            try:
                users.delete_user(ACCEPT, guid)
            except Exception:
                pass
        try:  # best effort: the catalog as it was (refused while a member still uses it)
            subprocess.run([os.environ["FERRY_BIN"], "institutions", "remove", OFX_CODE,
                            "--database", os.environ["FERRY_DATABASE_URL"]], capture_output=True, timeout=60)
        except Exception:
            pass
    print(f"real_institutions: {harness.n_steps - failed} passed, {failed} failed", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
