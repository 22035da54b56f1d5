"""The premium_more scenario: check_balances (the same successfully_aggregated_at and transactions,
6 balances) and extend_history (transactions older than 120 days; a second call adds none).
"""
import datetime
import math

from .harness import (
    ACCOUNT_TYPES, accounts_api, check, connected_member, delete_user, member_action, members, new_user, step,
    today_utc, transactions_api,
)


def run():
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


def count_transactions(user, from_date):
    return transactions_api.list_transactions(user, from_date=from_date.isoformat(), records_per_page=10).pagination.total_entries
