"""What every Python SDK scenario shares: the SDK client and its API objects, `step()` and the
checks inside a step, and the sandbox bank's fixtures (users, mxbank members, polling
read_member_status until a job is over).

Env: FERRY_URL (e.g. http://127.0.0.1:8080), FERRY_CLIENT_ID, FERRY_API_KEY.
"""
import datetime
import json
import os
import time
import uuid

import mx_platform_python as mx
from mx_platform_python import (
    CredentialRequest,
    MemberCreateRequest,
    MemberCreateRequestBody,
    UserCreateRequest,
    UserCreateRequestBody,
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

POLL_INTERVAL = 0.2  # seconds between read_member_status calls
POLL_TIMEOUT = 30.0  # per wait
IN_FLIGHT = ("CREATED", "RESUMED")  # statuses a finished job never leaves behind
ACCOUNT_TYPES = sorted(["CHECKING", "SAVINGS", "CREDIT_CARD", "LOAN", "MORTGAGE", "INVESTMENT"])

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


# --- steps and checks -----------------------------------------------------------------------

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


# --- fixtures: users and sandbox-bank members -------------------------------------------------

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


def mxbank_member_body(password, skip_aggregation, metadata=None):
    return MemberCreateRequestBody(member=MemberCreateRequest(
        institution_code=MXBANK,
        credentials=[CredentialRequest(guid=LOGIN_CRD, value="mxuser"),
                     CredentialRequest(guid=PASSWORD_CRD, value=password)],
        skip_aggregation=skip_aggregation,
        metadata=metadata,
    ))


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


def connected_member(user):
    """Creates a sandbox-bank member (password 'password') and polls it to CONNECTED; returns
    its guid and its 6 accounts by type."""
    member = create_aggregating_member(user, "password")
    check_connected_status(wait_for_member(member, user, "CONNECTED"))
    accts = accounts_api.list_member_accounts(user, member).accounts or []
    check(sorted(a.type for a in accts) == ACCOUNT_TYPES, f"account types {sorted(a.type for a in accts)}")
    return member, {a.type: a for a in accts}


def member_action(call, member, user, status):
    """A member action (verify, identify, fetch_statements, aggregate, check_balances,
    extend_history) through the SDK's *_with_http_info method: HTTP `status`
    with the member, its job queued (is_being_aggregated true); then polls read_member_status
    until the job is over, which must leave the member CONNECTED. Returns the last status."""
    r = call(member, user)
    expect_status(r, status)
    m = r.data.member if r.data else None
    assert_member(m, user)
    check(m.guid == member, f"guid {m.guid!r}")
    check(m.is_being_aggregated is True, f"{status} body is_being_aggregated {m.is_being_aggregated!r}")
    return wait_for_member(member, user, "CONNECTED")


def reaggregate(member, user):
    """aggregate_member (202), then polls until that job is over: CONNECTED, with a newer
    successfully_aggregated_at than before. Returns the last status."""
    first = members.read_member_status(member, user).member.successfully_aggregated_at
    r = members.aggregate_member_with_http_info(member, user)
    expect_status(r, 202)
    return wait_for_member(member, user, "CONNECTED", newer_than=first)
