// Drive a running Ferry server with MX's official Node SDK (mx-platform-node@2.1.0, API v20111101).
//
// Env: FERRY_URL, FERRY_CLIENT_ID, FERRY_API_KEY; optional MX_NODE_MODULES = a node_modules
// directory holding mx-platform-node (run.sh installs it outside the repo), otherwise the
// package is resolved from compat/node/node_modules (`npm ci` in compat/node).
// Prints one line per step and exits non-zero on the first failure (after cleaning up).
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import path from 'node:path';

const require = createRequire(
  process.env.MX_NODE_MODULES ? path.join(path.resolve(process.env.MX_NODE_MODULES), '..', 'index.js') : import.meta.url,
);
const { Configuration, UsersApi, MembersApi, InstitutionsApi } = require('mx-platform-node');

const ACCEPT = 'application/vnd.mx.api.v1+json';
const MXBANK = 'mxbank';
const MXBANK_GUID = 'INS-1572a04c-912b-59bf-5841-332c7dfafaef';
const LOGIN_CRD = 'CRD-9f61fb4c-912c-bd1e-b175-ccc7f0275cc1';
const PASSWORD_CRD = 'CRD-e3d7ea81-aac7-05e9-fbdd-4b493c6e474d';

const URL = (process.env.FERRY_URL || 'http://127.0.0.1:8080').replace(/\/+$/, '');
const CLIENT_ID = process.env.FERRY_CLIENT_ID;
const API_KEY = process.env.FERRY_API_KEY;
assert.ok(CLIENT_ID && API_KEY, 'FERRY_CLIENT_ID and FERRY_API_KEY must be set');

// As in the SDK's README: the Accept header is passed through baseOptions.
const config = (password = API_KEY, headers = { Accept: ACCEPT }) =>
  new Configuration({ username: CLIENT_ID, password, basePath: URL, baseOptions: { headers } });
const users = new UsersApi(config());
const members = new MembersApi(config());
const institutions = new InstitutionsApi(config());

const RUN = randomUUID().replaceAll('-', '').slice(0, 12);
const createdUsers = new Set();
let steps = 0;

function describe(err) {
  if (err?.response) return `unexpected HTTP ${err.response.status}; body: ${JSON.stringify(err.response.data)}`;
  return err?.stack || String(err);
}

async function step(name, fn) {
  steps += 1;
  try {
    const result = await fn();
    console.log(`ok   ${name}`);
    return result;
  } catch (err) {
    console.log(`FAIL ${name}: ${err instanceof assert.AssertionError ? err.message : describe(err)}`);
    throw err;
  }
}

// The call must be rejected with HTTP `status`; returns the (parsed) error body.
async function expectError(promise, status) {
  let res;
  try {
    res = await promise;
  } catch (err) {
    assert.ok(err.response, `no HTTP response: ${err}`);
    assert.equal(err.response.status, status, `HTTP ${err.response.status}, expected ${status}; body: ${JSON.stringify(err.response.data)}`);
    return err.response.data;
  }
  assert.fail(`call succeeded with HTTP ${res.status}, expected ${status}`);
}

function assertMember(m, userGuid) {
  assert.ok(m, 'no member in response body');
  assert.match(m.guid, /^MBR-/, 'member guid prefix');
  assert.equal(m.user_guid, userGuid, 'user_guid');
  assert.equal(m.institution_code, MXBANK, 'institution_code');
  assert.equal(typeof m.connection_status, 'string', 'connection_status');
}

function assertPagination(p, total) {
  assert.ok(p, 'no pagination object');
  assert.equal(p.current_page, 1, 'pagination.current_page');
  assert.ok(Number.isInteger(p.per_page) && p.per_page > 0, `pagination.per_page ${p.per_page}`);
  if (total !== undefined) {
    assert.equal(p.total_entries, total, 'pagination.total_entries');
    assert.equal(p.total_pages, 1, 'pagination.total_pages');
  }
}

const memberBody = (password, skipAggregation, metadata) => ({
  member: {
    institution_code: MXBANK,
    credentials: [
      { guid: LOGIN_CRD, value: 'mxuser' },
      { guid: PASSWORD_CRD, value: password },
    ],
    skip_aggregation: skipAggregation,
    ...(metadata ? { metadata } : {}),
  },
});

async function scenario() {
  await step('wrong api_key -> 401', () => expectError(new UsersApi(config('wrong-' + API_KEY)).listUsers(), 401));

  const user = await step('create user', async () => {
    const res = await users.createUser({ user: { id: `node-${RUN}`, email: `node-${RUN}@example.com`, metadata: '{"suite":"node"}' } });
    assert.equal(res.status, 200, 'HTTP status');
    const u = res.data.user;
    assert.match(u.guid, /^USR-/, 'user guid prefix');
    createdUsers.add(u.guid);
    assert.equal(u.id, `node-${RUN}`, 'id');
    assert.equal(u.email, `node-${RUN}@example.com`, 'email');
    assert.equal(u.metadata, '{"suite":"node"}', 'metadata');
    assert.equal(u.is_disabled, false, 'is_disabled');
    return u.guid;
  });

  await step('read user', async () => {
    const { data } = await users.readUser(user);
    assert.equal(data.user.guid, user);
    assert.equal(data.user.id, `node-${RUN}`);
  });

  await step('read user without the vnd Accept header (axios default Accept)', async () => {
    const { data } = await new UsersApi(config(API_KEY, {})).readUser(user);
    assert.equal(data.user.guid, user);
  });

  await step('update user (metadata)', async () => {
    const { data } = await users.updateUser(user, { user: { metadata: 'updated' } });
    assert.equal(data.user.guid, user);
    assert.equal(data.user.metadata, 'updated');
    assert.equal(data.user.email, `node-${RUN}@example.com`, 'email unchanged');
  });

  await step('list users (id filter)', async () => {
    const { data } = await users.listUsers(1, 10, `node-${RUN}`);
    assert.deepEqual(data.users.map((u) => u.guid), [user]);
    assertPagination(data.pagination, 1);
  });

  await step("list institutions (name 'MX Bank')", async () => {
    const { data } = await institutions.listInstitutions('MX Bank');
    assert.ok(data.institutions.some((i) => i.code === MXBANK), `codes ${data.institutions.map((i) => i.code)}`);
    assertPagination(data.pagination);
  });

  await step('list favorite institutions', async () => {
    const { data } = await institutions.listFavoriteInstitutions();
    assert.ok(Array.isArray(data.institutions), 'institutions is an array');
    assertPagination(data.pagination);
  });

  await step('read institution mxbank', async () => {
    const { data } = await institutions.readInstitution(MXBANK);
    assert.equal(data.institution.code, MXBANK);
    assert.match(data.institution.name, /MX Bank/);
  });

  await step('list institution credentials', async () => {
    const { data } = await institutions.listInstitutionCredentials(MXBANK);
    const byGuid = Object.fromEntries(data.credentials.map((c) => [c.guid, c]));
    assert.equal(byGuid[LOGIN_CRD]?.field_name, 'LOGIN', 'LOGIN credential');
    assert.equal(byGuid[PASSWORD_CRD]?.field_name, 'PASSWORD', 'PASSWORD credential');
    assertPagination(data.pagination);
  });

  const password = `pw-${RUN}`;
  const member = await step('create member (skip_aggregation: true) -> 200', async () => {
    const res = await members.createMember(user, memberBody(password, true, 'created'));
    assert.equal(res.status, 200, 'HTTP status');
    const m = res.data.member;
    assertMember(m, user);
    assert.equal(m.connection_status, 'CREATED', 'connection_status');
    assert.equal(m.institution_guid, MXBANK_GUID, 'institution_guid');
    assert.equal(m.metadata, 'created', 'metadata');
    return m.guid;
  });

  await step('read member', async () => {
    const { data } = await members.readMember(member, user);
    assertMember(data.member, user);
    assert.equal(data.member.guid, member);
  });

  await step('list members', async () => {
    const { data } = await members.listMembers(user);
    assert.deepEqual(data.members.map((m) => m.guid), [member]);
    assertPagination(data.pagination, 1);
  });

  await step('read member status', async () => {
    const { data } = await members.readMemberStatus(member, user);
    assert.equal(data.member.guid, member);
    assert.equal(data.member.connection_status, 'CREATED');
    assert.ok(!data.member.challenges?.length, 'no challenges');
  });

  await step('list member credentials', async () => {
    const { data } = await members.listMemberCredentials(member, user);
    assert.deepEqual(data.credentials.map((c) => c.field_name).sort(), ['LOGIN', 'PASSWORD']);
    assert.ok(data.credentials.every((c) => /^CRD-/.test(c.guid)), 'credential guid prefix');
    assertPagination(data.pagination);
  });

  await step('list member challenges -> 204', async () => {
    const res = await members.listMemberChallenges(member, user);
    assert.equal(res.status, 204, 'HTTP status');
    assert.ok(res.data === '' || res.data == null, `empty body, got ${JSON.stringify(res.data)}`);
  });

  await step('duplicate create member -> 409 with existing guid', async () => {
    const body = await expectError(members.createMember(user, memberBody(password, true)), 409);
    assert.equal(body?.guid, member, '409 body guid');
    assert.equal(body?.error?.guid, member, '409 body error.guid');
    assert.equal(typeof body?.error?.message, 'string', '409 body error.message');
  });

  await step('update member (metadata)', async () => {
    const res = await members.updateMember(member, user, { member: { metadata: `meta-${RUN}` } });
    assert.equal(res.status, 200, 'HTTP status');
    assertMember(res.data.member, user);
    assert.equal(res.data.member.metadata, `meta-${RUN}`);
  });

  await step('delete member -> 204, then read -> 404', async () => {
    const res = await members.deleteMember(member, user);
    assert.equal(res.status, 204, 'HTTP status');
    await expectError(members.readMember(member, user), 404);
  });

  await step('second user: create member (skip_aggregation: false) -> 202', async () => {
    const u2 = (await users.createUser({ user: { id: `node2-${RUN}` } })).data.user.guid;
    createdUsers.add(u2);
    const res = await members.createMember(u2, memberBody(`pw2-${RUN}`, false));
    assert.equal(res.status, 202, 'HTTP status');
    assertMember(res.data.member, u2);
    assert.equal((await users.deleteUser(ACCEPT, u2)).status, 204, 'delete second user');
    createdUsers.delete(u2);
  });

  await step('delete user -> 204', async () => {
    const res = await users.deleteUser(ACCEPT, user);
    assert.equal(res.status, 204, 'HTTP status');
    createdUsers.delete(user);
  });

  await step('read deleted user -> 404', () => expectError(users.readUser(user), 404));
}

console.log(`node SDK mx-platform-node against ${URL}`);
let failed = 0;
try {
  await scenario();
} catch {
  failed = 1;
} finally {
  for (const guid of createdUsers) await users.deleteUser(ACCEPT, guid).catch(() => {});
}
console.log(`node_sdk: ${steps - failed} passed, ${failed} failed`);
process.exit(failed);
