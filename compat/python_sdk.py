#!/usr/bin/env python3
"""Drive a running Ferry server with MX's official Python SDK (mx-platform-python==1.12.0).

Env: FERRY_URL (e.g. http://127.0.0.1:8080), FERRY_CLIENT_ID, FERRY_API_KEY.
Runs eight scenarios, each with users of its own: the basic user/institution/member one, an
aggregation one (sandbox bank behind mxbank: accounts, paginated transactions, re-aggregation),
an MFA one (TEXT, OPTIONS and IMAGE_DATA challenges answered through resume_aggregation), a data
one (investment holdings; verify, identify and fetch_statements with the account numbers, account
owners and statement PDFs they bring), an edits one (manual accounts, account and transaction
updates surviving re-aggregation), an OAuth one (mx_bank_oauth authorized and denied on the
sandbox bank's page, urllib playing the browser), a webhooks one (a receiver in this process,
registered with POST /admin/webhooks; needs FERRY_WEBHOOKS_ALLOW_LOOPBACK=1 on the server) and a
premium_more one (check_balances, extend_history).
Prints one line per step (`note` lines flag known spec/SDK divergences without failing); a
scenario stops at its first failure, the next one still runs; exits non-zero if any failed.
"""
import base64
import collections
import datetime
import hashlib
import hmac
import html.parser
import http.server
import json
import math
import os
import re
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

import mx_platform_python as mx
from mx_platform_python import (
    AccountCreateRequest,
    AccountCreateRequestBody,
    AccountUpdateRequest,
    AccountUpdateRequestBody,
    CredentialRequest,
    MemberCreateRequest,
    MemberCreateRequestBody,
    MemberResumeRequest,
    MemberResumeRequestBody,
    MemberUpdateRequest,
    MemberUpdateRequestBody,
    TransactionUpdateRequest,
    TransactionUpdateRequestBody,
    UserCreateRequest,
    UserCreateRequestBody,
    UserUpdateRequest,
    UserUpdateRequestBody,
)
from mx_platform_python.exceptions import ApiException

ACCEPT = "application/vnd.mx.api.v1+json"
MXBANK = "mxbank"
MXBANK_GUID = "INS-1572a04c-912b-59bf-5841-332c7dfafaef"
LOGIN_CRD = "CRD-9f61fb4c-912c-bd1e-b175-ccc7f0275cc1"
PASSWORD_CRD = "CRD-e3d7ea81-aac7-05e9-fbdd-4b493c6e474d"
CONNECTION_STATUSES = {
    "CREATED", "PREVENTED", "DENIED", "CHALLENGED", "REJECTED", "LOCKED", "CONNECTED", "IMPEDED",
    "RECONNECTED", "DEGRADED", "DISCONNECTED", "DISCONTINUED", "CLOSED", "DELAYED", "FAILED",
    "UPDATED", "DISABLED", "IMPORTED", "RESUMED", "EXPIRED", "IMPAIRED", "PENDING",
}

URL = os.environ.get("FERRY_URL", "http://127.0.0.1:8080").rstrip("/")
CLIENT_ID = os.environ["FERRY_CLIENT_ID"]
API_KEY = os.environ["FERRY_API_KEY"]


def make_client(username=CLIENT_ID, password=API_KEY):
    cfg = mx.Configuration(host=URL, username=username, password=password)
    return mx.ApiClient(cfg)


client = make_client()
users = mx.UsersApi(client)
members = mx.MembersApi(client)
institutions = mx.InstitutionsApi(client)
accounts_api = mx.AccountsApi(client)
transactions_api = mx.TransactionsApi(client)
holdings_api = mx.InvestmentHoldingsApi(client)
statements_api = mx.StatementsApi(client)
widgets = mx.WidgetsApi(client)

RUN = uuid.uuid4().hex[:12]
created_users = []  # cleaned up at the end, whatever happens
n_steps = 0


class CheckFailed(Exception):
    pass


def note(msg):
    """A known divergence (spec quirk, SDK limitation) worth seeing in the log; never fails."""
    print(f"note {msg}", flush=True)


def check(cond, msg):
    if not cond:
        raise CheckFailed(msg)


def expect_status(resp, *codes):
    check(resp.status_code in codes, f"HTTP {resp.status_code}, expected {' or '.join(map(str, codes))}")


def expect_api_error(fn, status):
    """Call fn, which must raise ApiException with the given status; return the parsed JSON body."""
    try:
        fn()
    except ApiException as e:
        check(e.status == status, f"HTTP {e.status}, expected {status}; body: {e.body}")
        try:
            return json.loads(e.body) if e.body else None
        except ValueError:
            raise CheckFailed(f"error body is not JSON: {e.body!r}")
    raise CheckFailed(f"call succeeded, expected HTTP {status}")


def step(name, fn):
    global n_steps
    n_steps += 1
    try:
        result = fn()
    except CheckFailed as e:
        print(f"FAIL {name}: {e}", flush=True)
        raise
    except ApiException as e:
        print(f"FAIL {name}: unexpected HTTP {e.status} {e.reason}; body: {e.body}", flush=True)
        raise
    except Exception as e:  # SDK deserialisation (pydantic) errors land here
        print(f"FAIL {name}: {type(e).__name__}: {e}", flush=True)
        raise
    print(f"ok   {name}", flush=True)
    return result


def assert_member(m, user_guid, institution_code=MXBANK):
    check(m is not None, "no member in response body")
    check(m.guid and m.guid.startswith("MBR-"), f"member guid {m.guid!r} lacks MBR- prefix")
    check(m.user_guid == user_guid, f"user_guid {m.user_guid!r} != {user_guid!r}")
    check(m.institution_code == institution_code, f"institution_code {m.institution_code!r}")
    check(m.connection_status in CONNECTION_STATUSES, f"connection_status {m.connection_status!r}")


def assert_pagination(p, total=None):
    check(p is not None, "no pagination object")
    check(p.current_page == 1, f"pagination.current_page {p.current_page!r}")
    check(isinstance(p.per_page, int) and p.per_page > 0, f"pagination.per_page {p.per_page!r}")
    if total is not None:
        check(p.total_entries == total, f"pagination.total_entries {p.total_entries!r} != {total}")
        check(p.total_pages == 1, f"pagination.total_pages {p.total_pages!r}")


def mxbank_member_body(password, skip_aggregation, metadata=None):
    return MemberCreateRequestBody(member=MemberCreateRequest(
        institution_code=MXBANK,
        credentials=[CredentialRequest(guid=LOGIN_CRD, value="mxuser"),
                     CredentialRequest(guid=PASSWORD_CRD, value=password)],
        skip_aggregation=skip_aggregation,
        metadata=metadata,
    ))


def scenario():
    st = {}

    def bad_auth():
        bad = mx.UsersApi(make_client(CLIENT_ID, "wrong-" + API_KEY))
        expect_api_error(lambda: bad.list_users(), 401)
    step("wrong api_key -> 401", bad_auth)

    def create_user():
        r = users.create_user_with_http_info(UserCreateRequestBody(user=UserCreateRequest(
            id=f"py-{RUN}", email=f"py-{RUN}@example.com", metadata='{"suite":"python"}')))
        expect_status(r, 200)  # the SDK only deserialises a 200 here
        u = r.data.user
        check(u.guid and u.guid.startswith("USR-"), f"user guid {u.guid!r} lacks USR- prefix")
        created_users.append(u.guid)
        check(u.id == f"py-{RUN}", f"id {u.id!r}")
        check(u.email == f"py-{RUN}@example.com", f"email {u.email!r}")
        check(u.metadata == '{"suite":"python"}', f"metadata {u.metadata!r}")
        check(u.is_disabled is False, f"is_disabled {u.is_disabled!r}")
        st["user"] = u.guid
    step("create user", create_user)
    user = st["user"]

    def read_user():
        u = users.read_user(user).user
        check(u.guid == user and u.id == f"py-{RUN}", f"read back {u.guid!r}/{u.id!r}")
    step("read user", read_user)

    def update_user():
        u = users.update_user(user, UserUpdateRequestBody(user=UserUpdateRequest(metadata="updated"))).user
        check(u.guid == user and u.metadata == "updated", f"metadata {u.metadata!r}")
        check(u.email == f"py-{RUN}@example.com", f"email changed to {u.email!r}")
    step("update user (metadata)", update_user)

    def list_users():
        body = users.list_users(id=f"py-{RUN}", records_per_page=10)
        check([u.guid for u in body.users] == [user], f"users {[u.guid for u in body.users]}")
        assert_pagination(body.pagination, total=1)
    step("list users (id filter)", list_users)

    def list_institutions():
        body = institutions.list_institutions(name="MX Bank")
        codes = [i.code for i in body.institutions]
        check(MXBANK in codes, f"mxbank not among {codes}")
        assert_pagination(body.pagination)
    step("list institutions (name 'MX Bank')", list_institutions)

    def list_favorites():
        body = institutions.list_favorite_institutions()
        check(isinstance(body.institutions, list), "institutions is not a list")
        assert_pagination(body.pagination)
    step("list favorite institutions", list_favorites)

    def read_institution():
        i = institutions.read_institution(MXBANK).institution
        check(i.code == MXBANK, f"code {i.code!r}")
        check(i.name and "MX Bank" in i.name, f"name {i.name!r}")
        check(isinstance(i.supports_oauth, bool), f"supports_oauth {i.supports_oauth!r}")
    step("read institution mxbank", read_institution)

    def read_oauth_institution():
        i = institutions.read_institution("mx_bank_oauth").institution
        check(i.code == "mx_bank_oauth" and i.supports_oauth is True, f"{i.code!r} supports_oauth={i.supports_oauth!r}")
    step("read institution mx_bank_oauth", read_oauth_institution)

    def unknown_institution():
        expect_api_error(lambda: institutions.read_institution(f"no_such_bank_{RUN}"), 404)
    step("read unknown institution -> 404", unknown_institution)

    def institution_credentials():
        body = institutions.list_institution_credentials(MXBANK)
        by_guid = {c.guid: c for c in body.credentials}
        check(LOGIN_CRD in by_guid and PASSWORD_CRD in by_guid, f"credential guids {list(by_guid)}")
        check(by_guid[LOGIN_CRD].field_name == "LOGIN", f"LOGIN field_name {by_guid[LOGIN_CRD].field_name!r}")
        check(by_guid[PASSWORD_CRD].field_name == "PASSWORD", f"PASSWORD field_name {by_guid[PASSWORD_CRD].field_name!r}")
        check(all(isinstance(c.display_order, int) for c in body.credentials), "display_order not int")
        assert_pagination(body.pagination)
    step("list institution credentials", institution_credentials)

    password = f"pw-{RUN}"

    def create_member():
        r = members.create_member_with_http_info(user, mxbank_member_body(password, True, "created"))
        expect_status(r, 200)  # skip_aggregation: true
        m = r.data.member
        assert_member(m, user)
        check(m.connection_status == "CREATED", f"connection_status {m.connection_status!r}")
        check(m.institution_guid == MXBANK_GUID, f"institution_guid {m.institution_guid!r}")
        check(m.metadata == "created", f"metadata {m.metadata!r}")
        st["member"] = m.guid
    step("create member (skip_aggregation: true) -> 200", create_member)
    member = st["member"]

    def read_member():
        m = members.read_member(member, user).member
        assert_member(m, user)
        check(m.guid == member, f"guid {m.guid!r}")
    step("read member", read_member)

    def list_members():
        body = members.list_members(user)
        check([m.guid for m in body.members] == [member], f"members {[m.guid for m in body.members]}")
        assert_pagination(body.pagination, total=1)
    step("list members", list_members)

    def member_status():
        s = members.read_member_status(member, user).member
        check(s.guid == member, f"guid {s.guid!r}")
        check(s.connection_status == "CREATED", f"connection_status {s.connection_status!r}")
        check(s.is_being_aggregated in (False, None), f"is_being_aggregated {s.is_being_aggregated!r}")
        check(not s.challenges, f"challenges {s.challenges!r}")
    step("read member status", member_status)

    def member_credentials():
        body = members.list_member_credentials(member, user)
        names = sorted(c.field_name for c in body.credentials)
        check(names == ["LOGIN", "PASSWORD"], f"field_names {names}")
        check(all(c.guid and c.guid.startswith("CRD-") for c in body.credentials), "credential guid lacks CRD-")
        assert_pagination(body.pagination)
    step("list member credentials", member_credentials)

    def challenges():
        r = members.list_member_challenges_with_http_info(member, user)
        expect_status(r, 204)  # not CHALLENGED -> 204 No Content, SDK data is None
        check(r.data is None, f"data {r.data!r}")
    step("list member challenges -> 204", challenges)

    def duplicate():
        body = expect_api_error(lambda: members.create_member(user, mxbank_member_body(password, True)), 409)
        check(isinstance(body, dict), f"409 body {body!r}")
        check(body.get("guid") == member, f"409 body guid {body.get('guid')!r} != {member}")
        err = body.get("error") or {}
        check(isinstance(err.get("message"), str), f"409 body error.message {err.get('message')!r}")
        check(err.get("guid") == member, f"409 body error.guid {err.get('guid')!r}")
    step("duplicate create member -> 409 with existing guid", duplicate)

    def update_member():
        r = members.update_member_with_http_info(
            member, user, MemberUpdateRequestBody(member=MemberUpdateRequest(metadata=f"meta-{RUN}")))
        expect_status(r, 200)
        m = r.data.member
        assert_member(m, user)
        check(m.guid == member and m.metadata == f"meta-{RUN}", f"metadata {m.metadata!r}")
    step("update member (metadata)", update_member)

    def delete_member():
        r = members.delete_member_with_http_info(member, user)
        expect_status(r, 204)
        expect_api_error(lambda: members.read_member(member, user), 404)
    step("delete member -> 204, then read -> 404", delete_member)

    def aggregating_member():
        r = users.create_user_with_http_info(UserCreateRequestBody(user=UserCreateRequest(id=f"py2-{RUN}")))
        expect_status(r, 200)
        user2 = r.data.user.guid
        created_users.append(user2)
        r = members.create_member_with_http_info(user2, mxbank_member_body(f"pw2-{RUN}", False))
        expect_status(r, 202)  # aggregation requested
        assert_member(r.data.member, user2)
        r = users.delete_user_with_http_info(ACCEPT, user2)
        expect_status(r, 204)
        created_users.remove(user2)
    step("second user: create member (skip_aggregation: false) -> 202", aggregating_member)

    def delete_user():
        r = users.delete_user_with_http_info(ACCEPT, user)
        expect_status(r, 204)
        created_users.remove(user)
    step("delete user -> 204", delete_user)

    step("read deleted user -> 404", lambda: expect_api_error(lambda: users.read_user(user), 404))


# --- aggregation against the sandbox bank ------------------------------------------------

POLL_INTERVAL = 0.2  # seconds between read_member_status calls
POLL_TIMEOUT = 30.0  # per wait
IN_FLIGHT = ("CREATED", "RESUMED")  # statuses a finished job never leaves behind
ACCOUNT_TYPES = sorted(["CHECKING", "SAVINGS", "CREDIT_CARD", "LOAN", "MORTGAGE", "INVESTMENT"])
PER_PAGE = 50  # small enough that ~90 days of transactions take several pages


def today_utc():
    return datetime.datetime.now(datetime.timezone.utc).date()


def new_user(tag):
    r = users.create_user_with_http_info(UserCreateRequestBody(user=UserCreateRequest(id=f"py-{tag}-{RUN}")))
    expect_status(r, 200)
    guid = r.data.user.guid
    check(guid and guid.startswith("USR-"), f"user guid {guid!r}")
    created_users.append(guid)
    return guid


def delete_user(guid):
    r = users.delete_user_with_http_info(ACCEPT, guid)
    expect_status(r, 204)
    created_users.remove(guid)


def create_aggregating_member(user, password):
    r = members.create_member_with_http_info(user, mxbank_member_body(password, False))
    expect_status(r, 202)
    m = r.data.member
    assert_member(m, user)
    check(m.is_being_aggregated is True, f"202 body is_being_aggregated {m.is_being_aggregated!r}")
    return m.guid


def wait_for_member(member, user, expect, newer_than=None):
    """Polls read_member_status until the job is over (is_being_aggregated false and a status
    that is not CREATED/RESUMED); the status must then be `expect`. With newer_than, a
    successfully_aggregated_at not after it counts as the previous job's state: keep polling."""
    start = time.monotonic()
    polls = 0
    while True:
        s = members.read_member_status(member, user).member
        polls += 1
        check(s is not None and s.guid == member, f"status guid {getattr(s, 'guid', None)!r}")
        check(s.connection_status in CONNECTION_STATUSES, f"connection_status {s.connection_status!r}")
        check(isinstance(s.is_being_aggregated, bool), f"is_being_aggregated {s.is_being_aggregated!r}")
        if not s.is_being_aggregated and s.connection_status not in IN_FLIGHT:
            check(s.connection_status == expect,
                  f"job ended {s.connection_status}, expected {expect} (after {polls} polls)")
            if newer_than is None or (s.successfully_aggregated_at or "") > newer_than:
                return s
        if time.monotonic() - start > POLL_TIMEOUT:
            raise CheckFailed(f"still {s.connection_status} (is_being_aggregated={s.is_being_aggregated}, "
                              f"successfully_aggregated_at={s.successfully_aggregated_at}) after {POLL_TIMEOUT:.0f}s")
        time.sleep(POLL_INTERVAL)


def check_connected_status(s):
    check(s.is_authenticated is True, f"is_authenticated {s.is_authenticated!r}")
    check(s.has_processed_accounts is True, f"has_processed_accounts {s.has_processed_accounts!r}")
    check(s.has_processed_transactions is True, f"has_processed_transactions {s.has_processed_transactions!r}")
    check(s.successfully_aggregated_at, f"successfully_aggregated_at {s.successfully_aggregated_at!r}")
    check(s.aggregated_at, f"aggregated_at {s.aggregated_at!r}")
    check(not s.challenges, f"challenges {s.challenges!r}")


def walk_pages(fetch, per_page=PER_PAGE):
    """fetch(page) -> TransactionsResponseBodyIncludes; walks every page, checking the
    pagination block on each, and returns all transactions in order."""
    first = fetch(1)
    p0 = first.pagination
    check(p0 is not None, "no pagination object")
    total, pages = p0.total_entries, p0.total_pages
    check(isinstance(total, int) and total >= 0, f"total_entries {total!r}")
    check(pages == math.ceil(total / per_page), f"total_pages {pages!r} for {total} entries at {per_page} per page")
    out = []
    for n in range(1, pages + 1):
        body = first if n == 1 else fetch(n)
        p = body.pagination
        check((p.current_page, p.per_page, p.total_entries, p.total_pages) == (n, per_page, total, pages),
              f"page {n}: pagination {p.to_dict()}")
        want = per_page if n < pages else total - per_page * (pages - 1)
        got = body.transactions or []
        check(len(got) == want, f"page {n}: {len(got)} transactions, expected {want}")
        out += got
    dups = sorted(g for g, n in collections.Counter(t.guid for t in out).items() if n > 1)
    check(not dups, f"{len(dups)} guids on more than one page, e.g. {dups[:3]}")
    past = fetch(pages + 1)
    check(not past.transactions, f"page {pages + 1} (past the end) has {len(past.transactions or [])} transactions")
    return out


def check_transactions(txs, user, member, account_guids):
    today = today_utc()
    lo, hi = today - datetime.timedelta(days=120), today + datetime.timedelta(days=5)
    for t in txs:
        check(t.guid and t.guid.startswith("TRN-"), f"transaction guid {t.guid!r}")
        check(t.user_guid == user and t.member_guid == member, f"{t.guid}: user/member {t.user_guid}/{t.member_guid}")
        check(t.account_guid in account_guids, f"{t.guid}: account_guid {t.account_guid!r} not among the member's accounts")
        check(t.status in ("POSTED", "PENDING"), f"{t.guid}: status {t.status!r}")
        check(t.type in ("DEBIT", "CREDIT"), f"{t.guid}: type {t.type!r}")
        check(isinstance(t.amount, (int, float)) and t.amount > 0, f"{t.guid}: amount {t.amount!r}")
        check((t.status == "POSTED") == (t.posted_at is not None), f"{t.guid}: status {t.status} with posted_at {t.posted_at!r}")
        try:
            d = datetime.date.fromisoformat(t.var_date)
        except (TypeError, ValueError):
            raise CheckFailed(f"{t.guid}: date {t.var_date!r} is not YYYY-MM-DD")
        check(lo <= d <= hi, f"{t.guid}: date {d} outside the default window {lo}..{hi}")
    dates = [t.var_date for t in txs]
    check(dates == sorted(dates, reverse=True), "transactions are not newest first")
    future = [t for t in txs if t.var_date > today.isoformat()]
    if future:
        note(f"{len(future)} of {len(txs)} transactions are dated after today ({today}, UTC), up to {future[0].var_date}: "
             + ", ".join(f"{t.var_date} {t.status} {t.description!r}" for t in future[:3]))


def aggregation_scenario():
    st = {}
    user = step("aggregation: create user", lambda: new_user("agg"))
    member = step("create member (password 'password', skip_aggregation: false) -> 202",
                  lambda: create_aggregating_member(user, "password"))

    def poll_connected():
        t0 = time.monotonic()
        s = wait_for_member(member, user, "CONNECTED")
        check_connected_status(s)
        st["first_success"] = s.successfully_aggregated_at
        print(f"     (CONNECTED after {time.monotonic() - t0:.1f}s)", flush=True)
    step("poll read_member_status until CONNECTED", poll_connected)

    def read_connected_member():
        m = members.read_member(member, user).member
        assert_member(m, user)
        check(m.connection_status == "CONNECTED", f"connection_status {m.connection_status!r}")
        check(m.is_being_aggregated is False, f"is_being_aggregated {m.is_being_aggregated!r}")
        check(m.successfully_aggregated_at == st["first_success"],
              f"successfully_aggregated_at {m.successfully_aggregated_at!r} != status's {st['first_success']!r}")
        r = members.list_member_challenges_with_http_info(member, user)
        expect_status(r, 204)
    step("read member: CONNECTED; challenges -> 204", read_connected_member)

    def member_accounts():
        body = accounts_api.list_member_accounts(user, member)
        accts = body.accounts or []
        check(len(accts) == 6, f"{len(accts)} accounts, expected 6")
        assert_pagination(body.pagination, total=6)
        check(sorted(a.type for a in accts) == ACCOUNT_TYPES, f"account types {sorted(a.type for a in accts)}")
        for a in accts:
            check(a.guid and a.guid.startswith("ACT-"), f"account guid {a.guid!r}")
            check(a.member_guid == member and a.user_guid == user, f"{a.guid}: member/user {a.member_guid}/{a.user_guid}")
            check(a.institution_code == MXBANK, f"{a.guid}: institution_code {a.institution_code!r}")
            check(isinstance(a.balance, (int, float)), f"{a.guid}: balance {a.balance!r}")
            check(a.name, f"{a.guid}: name {a.name!r}")
        st["accounts"] = {a.guid: a for a in accts}
    step("list member accounts -> 6", member_accounts)
    account_guids = set(st["accounts"])

    def user_accounts():
        body = accounts_api.list_user_accounts(user, records_per_page=10)
        check({a.guid for a in body.accounts} == account_guids, f"user accounts {[a.guid for a in body.accounts]}")
        assert_pagination(body.pagination, total=6)
        check(body.pagination.per_page == 10, f"per_page {body.pagination.per_page!r}")
    step("list user accounts -> the same 6", user_accounts)

    def read_account():
        listed = next(a for a in st["accounts"].values() if a.type == "CHECKING")
        a = accounts_api.read_account(listed.guid, user).account
        check(a.to_dict() == listed.to_dict(), f"read_account differs from the listed account: {a.to_dict()} vs {listed.to_dict()}")
        st["checking"] = a.guid
        expect_api_error(lambda: accounts_api.read_account(f"ACT-{uuid.uuid4()}", user), 404)
    step("read account (checking) = listed; unknown account -> 404", read_account)

    def user_transactions():
        txs = walk_pages(lambda n: transactions_api.list_transactions(user, page=n, records_per_page=PER_PAGE))
        check(len(txs) > PER_PAGE, f"only {len(txs)} transactions: pagination not exercised")
        check_transactions(txs, user, member, account_guids)
        pending = {t.guid for t in txs if t.status == "PENDING"}
        check(pending, "no PENDING transactions after the first aggregation")
        st["txs"] = {t.guid: t for t in txs}
        st["pending"] = pending
        st["day"] = today_utc()
        print(f"     ({len(txs)} transactions on {math.ceil(len(txs) / PER_PAGE)} pages, {len(pending)} PENDING)", flush=True)
    step(f"list transactions by user, every page at records_per_page={PER_PAGE}", user_transactions)
    all_guids = set(st["txs"])

    def member_transactions():
        txs = walk_pages(lambda n: transactions_api.list_transactions_by_member(member, user, page=n, records_per_page=PER_PAGE))
        check({t.guid for t in txs} == all_guids, f"by member: {len(txs)} transactions, by user: {len(all_guids)}")
    step("list transactions by member = by user", member_transactions)

    def account_transactions():
        seen = set()
        for acct in account_guids:
            body = transactions_api.list_transactions_by_account(acct, user, records_per_page=1000)
            txs = body.transactions or []
            check(body.pagination.total_entries == len(txs), f"{acct}: total_entries {body.pagination.total_entries} != {len(txs)}")
            check(all(t.account_guid == acct for t in txs), f"{acct}: transactions of other accounts listed")
            seen |= {t.guid for t in txs}
        check(seen == all_guids, f"union by account: {len(seen)} transactions, by user: {len(all_guids)}")
    step("list transactions by account (all 6) = by user", account_transactions)

    def date_filter():
        dates = sorted({t.var_date for t in st["txs"].values()})
        mid = datetime.date.fromisoformat(dates[len(dates) // 2])
        day = datetime.timedelta(days=1)
        for lo, hi in [(mid, mid), (mid, mid + day), (mid - 10 * day, mid), (mid - 30 * day, mid - 30 * day)]:
            got = walk_pages(lambda n: transactions_api.list_transactions(
                user, from_date=lo.isoformat(), to_date=hi.isoformat(), page=n, records_per_page=10), per_page=10)
            got = {t.guid for t in got}
            incl = {g for g, t in st["txs"].items() if lo.isoformat() <= t.var_date <= hi.isoformat()}
            excl = {g for g, t in st["txs"].items() if lo.isoformat() <= t.var_date < hi.isoformat()}
            check(got in (incl, excl), f"from_date={lo}&to_date={hi}: {len(got)} transactions, expected {len(incl)} "
                  f"(to_date inclusive) or {len(excl)} (exclusive); extra {sorted(got - incl)[:3]}, missing {sorted(incl - got)[:3]}")
    step("list transactions with from_date/to_date windows (every page at records_per_page=10)", date_filter)

    def read_transaction():
        listed = st["txs"][next(iter(st["pending"]))]
        r = transactions_api.read_transaction_with_http_info(user, listed.guid)
        expect_status(r, 200)
        raw = json.loads(r.raw_data)
        check(isinstance(raw, dict) and isinstance(raw.get("transaction"), dict), f"body keys {list(raw) if isinstance(raw, dict) else raw!r}")
        t = raw["transaction"]
        for k in ("guid", "account_guid", "amount", "date", "status", "description"):
            want = listed.to_dict().get(k)
            check(t.get(k) == want, f"transaction.{k} {t.get(k)!r} != listed {want!r}")
        if r.data is None or not r.data.transactions:
            note("read_transaction: the server answers {\"transaction\": {...}} (MX's documented shape); the spec/SDK "
                 "declare TransactionsResponseBodyIncludes, so the SDK's .data.transactions is None")
        else:
            check(r.data.transactions[0].guid == listed.guid, f"SDK data guid {r.data.transactions[0].guid!r}")
        expect_api_error(lambda: transactions_api.read_transaction(user, f"TRN-{uuid.uuid4()}"), 404)
    step("read transaction (a PENDING one); unknown transaction -> 404", read_transaction)

    def other_user_sees_nothing():
        other = new_user("agg-other")
        st["other"] = other
        expect_api_error(lambda: accounts_api.read_account(st["checking"], other), 404)
        expect_api_error(lambda: transactions_api.read_transaction(other, next(iter(all_guids))), 404)
        expect_api_error(lambda: accounts_api.list_member_accounts(other, member), 404)
        expect_api_error(lambda: transactions_api.list_transactions_by_member(member, other), 404)
        body = transactions_api.list_transactions(other)
        check(not body.transactions and body.pagination.total_entries == 0, f"other user lists {body.pagination.total_entries} transactions")
        body = accounts_api.list_user_accounts(other)
        check(not body.accounts and body.pagination.total_entries == 0, f"other user lists {body.pagination.total_entries} accounts")
        delete_user(other)
    step("another user cannot see the accounts/transactions (404 / empty lists)", other_user_sees_nothing)

    def aggregate_again():
        r = members.aggregate_member_with_http_info(member, user)
        expect_status(r, 202)
        m = r.data.member
        assert_member(m, user)
        check(m.guid == member, f"guid {m.guid!r}")
        check(m.is_being_aggregated is True, f"202 body is_being_aggregated {m.is_being_aggregated!r}")
        r = members.aggregate_member_with_http_info(member, user)  # a job is running: 202 again, no new job
        expect_status(r, 202)
    step("aggregate member -> 202 (twice in a row)", aggregate_again)

    def poll_again():
        s = wait_for_member(member, user, "CONNECTED", newer_than=st["first_success"])
        check_connected_status(s)
    step("poll until the second aggregation is done (CONNECTED)", poll_again)

    def pending_posted():
        txs = walk_pages(lambda n: transactions_api.list_transactions(user, page=n, records_per_page=PER_PAGE))
        by_guid = {t.guid: t for t in txs}
        if today_utc() == st["day"]:
            check(set(by_guid) == all_guids, f"{len(txs)} transactions after re-aggregation, {len(all_guids)} before; "
                  f"new {sorted(set(by_guid) - all_guids)[:3]}, gone {sorted(all_guids - set(by_guid))[:3]}")
        else:  # the sandbox's 90-day window moved at midnight UTC: new days may have come in
            note("the UTC date changed between the two aggregations; not comparing the transaction sets")
            check(st["pending"] <= set(by_guid), f"PENDING transactions gone: {sorted(st['pending'] - set(by_guid))[:3]}")
        still = sorted(g for g in st["pending"] if by_guid[g].status != "POSTED")
        check(not still, f"{len(still)} of {len(st['pending'])} PENDING transactions not POSTED: {still[:3]}")
        for g in st["pending"]:
            check(by_guid[g].posted_at, f"{g}: POSTED without posted_at")
            check((by_guid[g].updated_at or "") > (st["txs"][g].updated_at or ""),
                  f"{g}: PENDING -> POSTED but updated_at stayed {by_guid[g].updated_at!r}")
        now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")
        ahead = [t for t in txs if t.status == "POSTED" and (t.posted_at or "") > now]
        if ahead:
            note(f"{len(ahead)} POSTED transactions have posted_at in the future (now {now}), e.g. "
                 + ", ".join(f"{t.guid} {t.var_date} posted_at {t.posted_at}" for t in ahead[:2]))
        changed = [g for g, t in by_guid.items()
                   if g in st["txs"] and g not in st["pending"] and t.to_dict() != st["txs"][g].to_dict()]
        if changed:  # updated_at may move; anything else changing is worth a look
            diffs = {k for g in changed for k, v in by_guid[g].to_dict().items() if st["txs"][g].to_dict().get(k) != v}
            check(diffs <= {"updated_at"}, f"posted transactions changed fields {sorted(diffs)} on re-aggregation")
    step("same transactions after re-aggregation, the PENDING ones now POSTED", pending_posted)

    def delete_member():
        r = members.delete_member_with_http_info(member, user)
        expect_status(r, 204)
        body = accounts_api.list_user_accounts(user)
        check(body.pagination.total_entries == 0, f"{body.pagination.total_entries} accounts left")
        body = transactions_api.list_transactions(user)
        check(body.pagination.total_entries == 0, f"{body.pagination.total_entries} transactions left")
        expect_api_error(lambda: accounts_api.read_account(st["checking"], user), 404)
        expect_api_error(lambda: transactions_api.read_transaction(user, next(iter(all_guids))), 404)
    step("delete member -> 204; its accounts and transactions are gone", delete_member)

    step("delete user -> 204", lambda: delete_user(user))


def resume_body(*answers):
    return MemberResumeRequestBody(member=MemberResumeRequest(
        challenges=[CredentialRequest(guid=g, value=v) for g, v in answers]))


def mfa_scenario():
    st = {}
    user = step("mfa: create user", lambda: new_user("mfa"))

    def challenged(password, kind):
        member = create_aggregating_member(user, password)
        s = wait_for_member(member, user, "CHALLENGED")
        check(s.challenges and len(s.challenges) == 1, f"status challenges {s.challenges!r}")
        check(s.challenges[0].type == kind, f"status challenge type {s.challenges[0].type!r}")
        r = members.list_member_challenges_with_http_info(member, user)
        expect_status(r, 200)
        cs = r.data.challenges or []
        check(len(cs) == 1 and cs[0].type == kind, f"challenges {[c.to_dict() for c in cs]}")
        check(cs[0].guid == s.challenges[0].guid, f"challenge guid {cs[0].guid!r} != status's {s.challenges[0].guid!r}")
        check(cs[0].guid and cs[0].label, f"challenge guid/label {cs[0].guid!r}/{cs[0].label!r}")
        assert_pagination(r.data.pagination, total=1)
        return member, cs[0]

    def resume(member, *answers):
        r = members.resume_aggregation_with_http_info(member, user, resume_body(*answers))
        expect_status(r, 202)
        m = r.data.member
        assert_member(m, user)
        check(m.guid == member, f"guid {m.guid!r}")

    def text():
        member, c = challenged("challenge", "TEXT")
        st["text"] = member
        resume(member, (c.guid, "correct"))
        wait_for_member(member, user, "CONNECTED")
        expect_status(members.list_member_challenges_with_http_info(member, user), 204)
        body = accounts_api.list_member_accounts(user, member)
        check(len(body.accounts or []) == 6, f"{len(body.accounts or [])} accounts")
    step("password 'challenge': CHALLENGED (TEXT) -> resume 'correct' -> CONNECTED, 6 accounts", text)

    def resume_not_challenged():
        body = expect_api_error(lambda: members.resume_aggregation(
            st["text"], user, resume_body(("CRD-1b2a7f6e-0000-4000-8000-000000000001", "correct"))), 400)
        check(isinstance((body or {}).get("error"), dict), f"400 body {body!r}")
    step("resume a CONNECTED member -> 400", resume_not_challenged)

    def options():
        member, c = challenged("options", "OPTIONS")
        opts = c.options or []
        check(len(opts) >= 2, f"options {[o.to_dict() for o in opts]}")
        right = [o for o in opts if o.value == "correct"]
        check(len(right) == 1, f"no option with value 'correct' among {[o.to_dict() for o in opts]}")
        resume(member, (c.guid, right[0].value))
        wait_for_member(member, user, "CONNECTED")
    step("password 'options': CHALLENGED (OPTIONS) -> choose the 'correct' option -> CONNECTED", options)

    def image_wrong():
        member, c = challenged("image", "IMAGE_DATA")
        check(c.image_data and c.image_data.startswith("data:image/png;base64,"), f"image_data {c.image_data[:40] if c.image_data else c.image_data!r}")
        resume(member, (c.guid, "wrong"))
        s = wait_for_member(member, user, "REJECTED")
        check(not s.challenges, f"challenges {s.challenges!r}")
        expect_status(members.list_member_challenges_with_http_info(member, user), 204)
    step("password 'image': CHALLENGED (IMAGE_DATA) -> wrong answer -> REJECTED", image_wrong)

    def denied():
        member = create_aggregating_member(user, "UNAUTHORIZED")
        wait_for_member(member, user, "DENIED")
        expect_status(members.list_member_challenges_with_http_info(member, user), 204)
        for want in ("DENIED", "PREVENTED"):  # the third DENIED in a row makes the member PREVENTED
            r = members.aggregate_member_with_http_info(member, user)
            expect_status(r, 202)
            check(r.data.member.is_being_aggregated is True, f"202 body is_being_aggregated {r.data.member.is_being_aggregated!r}")
            wait_for_member(member, user, want)
        body = expect_api_error(lambda: members.aggregate_member(member, user), 400)
        check(isinstance((body or {}).get("error"), dict), f"400 body {body!r}")
    step("password 'UNAUTHORIZED' -> DENIED; aggregate twice more -> PREVENTED; aggregate -> 400", denied)

    def follow_up():
        other = new_user("mfa2")  # 'challenge' again for the same user would be a duplicate (409)
        nonlocal user
        user, first_user = other, user
        try:
            member, c = challenged("challenge", "TEXT")
            resume(member, (c.guid, "challenge"))
            s = wait_for_member(member, user, "CHALLENGED")
            check(s.challenges and s.challenges[0].guid != c.guid, f"follow-up challenges {s.challenges!r}")
            resume(member, (s.challenges[0].guid, "correct"))
            wait_for_member(member, user, "CONNECTED")
            delete_user(other)
        finally:
            user = first_user
    step("TEXT answer 'challenge' -> follow-up question -> 'correct' -> CONNECTED", follow_up)

    step("delete user -> 204", lambda: delete_user(user))


# --- premium data: holdings, account numbers, account owners, statements -----------------

HOLDINGS = 4  # positions in the sandbox's INVESTMENT account, from a plain aggregation
NUMBERED = ["CHECKING", "SAVINGS"]  # the accounts verify finds numbers for
ROUTING_NUMBER = "091000019"
OWNERS = 7  # after identify
STATEMENTS = 9  # after fetch_statements
PDF_MEDIA_TYPE = "application/vnd.mx.api.v1+pdf"


def connected_member(user):
    """Creates a sandbox-bank member (password 'password') and polls it to CONNECTED; returns
    its guid and its 6 accounts by type."""
    member = create_aggregating_member(user, "password")
    check_connected_status(wait_for_member(member, user, "CONNECTED"))
    accts = accounts_api.list_member_accounts(user, member).accounts or []
    check(sorted(a.type for a in accts) == ACCOUNT_TYPES, f"account types {sorted(a.type for a in accts)}")
    return member, {a.type: a for a in accts}


def member_action(call, member, user, status):
    """verify/identify/fetch_statements through the SDK's *_with_http_info method: HTTP `status`
    with the member, its job queued (is_being_aggregated true); then polls read_member_status
    until the job is over, which must leave the member CONNECTED. Returns the last status."""
    r = call(member, user)
    expect_status(r, status)
    m = r.data.member if r.data else None
    assert_member(m, user)
    check(m.guid == member, f"guid {m.guid!r}")
    check(m.is_being_aggregated is True, f"{status} body is_being_aggregated {m.is_being_aggregated!r}")
    return wait_for_member(member, user, "CONNECTED")


def expect_empty(body, key):
    items = getattr(body, key) or []
    check(not items and body.pagination.total_entries == 0,
          f"{key}: {len(items)} listed, total_entries {body.pagination.total_entries}")


def data_scenario():
    st = {}
    user = step("data: create user", lambda: new_user("data"))

    def aggregate():
        st["member"], st["accounts"] = connected_member(user)
    step("create member (password 'password') -> 202; poll until CONNECTED; 6 accounts", aggregate)
    member, by_type = st["member"], st["accounts"]
    account_guids = {a.guid for a in by_type.values()}
    investment = by_type["INVESTMENT"].guid

    def holdings():
        r = holdings_api.list_holdings_with_http_info(user)
        expect_status(r, 200)
        body = r.data
        hs = body.investment_holdings or []
        # The spec's (so the SDK's) InvestmentHoldingResponse has no member_guid; MX sends it.
        raw_member = {h.get("guid"): h.get("member_guid") for h in json.loads(r.raw_data).get("investment_holdings") or []}
        if hs and not hasattr(hs[0], "member_guid"):
            note("investment holdings: the spec/SDK's InvestmentHoldingResponse has no member_guid (MX sends it); read from the JSON")
        check(len(hs) == HOLDINGS, f"{len(hs)} holdings, expected {HOLDINGS}")
        assert_pagination(body.pagination, total=HOLDINGS)
        check(len({h.guid for h in hs}) == HOLDINGS, f"holding guids {[h.guid for h in hs]}")
        for h in hs:
            check(h.guid and h.guid.startswith("HOL-"), f"holding guid {h.guid!r}")
            check(h.account_guid == investment, f"{h.guid}: account_guid {h.account_guid!r} is not the INVESTMENT account")
            check(raw_member.get(h.guid) == member and h.user_guid == user,
                  f"{h.guid}: member/user {raw_member.get(h.guid)}/{h.user_guid} (member_guid read from the JSON)")
            check(h.symbol and h.description, f"{h.guid}: symbol/description {h.symbol!r}/{h.description!r}")
            check(isinstance(h.market_value, (int, float)), f"{h.guid}: market_value {h.market_value!r}")
            try:
                quantity = float(h.quantity)  # the spec and the SDKs type quantity as a string
            except (TypeError, ValueError):
                raise CheckFailed(f"{h.guid}: quantity {h.quantity!r} is not a number")
            if isinstance(h.current_price, (int, float)):
                check(abs(quantity * h.current_price - h.market_value) <= 0.01 + 0.001 * abs(h.market_value),
                      f"{h.guid}: quantity {h.quantity} x current_price {h.current_price} != market_value {h.market_value}")
        st["holdings"] = {h.guid: h for h in hs}
    step(f"list holdings by user -> {HOLDINGS} (from the aggregation), on the INVESTMENT account", holdings)

    def holdings_by():
        want = {g: h.to_dict() for g, h in st["holdings"].items()}
        got = holdings_api.list_holdings_by_member(member, user).investment_holdings or []
        check({h.guid: h.to_dict() for h in got} == want, f"by member: {[h.guid for h in got]}")
        got = holdings_api.list_holdings_by_account(investment, user).investment_holdings or []
        check({h.guid: h.to_dict() for h in got} == want, f"by account: {[h.guid for h in got]}")
        expect_empty(holdings_api.list_holdings_by_account(by_type["CHECKING"].guid, user), "investment_holdings")
        listed = next(iter(st["holdings"].values()))
        one = holdings_api.read_holding(listed.guid, user).investment_holding
        check(one is not None and one.to_dict() == listed.to_dict(), f"read_holding {one.to_dict() if one else None} != listed {listed.to_dict()}")
        expect_api_error(lambda: holdings_api.read_holding(f"HOL-{uuid.uuid4()}", user), 404)
        expect_api_error(lambda: holdings_api.list_holdings_by_account(f"ACT-{uuid.uuid4()}", user), 404)
    step("holdings by member, by account (INVESTMENT) = by user, none on CHECKING; read holding; unknown -> 404", holdings_by)

    def nothing_yet():
        expect_empty(accounts_api.list_account_numbers_by_member(member, user), "account_numbers")
        expect_empty(accounts_api.list_account_owners_by_member(member, user), "account_owners")
        expect_empty(statements_api.list_statements_by_member(member, user), "statements")
    step("before verify/identify/fetch_statements: no account numbers, owners or statements", nothing_yet)

    def verify():
        s = member_action(members.verify_member_with_http_info, member, user, 200)
        check(s.has_processed_account_numbers is True, f"has_processed_account_numbers {s.has_processed_account_numbers!r}")
    step("verify member -> 200 with the member; poll until the job is over (CONNECTED)", verify)

    def account_numbers():
        body = accounts_api.list_account_numbers_by_member(member, user)
        nums = body.account_numbers or []
        assert_pagination(body.pagination, total=len(NUMBERED))
        by_account = {n.account_guid: n for n in nums}
        want = {by_type[t].guid for t in NUMBERED}
        check(len(nums) == len(NUMBERED) and set(by_account) == want,
              f"account numbers for {[n.account_guid for n in nums]}, expected the {' and '.join(NUMBERED)} accounts {sorted(want)}")
        masked = {a.guid: a.account_number for a in by_type.values()}
        for n in nums:
            check(n.guid and n.guid.startswith("ACN-"), f"account number guid {n.guid!r}")
            check(n.member_guid == member and n.user_guid == user, f"{n.guid}: member/user {n.member_guid}/{n.user_guid}")
            check(re.fullmatch(r"\d{10}", n.account_number or ""), f"{n.guid}: account_number {n.account_number!r} is not 10 digits")
            check((masked[n.account_guid] or "")[-4:] == n.account_number[-4:],
                  f"{n.guid}: {n.account_number} does not end like the account's {masked[n.account_guid]!r}")
            check(n.routing_number == ROUTING_NUMBER, f"{n.guid}: routing_number {n.routing_number!r}")
            check(n.passed_validation is True, f"{n.guid}: passed_validation {n.passed_validation!r}")
        st["numbers"] = by_account
    step(f"list account numbers by member -> {len(NUMBERED)} ({', '.join(NUMBERED)}): full numbers, routing {ROUTING_NUMBER}", account_numbers)

    def numbers_by_account():
        for a in by_type.values():
            body = accounts_api.list_account_numbers_by_account(a.guid, user)
            got = [n.to_dict() for n in body.account_numbers or []]
            want = [st["numbers"][a.guid].to_dict()] if a.guid in st["numbers"] else []
            check(got == want, f"{a.type}: {got}, expected {want}")
            check(body.pagination.total_entries == len(want), f"{a.type}: total_entries {body.pagination.total_entries}")
        expect_api_error(lambda: accounts_api.list_account_numbers_by_account(f"ACT-{uuid.uuid4()}", user), 404)
    step("list account numbers by account (all 6) = by member; unknown account -> 404", numbers_by_account)

    step("identify member -> 202 with the member; poll until the job is over (CONNECTED)",
         lambda: member_action(members.identify_member_with_http_info, member, user, 202))

    def owners():
        body = accounts_api.list_account_owners_by_member(member, user)
        got = body.account_owners or []
        check(len(got) == OWNERS, f"{len(got)} account owners, expected {OWNERS}")
        assert_pagination(body.pagination, total=OWNERS)
        check(len({o.guid for o in got}) == OWNERS, f"owner guids {[o.guid for o in got]}")
        for o in got:
            check(o.guid and o.guid.startswith("ACO-"), f"account owner guid {o.guid!r}")
            check(o.account_guid in account_guids, f"{o.guid}: account_guid {o.account_guid!r} not among the member's accounts")
            check(o.member_guid == member and o.user_guid == user, f"{o.guid}: member/user {o.member_guid}/{o.user_guid}")
            check(o.owner_name, f"{o.guid}: owner_name {o.owner_name!r}")
    step(f"list account owners by member -> {OWNERS}", owners)

    step("fetch statements -> 202 with the member; poll until the job is over (CONNECTED)",
         lambda: member_action(statements_api.fetch_statements_with_http_info, member, user, 202))

    def statements():
        body = statements_api.list_statements_by_member(member, user)
        got = body.statements or []
        check(len(got) == STATEMENTS, f"{len(got)} statements, expected {STATEMENTS}")
        assert_pagination(body.pagination, total=STATEMENTS)
        check(len({s.guid for s in got}) == STATEMENTS, f"statement guids {[s.guid for s in got]}")
        for s in got:
            check(s.guid and s.guid.startswith("STA-"), f"statement guid {s.guid!r}")
            check(s.account_guid in account_guids, f"{s.guid}: account_guid {s.account_guid!r} not among the member's accounts")
            check(s.member_guid == member and s.user_guid == user, f"{s.guid}: member/user {s.member_guid}/{s.user_guid}")
            check(re.fullmatch(r"[0-9a-f]{64}", s.content_hash or ""), f"{s.guid}: content_hash {s.content_hash!r}")
            check((s.uri or "").endswith(f"/users/{user}/members/{member}/statements/{s.guid}.pdf"), f"{s.guid}: uri {s.uri!r}")
            check(s.created_at, f"{s.guid}: created_at {s.created_at!r}")
        st["statements"] = got
        one = statements_api.read_statement_by_member(member, got[0].guid, user).statement
        check(one is not None and one.to_dict() == got[0].to_dict(), f"read_statement_by_member {one.to_dict() if one else None} != listed")
        expect_api_error(lambda: statements_api.read_statement_by_member(member, f"STA-{uuid.uuid4()}", user), 404)
    step(f"list statements by member -> {STATEMENTS}; read one = listed; unknown -> 404", statements)

    def pdfs():
        for s in st["statements"]:
            r = statements_api.download_statement_pdf_with_http_info(member, s.guid, user)
            expect_status(r, 200)
            ctype = (r.headers or {}).get("Content-Type")
            check(ctype == PDF_MEDIA_TYPE, f"{s.guid}: Content-Type {ctype!r}")
            data = bytes(r.data or b"")
            check(data.startswith(b"%PDF-"), f"{s.guid}: body starts {data[:16]!r}")
            check(hashlib.sha256(data).hexdigest() == s.content_hash,
                  f"{s.guid}: sha256 {hashlib.sha256(data).hexdigest()} != content_hash {s.content_hash}")
        expect_api_error(lambda: statements_api.download_statement_pdf(member, f"STA-{uuid.uuid4()}", user), 404)
    step(f"download_statement_pdf x{STATEMENTS}: {PDF_MEDIA_TYPE}, %PDF-, sha256 = content_hash; unknown -> 404", pdfs)

    def other_user_sees_nothing():
        other = new_user("data-other")
        some_statement = st["statements"][0].guid
        expect_api_error(lambda: accounts_api.list_account_numbers_by_member(member, other), 404)
        expect_api_error(lambda: accounts_api.list_account_numbers_by_account(by_type["CHECKING"].guid, other), 404)
        expect_api_error(lambda: accounts_api.list_account_owners_by_member(member, other), 404)
        expect_api_error(lambda: statements_api.list_statements_by_member(member, other), 404)
        expect_api_error(lambda: statements_api.read_statement_by_member(member, some_statement, other), 404)
        expect_api_error(lambda: statements_api.download_statement_pdf(member, some_statement, other), 404)
        expect_api_error(lambda: holdings_api.read_holding(next(iter(st["holdings"])), other), 404)
        expect_api_error(lambda: holdings_api.list_holdings_by_member(member, other), 404)
        expect_empty(holdings_api.list_holdings(other), "investment_holdings")
        delete_user(other)
    step("another user cannot see the holdings, account numbers, owners or statements (404 / empty list)", other_user_sees_nothing)

    def aggregate_again():
        first = members.read_member_status(member, user).member.successfully_aggregated_at
        r = members.aggregate_member_with_http_info(member, user)
        expect_status(r, 202)
        wait_for_member(member, user, "CONNECTED", newer_than=first)
        got = holdings_api.list_holdings(user).investment_holdings or []
        check(sorted(h.guid for h in got) == sorted(st["holdings"]), f"holdings now {sorted(h.guid for h in got)}, before {sorted(st['holdings'])}")
        got = accounts_api.list_account_numbers_by_member(member, user).account_numbers or []
        check({n.guid for n in got} == {n.guid for n in st["numbers"].values()}, f"account numbers now {[n.guid for n in got]}")
        check(accounts_api.list_account_owners_by_member(member, user).pagination.total_entries == OWNERS, "account owners changed")
        got = statements_api.list_statements_by_member(member, user).statements or []
        check({s.guid for s in got} == {s.guid for s in st["statements"]}, f"statements now {[s.guid for s in got]}")
    step("aggregate again: the same holdings (same guids), account numbers, owners and statements", aggregate_again)

    def delete_member():
        r = members.delete_member_with_http_info(member, user)
        expect_status(r, 204)
        expect_empty(holdings_api.list_holdings(user), "investment_holdings")
        expect_api_error(lambda: holdings_api.read_holding(next(iter(st["holdings"])), user), 404)
        expect_api_error(lambda: statements_api.download_statement_pdf(member, st["statements"][0].guid, user), 404)
    step("delete member -> 204; its holdings and statements are gone", delete_member)

    step("delete user -> 204", lambda: delete_user(user))


# --- edits: manual accounts, account updates, transaction updates ------------------------

def account_update(**fields):
    return AccountUpdateRequestBody(account=AccountUpdateRequest(**fields))


def transaction_update(**fields):
    return TransactionUpdateRequestBody(transaction=TransactionUpdateRequest(**fields))


def raw_account(r):
    """The account of an AccountResponseBody answer as JSON: the spec's (so the SDK's)
    AccountResponse has no is_business, which MX sends and AccountUpdateRequest sets."""
    return (json.loads(r.raw_data) or {}).get("account") or {}


def read_transaction_by_account(user, member, account, transaction):
    """GET /users/{u}/members/{m}/accounts/{a}/transactions/{t}: MX serves it, but neither the
    spec nor the SDK has an operation for it, so this goes through the SDK's own ApiClient.call_api,
    deserialising MX's TransactionResponseBody."""
    return client.call_api(
        "/users/{user_guid}/members/{member_guid}/accounts/{account_guid}/transactions/{transaction_guid}", "GET",
        path_params={"user_guid": user, "member_guid": member, "account_guid": account, "transaction_guid": transaction},
        header_params={"Accept": ACCEPT}, response_types_map={"200": "TransactionResponseBody"},
        auth_settings=["basicAuth"], _return_http_data_only=True)


def listed_transactions(user, account):
    body = transactions_api.list_transactions_by_account(account, user, records_per_page=1000)
    return {t.guid: t for t in body.transactions or []}


def edits_scenario():
    st = {}
    user = step("edits: create user", lambda: new_user("edits"))

    def aggregate():
        st["member"], st["accounts"] = connected_member(user)
    step("create member (password 'password') -> 202; poll until CONNECTED; 6 accounts", aggregate)
    member, by_type = st["member"], st["accounts"]
    checking = by_type["CHECKING"]

    def create_manual():
        r = accounts_api.create_manual_account_with_http_info(user, AccountCreateRequestBody(account=AccountCreateRequest(
            name="House", account_type="PROPERTY", property_type="REAL_ESTATE", balance=350000.5, metadata=f"manual-{RUN}")))
        expect_status(r, 200)
        house = r.data.account
        check(house.guid and house.guid.startswith("ACT-"), f"account guid {house.guid!r}")
        check(house.is_manual is True, f"is_manual {house.is_manual!r}")
        check((house.name, house.type, house.property_type, house.balance, house.metadata)
              == ("House", "PROPERTY", "REAL_ESTATE", 350000.5, f"manual-{RUN}"),
              f"name/type/property_type/balance/metadata {(house.name, house.type, house.property_type, house.balance, house.metadata)}")
        check(house.user_guid == user, f"user_guid {house.user_guid!r}")
        check(house.member_guid and house.member_guid.startswith("MBR-") and house.member_guid != member,
              f"member_guid {house.member_guid!r} (the aggregated member is {member})")
        r = accounts_api.create_manual_account_with_http_info(user, AccountCreateRequestBody(account=AccountCreateRequest(
            name="Wallet", account_type="CASH", balance=120.25, currency_code="USD")))
        expect_status(r, 200)
        cash = r.data.account
        check(cash.is_manual is True and cash.type == "CASH" and cash.balance == 120.25, f"cash account {cash.to_dict()}")
        check(cash.member_guid == house.member_guid, f"second manual account under {cash.member_guid}, first under {house.member_guid}")
        body = expect_api_error(lambda: accounts_api.create_manual_account(user, AccountCreateRequestBody(
            account=AccountCreateRequest(name="Bad", account_type="NOT_A_TYPE"))), 400)
        check(isinstance((body or {}).get("error"), dict), f"400 body {body!r}")
        st["house"], st["cash"] = house, cash
    step("create manual accounts (PROPERTY, CASH) -> 200, is_manual, under one member of their own; bad account_type -> 400", create_manual)
    house, cash = st["house"], st["cash"]
    manual_member = house.member_guid

    def manual_listed():
        m = members.read_member(manual_member, user).member
        check(m.guid == manual_member and m.user_guid == user, f"manual member {m.guid!r}/{m.user_guid!r}")
        check(m.is_manual is True, f"manual member is_manual {m.is_manual!r}")
        check(m.is_being_aggregated is False, f"manual member is_being_aggregated {m.is_being_aggregated!r}")
        aggregated = {a.guid for a in by_type.values()}
        got = {a.guid for a in accounts_api.list_user_accounts(user, is_manual=True).accounts or []}
        check(got == {house.guid, cash.guid}, f"is_manual=true: {sorted(got)}")
        got = {a.guid for a in accounts_api.list_user_accounts(user, is_manual=False).accounts or []}
        check(got == aggregated, f"is_manual=false: {sorted(got)}")
        body = accounts_api.list_user_accounts(user)
        check(body.pagination.total_entries == 8, f"{body.pagination.total_entries} accounts, expected 6 + 2")
        got = {a.guid for a in accounts_api.list_member_accounts(user, manual_member).accounts or []}
        check(got == {house.guid, cash.guid}, f"by the manual member: {sorted(got)}")
        a = accounts_api.read_account_by_member(house.guid, manual_member, user).account
        check(a.to_dict() == house.to_dict(), f"read_account_by_member {a.to_dict()} != created {house.to_dict()}")
        a = accounts_api.read_account(house.guid, user).account
        check(a.to_dict() == house.to_dict(), f"read_account {a.to_dict()} != created {house.to_dict()}")
        expect_api_error(lambda: accounts_api.read_account_by_member(house.guid, member, user), 404)
    step("manual member is_manual; accounts is_manual=true -> 2, false -> 6, by manual member -> 2; read_account_by_member", manual_listed)

    def update_manual():
        r = accounts_api.update_account_by_member_with_http_info(house.guid, manual_member, user, account_update(
            name="Home", nickname="Casa", balance=360000, property_type="VEHICLE", is_hidden=True, is_business=True,
            metadata="updated", currency_code="EUR"))
        expect_status(r, 200)
        a = r.data.account
        if not hasattr(a, "is_business"):
            note("accounts: the spec/SDK's AccountResponse has no is_business, which AccountUpdateRequest sets; read from the JSON")
        got = (a.name, a.nickname, a.balance, a.property_type, a.is_hidden, raw_account(r).get("is_business"), a.metadata, a.currency_code)
        want = ("Home", "Casa", 360000, "VEHICLE", True, True, "updated", "EUR")
        check(got == want, f"updated fields {got}, expected {want}")
        check(a.guid == house.guid and a.type == "PROPERTY" and a.is_manual is True, f"account {a.to_dict()}")
        r = accounts_api.read_account_by_member_with_http_info(house.guid, manual_member, user)
        again = r.data.account
        check(again.to_dict() == a.to_dict(), f"read back {again.to_dict()} != {a.to_dict()}")
        check(raw_account(r).get("is_business") is True, f"read back is_business {raw_account(r).get('is_business')!r}")
        st["house"] = again
    step("update manual account (name, nickname, balance, property_type, is_hidden, is_business, metadata, currency_code) -> 200; read back", update_manual)

    def update_aggregated():
        r = accounts_api.update_account_by_member_with_http_info(checking.guid, member, user, account_update(
            is_business=True, is_hidden=True, metadata=f"agg-{RUN}"))
        expect_status(r, 200)
        a = r.data.account
        got = (raw_account(r).get("is_business"), a.is_hidden, a.metadata)
        check(got == (True, True, f"agg-{RUN}"), f"is_business/is_hidden/metadata {got}")
        check((a.name, a.balance, a.type) == (checking.name, checking.balance, checking.type),
              f"name/balance/type changed to {(a.name, a.balance, a.type)}")
        for fields in ({"name": "Renamed"}, {"balance": 1.0}, {"account_type": "SAVINGS"}, {"nickname": "n", "is_hidden": False}):
            body = expect_api_error(lambda: accounts_api.update_account_by_member(checking.guid, member, user, account_update(**fields)), 400)
            check(isinstance((body or {}).get("error"), dict), f"{fields}: 400 body {body!r}")
        r = accounts_api.read_account_by_member_with_http_info(checking.guid, member, user)
        again = r.data.account
        check(again.to_dict() == a.to_dict(), f"read back {again.to_dict()} != {a.to_dict()}")
        check(raw_account(r).get("is_business") is True, f"read back is_business {raw_account(r).get('is_business')!r}")
        expect_api_error(lambda: accounts_api.update_account_by_member(checking.guid, manual_member, user, account_update(is_hidden=False)), 404)
        st["checking"] = again
    step("update aggregated account: is_business/is_hidden/metadata -> 200; name, balance, account_type, nickname -> 400", update_aggregated)

    def deletes():
        body = expect_api_error(lambda: accounts_api.delete_manual_account(checking.guid, ACCEPT, user), 400)
        check(isinstance((body or {}).get("error"), dict), f"400 body {body!r}")
        r = accounts_api.delete_manual_account_with_http_info(cash.guid, ACCEPT, user)
        expect_status(r, 204)
        expect_api_error(lambda: accounts_api.read_account(cash.guid, user), 404)
        expect_api_error(lambda: accounts_api.delete_manual_account(cash.guid, ACCEPT, user), 404)
        got = {a.guid for a in accounts_api.list_user_accounts(user, is_manual=True).accounts or []}
        check(got == {house.guid}, f"manual accounts left {sorted(got)}")
    step("delete an aggregated account -> 400; delete the CASH manual account -> 204, then read/delete -> 404", deletes)

    def update_transaction():
        txs = listed_transactions(user, checking.guid)
        t = next((t for t in txs.values() if t.status == "POSTED"), None)
        check(t is not None, "no POSTED transaction on the CHECKING account")
        desc, memo = f"Edited {RUN}", f"memo {RUN}"
        r = transactions_api.update_transaction_with_http_info(user, t.guid, transaction_update(description=desc, memo=memo))
        expect_status(r, 200)
        got = r.data.transaction
        check(got is not None and got.guid == t.guid, f"transaction {got.to_dict() if got else None}")
        check((got.description, got.memo) == (desc, memo), f"description/memo {(got.description, got.memo)}")
        same = {k: v for k, v in t.to_dict().items() if k not in ("description", "memo", "updated_at")}
        diff = {k: got.to_dict().get(k) for k, v in same.items() if got.to_dict().get(k) != v}
        check(not diff, f"other fields changed: {diff}")
        now = listed_transactions(user, checking.guid)[t.guid]
        check((now.description, now.memo) == (desc, memo), f"listed afterwards: {(now.description, now.memo)}")
        st["edited"] = {t.guid: (checking.guid, desc, memo)}
    step("update transaction (description, memo) -> 200 with the new values, nothing else changed; listed so", update_transaction)
    edited = next(iter(st["edited"]))

    def refused():
        for fields in ({"var_date": "2020-01-01"}, {"category_guid": "CAT-7829f71c-2e8c-afa5-2f55-fa3634b89874"}):
            body = expect_api_error(lambda: transactions_api.update_transaction(user, edited, transaction_update(**fields)), 400)
            check(isinstance((body or {}).get("error"), dict), f"{fields}: 400 body {body!r}")
        expect_api_error(lambda: transactions_api.update_transaction(user, f"TRN-{uuid.uuid4()}", transaction_update(memo="x")), 404)
    step("update transaction date or category_guid -> 400; unknown transaction -> 404", refused)

    def by_account():
        acct = by_type["CREDIT_CARD"].guid
        txs = listed_transactions(user, acct)
        t = next((t for t in txs.values() if t.status == "PENDING"), None) or next(iter(txs.values()), None)
        check(t is not None, "no transactions on the CREDIT_CARD account")
        desc, memo = f"By account {RUN}", f"card memo {RUN}"
        r = transactions_api.update_transaction_by_account_with_http_info(user, member, acct, t.guid, transaction_update(description=desc, memo=memo))
        expect_status(r, 200)
        got = r.data.transaction
        check(got is not None and (got.guid, got.description, got.memo) == (t.guid, desc, memo),
              f"transaction {got.to_dict() if got else None}")
        one = read_transaction_by_account(user, member, acct, t.guid).transaction
        check(one is not None and one.to_dict() == got.to_dict(), f"GET by account {one.to_dict() if one else None} != PUT answer {got.to_dict()}")
        expect_api_error(lambda: read_transaction_by_account(user, member, checking.guid, t.guid), 404)
        expect_api_error(lambda: transactions_api.update_transaction_by_account(user, member, checking.guid, t.guid, transaction_update(memo="x")), 404)
        st["edited"][t.guid] = (acct, desc, memo)
    step("update/read a transaction by member and account -> 200; through another account -> 404", by_account)

    def survives():
        first = members.read_member_status(member, user).member.successfully_aggregated_at
        r = members.aggregate_member_with_http_info(member, user)
        expect_status(r, 202)
        wait_for_member(member, user, "CONNECTED", newer_than=first)
        for guid, (acct, desc, memo) in st["edited"].items():
            t = listed_transactions(user, acct).get(guid)
            check(t is not None, f"{guid} gone after re-aggregation")
            check((t.description, t.memo) == (desc, memo), f"{guid}: description/memo {(t.description, t.memo)}, expected {(desc, memo)}")
        r = accounts_api.read_account_with_http_info(checking.guid, user)
        a = r.data.account
        got = (raw_account(r).get("is_business"), a.is_hidden, a.metadata)
        check(got == (True, True, f"agg-{RUN}"), f"CHECKING is_business/is_hidden/metadata now {got}")
        a = accounts_api.read_account(house.guid, user).account
        check(a.to_dict() == st["house"].to_dict(), f"manual account now {a.to_dict()}")
    step("aggregate again: edited descriptions/memos, the CHECKING account's updates and the manual account stay", survives)

    step("delete user -> 204", lambda: delete_user(user))


# --- OAuth through the sandbox bank's page ------------------------------------------------

OAUTH_BANK = "mx_bank_oauth"
APP_REDIRECT = "https://app.example.com/done"
BASIC = "Basic " + base64.b64encode(f"{CLIENT_ID}:{API_KEY}".encode()).decode()


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


def oauth_scenario():
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


# --- webhooks: a receiver in this process ---------------------------------------------------

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


WEBHOOK_SEQUENCE = ["MEMBER.created", "MEMBER.updated", "AGGREGATION.member_data_updated",
                    "AGGREGATION.member_data_updated", "BALANCE.member_data_updated",
                    "HISTORY.member_data_updated", "MEMBER.deleted"]
CALLBACK_CREATE = base64.b64encode(f"create {RUN}".encode()).decode()
CALLBACK_AGGREGATE = base64.b64encode(f"aggregate {RUN}".encode()).decode()


def webhooks_scenario():
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


# --- premium jobs: balances and extended history --------------------------------------------

def count_transactions(user, from_date):
    return transactions_api.list_transactions(user, from_date=from_date.isoformat(), records_per_page=10).pagination.total_entries


def premium_more_scenario():
    st = {}
    user = step("premium_more: create user", lambda: new_user("premium"))
    two_years = today_utc() - datetime.timedelta(days=730)

    def aggregate():
        st["member"], _ = connected_member(user)
        st["before"] = count_transactions(user, two_years)
        st["status"] = members.read_member_status(st["member"], user).member
    step("create member (password 'password') -> 202; poll until CONNECTED; 6 accounts", aggregate)
    member = st["member"]

    def balances():
        s = member_action(members.check_balances_with_http_info, member, user, 202)
        check(s.successfully_aggregated_at == st["status"].successfully_aggregated_at,
              f"successfully_aggregated_at {st['status'].successfully_aggregated_at} -> {s.successfully_aggregated_at}")
        accts = accounts_api.list_member_accounts(user, member).accounts or []
        check(len(accts) == len(ACCOUNT_TYPES) and all(isinstance(a.balance, (int, float)) for a in accts),
              f"balances {[(a.type, a.balance) for a in accts]}")
        n = count_transactions(user, two_years)
        check(n == st["before"], f"transactions {st['before']} -> {n}")
    step("check_balances -> 202 with the member; polls back to CONNECTED; 6 balances, no new transactions", balances)

    def history():
        member_action(transactions_api.extend_history_with_http_info, member, user, 202)
        n = count_transactions(user, two_years)
        check(n > st["before"], f"transactions since {two_years}: {st['before']} -> {n}")
        oldest = transactions_api.list_transactions(user, from_date=two_years.isoformat(), records_per_page=10,
                                                    page=math.ceil(n / 10)).transactions[-1].var_date
        check(oldest < (today_utc() - datetime.timedelta(days=120)).isoformat() and oldest >= two_years.isoformat(),
              f"oldest transaction {oldest}")
        st["after"] = n
    step("extend_history -> 202; polls back to CONNECTED; transactions since 2 years ago grow, older than 120 days", history)

    def again():
        member_action(transactions_api.extend_history_with_http_info, member, user, 202)
        n = count_transactions(user, two_years)
        check(n == st["after"], f"transactions {st['after']} -> {n} after a second extend_history")
    step("extend_history again: no duplicates (same count)", again)

    step("delete user -> 204", lambda: delete_user(user))


SCENARIOS = [("basic", scenario), ("aggregation", aggregation_scenario), ("mfa", mfa_scenario),
             ("data", data_scenario), ("edits", edits_scenario), ("oauth", oauth_scenario),
             ("webhooks", webhooks_scenario), ("premium_more", premium_more_scenario)]


def main():
    print(f"python SDK mx-platform-python against {URL}", flush=True)
    failed = 0
    only = os.environ.get("FERRY_COMPAT_PY_SCENARIOS")  # e.g. "data,edits" while debugging
    for name, fn in SCENARIOS:
        if only and name not in only.split(","):
            continue
        print(f"-- {name}", flush=True)
        try:
            fn()
        except Exception:
            failed += 1
    for guid in list(created_users):  # best effort
        try:
            users.delete_user(ACCEPT, guid)
        except Exception:
            pass
    print(f"python_sdk: {n_steps - failed} passed, {failed} failed", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
