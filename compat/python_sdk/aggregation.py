"""The aggregation scenario: a member at the sandbox bank behind mxbank polled to CONNECTED, its 6
accounts, every page of its transactions (by user, member and account, and in from_date/to_date
windows), another user seeing none of it, and a second aggregation that turns the PENDING
transactions POSTED.
"""
import collections
import datetime
import json
import math
import time
import uuid

from .harness import (
    ACCOUNT_TYPES, MXBANK, CheckFailed, accounts_api, assert_member, assert_pagination, check, check_connected_status,
    create_aggregating_member, delete_user, expect_api_error, expect_status, members, new_user, note, step, today_utc,
    transactions_api, wait_for_member,
)

PER_PAGE = 50  # small enough that ~90 days of transactions take several pages


def run():
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
