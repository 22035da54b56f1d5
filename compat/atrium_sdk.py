"""MX's Atrium SDK (PyPI `atrium` 2.11.7) against Ferry, with its native headers
(`MX-API-Key`, `MX-Client-ID`, `Accept: application/vnd.mx.atrium.v1+json`).

Scenario: create user -> institution credentials -> create member -> poll status to
CONNECTED -> accounts -> transactions -> duplicate member (409) -> delete member -> delete user.

Environment: FERRY_URL, FERRY_CLIENT_ID, FERRY_API_KEY (set by compat/run.sh).
"""

import os
import sys
import time

import atrium
from atrium.rest import ApiException

URL = os.environ["FERRY_URL"]
CLIENT_ID = os.environ["FERRY_CLIENT_ID"]
API_KEY = os.environ["FERRY_API_KEY"]

steps = 0


def step(name, ok, detail=""):
    global steps
    steps += 1
    print(f"{'ok' if ok else 'FAIL'} {steps:2d} {name}{(': ' + str(detail)) if detail else ''}")
    if not ok:
        sys.exit(1)


def main():
    client = atrium.AtriumClient(API_KEY, CLIENT_ID, environment=URL)

    user = client.users.create_user(
        atrium.UserCreateRequestBody(user=atrium.User(identifier=f"atrium-{time.time_ns()}", metadata="{}"))
    ).user
    step("create user", user.guid.startswith("USR-") and user.identifier.startswith("atrium-"), user.guid)

    creds = client.institutions.read_institution_credentials("mxbank").credentials
    by_field = {c.field_name: c.guid for c in creds}
    step("institution credentials", set(by_field) == {"LOGIN", "PASSWORD"}, sorted(by_field))

    def create(password):
        body = atrium.MemberCreateRequestBody(
            member=atrium.MemberCreateRequest(
                institution_code="mxbank",
                identifier=f"m-{password}",
                credentials=[
                    atrium.CredentialRequest(guid=by_field["LOGIN"], value="test_atrium"),
                    atrium.CredentialRequest(guid=by_field["PASSWORD"], value=password),
                ],
            )
        )
        return client.members.create_member(user.guid, body).member

    member = create("password")
    step("create member", member.guid.startswith("MBR-") and member.identifier == "m-password", member.status)

    deadline = time.time() + 30
    while True:
        status = client.members.read_member_status(member.guid, user.guid).member
        if status.connection_status == "CONNECTED" and not status.is_being_aggregated:
            break
        if time.time() > deadline:
            step("member connects", False, f"{status.connection_status} / {status.status}")
        time.sleep(0.2)
    step("member connects", status.status == "COMPLETED" and status.has_processed_transactions, status.status)

    accounts = client.members.list_member_accounts(member.guid, user.guid).accounts
    step("member accounts", len(accounts) == 6, [a.type for a in accounts])
    account = client.accounts.read_account(accounts[0].guid, user.guid).account
    step("read account", account.guid == accounts[0].guid and account.member_guid == member.guid)

    page, seen, total = 1, 0, None
    while True:
        body = client.transactions.list_user_transactions(user.guid, page=page, records_per_page=100)
        seen += len(body.transactions)
        total = body.pagination.total_entries
        if page >= body.pagination.total_pages:
            break
        page += 1
    step("every page of transactions", seen == total and total > 100, f"{seen} of {total}")
    t = client.members.list_member_transactions(member.guid, user.guid, records_per_page=10).transactions[0]
    step("a transaction", t.guid.startswith("TRN-") and t.amount > 0 and t.member_guid == member.guid)

    try:
        create("password")
        step("duplicate member is 409", False, "created a duplicate")
    except ApiException as e:
        step("duplicate member is 409", e.status == 409, e.status)

    def settle():
        deadline = time.time() + 30
        while client.members.read_member_status(member.guid, user.guid).member.is_being_aggregated:
            if time.time() > deadline:
                step("job ends", False)
            time.sleep(0.2)

    m = client.members.aggregate_member(member.guid, user.guid).member
    step("aggregate", m.guid == member.guid)
    settle()
    m = client.members.aggregate_member_balances(member.guid, user.guid).member
    step("balance (Atrium's path for check_balance)", m.guid == member.guid)
    settle()

    client.members.delete_member(member.guid, user.guid)
    try:
        client.members.read_member(member.guid, user.guid)
        step("deleted member is gone", False)
    except ApiException as e:
        step("deleted member is gone", e.status == 404, e.status)
    client.users.delete_user(user.guid)
    step("delete user", True)
    print(f"atrium: {steps} steps passed")


if __name__ == "__main__":
    try:
        main()
    except ApiException as e:
        print(f"FAIL: {e.status} {e.reason}: {e.body}")
        sys.exit(1)
