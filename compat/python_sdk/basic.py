"""The basic scenario: a wrong API key (401); a user created, read, updated and listed; the
institutions (mxbank, mx_bank_oauth, an unknown one, mxbank's credentials); a member created with
skip_aggregation (200), read, listed, its status, credentials and challenges (204), a duplicate
(409), updated and deleted; a widget URL (opens once); a second user's aggregating member (202); the user deleted.
"""
import urllib.error
import urllib.request

import mx_platform_python as mx
from mx_platform_python import (
    MemberUpdateRequest,
    MemberUpdateRequestBody,
    UserCreateRequest,
    UserCreateRequestBody,
    UserUpdateRequest,
    UserUpdateRequestBody,
    WidgetRequest,
    WidgetRequestBody,
)

from .harness import (
    ACCEPT, API_KEY, CLIENT_ID, LOGIN_CRD, MXBANK, MXBANK_GUID, PASSWORD_CRD, RUN, URL, assert_member, assert_pagination,
    check, created_users, expect_api_error, expect_status, institutions, make_client, members, mxbank_member_body,
    step, users,
)


def run():
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

    def widget_url():
        api = mx.WidgetsApi(make_client())
        body = WidgetRequestBody(widget_url=WidgetRequest(
            widget_type="connect_widget", mode="aggregation", color_scheme="dark", ui_message_version=4))
        w = api.request_widget_url(user, body, accept_language="fr-CA", x_callback_payload="cHl0aG9u").widget_url
        check(w.type == "connect_widget", f"type {w.type!r}")
        check(w.user_id == f"py-{RUN}", f"user_id {w.user_id!r}")
        check(w.url and w.url.startswith(URL + "/connect/"), f"url {w.url!r}")
        with urllib.request.urlopen(w.url, timeout=10) as page:
            html = page.read().decode()
            check(page.status == 200, f"widget page {page.status}")
            check('lang="fr-CA"' in html and "scheme-dark" in html, "the page follows Accept-Language and color_scheme")
        try:
            urllib.request.urlopen(w.url, timeout=10)
            check(False, "a widget URL opened twice")
        except urllib.error.HTTPError as e:
            check(e.code == 410, f"second use: {e.code}")
        bad = WidgetRequestBody(widget_url=WidgetRequest(widget_type="budgets_widget"))
        expect_api_error(lambda: api.request_widget_url(user, bad), 400)
    step("request widget URL (once; unknown widget type -> 400)", widget_url)

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
