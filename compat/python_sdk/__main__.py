"""Drive a running Ferry server with MX's official Python SDK (mx-platform-python==1.12.0):
`cd compat && python -m python_sdk`.

Env: FERRY_URL (e.g. http://127.0.0.1:8080), FERRY_CLIENT_ID, FERRY_API_KEY; optionally
FERRY_COMPAT_PY_SCENARIOS=data,edits to run only some scenarios.
Runs eight scenarios, one module each, each with users of its own: the basic user/institution/
member one, an aggregation one (sandbox bank behind mxbank: accounts, paginated transactions,
re-aggregation), an MFA one (TEXT, OPTIONS and IMAGE_DATA challenges answered through
resume_aggregation), a data one (investment holdings; verify, identify and fetch_statements with
the account numbers, account owners and statement PDFs they bring), an edits one (manual accounts,
account and transaction updates surviving re-aggregation), an OAuth one (mx_bank_oauth authorized
and denied on the sandbox bank's page, urllib playing the browser), a webhooks one (a receiver in
this process, registered with POST /admin/webhooks; needs FERRY_WEBHOOKS_ALLOW_LOOPBACK=1 on the
server) and a premium_more one (check_balances, extend_history).
Prints one line per step (`note` lines flag known spec/SDK divergences without failing); a
scenario stops at its first failure, the next one still runs; exits non-zero if any failed.
"""
import os
import sys

from . import aggregation, basic, data, edits, harness, mfa, oauth, premium_more, webhooks
from .harness import ACCEPT, URL, created_users, users

SCENARIOS = [("basic", basic.run), ("aggregation", aggregation.run), ("mfa", mfa.run),
             ("data", data.run), ("edits", edits.run), ("oauth", oauth.run),
             ("webhooks", webhooks.run), ("premium_more", premium_more.run)]


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
    print(f"python_sdk: {harness.n_steps - failed} passed, {failed} failed", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
