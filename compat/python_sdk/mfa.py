"""The MFA scenario: TEXT and OPTIONS challenges and a follow-up question answered through
resume_aggregation with the SDK's MemberResumeRequestBody/MemberResumeRequest/CredentialRequest,
a wrong IMAGE_DATA answer REJECTED, UNAUTHORIZED DENIED and then PREVENTED.
"""
from mx_platform_python import CredentialRequest, MemberResumeRequest, MemberResumeRequestBody

from .harness import (
    accounts_api, assert_member, assert_pagination, check, create_aggregating_member, delete_user, expect_api_error,
    expect_status, members, new_user, step, wait_for_member,
)


def run():
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


def resume_body(*answers):
    return MemberResumeRequestBody(member=MemberResumeRequest(
        challenges=[CredentialRequest(guid=g, value=v) for g, v in answers]))
