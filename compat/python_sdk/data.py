"""The premium data scenario: investment holdings from a plain aggregation; verify_member,
identify_member and fetch_statements with the account numbers, account owners and statement PDFs
they bring; another user sees none of it; a second aggregation keeps it all, and deleting the
member removes it.
"""
import hashlib
import json
import re
import uuid

from .harness import (
    CheckFailed, accounts_api, assert_pagination, check, connected_member, delete_user, expect_api_error,
    expect_status, holdings_api, member_action, members, new_user, note, reaggregate, statements_api, step,
)

HOLDINGS = 4  # positions in the sandbox's INVESTMENT account, from a plain aggregation
NUMBERED = ["CHECKING", "SAVINGS"]  # the accounts verify finds numbers for
ROUTING_NUMBER = "091000019"
OWNERS = 7  # after identify
STATEMENTS = 9  # after fetch_statements
PDF_MEDIA_TYPE = "application/vnd.mx.api.v1+pdf"


def run():
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
        reaggregate(member, user)
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


def expect_empty(body, key):
    items = getattr(body, key) or []
    check(not items and body.pagination.total_entries == 0,
          f"{key}: {len(items)} listed, total_entries {body.pagination.total_entries}")
