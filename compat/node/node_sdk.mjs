// Drive a running Ferry server with MX's official Node SDK (mx-platform-node@2.1.0, API v20111101).
//
// Env: FERRY_URL, FERRY_CLIENT_ID, FERRY_API_KEY; optional MX_NODE_MODULES = a node_modules
// directory holding mx-platform-node (run.sh installs it outside the repo), otherwise the
// package is resolved from compat/node/node_modules (`npm ci` in compat/node).
// Two scenarios, each with users of its own: the basic user/institution/member one, and an
// aggregation one against the sandbox bank (poll to CONNECTED, accounts, every page of
// transactions, re-aggregation posting the PENDING ones, a TEXT challenge answered via resume).
// Prints one line per step; a scenario stops at its first failure, the next one still runs;
// exits non-zero if any failed.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import path from 'node:path';

const require = createRequire(
  process.env.MX_NODE_MODULES ? path.join(path.resolve(process.env.MX_NODE_MODULES), '..', 'index.js') : import.meta.url,
);
const { Configuration, UsersApi, MembersApi, InstitutionsApi, AccountsApi, TransactionsApi } = require('mx-platform-node');

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
const accounts = new AccountsApi(config());
const transactions = new TransactionsApi(config());

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

// --- aggregation against the sandbox bank ----------------------------------------------

const POLL_INTERVAL_MS = 200;
const POLL_TIMEOUT_MS = 30_000;
const PER_PAGE = 50;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function newUser(tag) {
  const res = await users.createUser({ user: { id: `node-${tag}-${RUN}` } });
  assert.equal(res.status, 200, 'HTTP status');
  createdUsers.add(res.data.user.guid);
  return res.data.user.guid;
}

async function createAggregatingMember(user, password) {
  const res = await members.createMember(user, memberBody(password, false));
  assert.equal(res.status, 202, 'HTTP status');
  assertMember(res.data.member, user);
  assert.equal(res.data.member.is_being_aggregated, true, '202 body is_being_aggregated');
  return res.data.member.guid;
}

// Polls readMemberStatus until the job is over (not is_being_aggregated, status not
// CREATED/RESUMED); the status must then be `expect`. With newerThan, an unchanged
// successfully_aggregated_at is the previous job's state: keep polling.
async function waitForMember(member, user, expect, newerThan) {
  const start = Date.now();
  for (let polls = 1; ; polls++) {
    const s = (await members.readMemberStatus(member, user)).data.member;
    assert.equal(s.guid, member, 'status guid');
    if (!s.is_being_aggregated && !['CREATED', 'RESUMED'].includes(s.connection_status)) {
      assert.equal(s.connection_status, expect, `job ended ${s.connection_status} after ${polls} polls`);
      if (newerThan === undefined || (s.successfully_aggregated_at ?? '') > newerThan) return s;
    }
    if (Date.now() - start > POLL_TIMEOUT_MS) {
      assert.fail(`still ${s.connection_status} (is_being_aggregated=${s.is_being_aggregated}) after ${POLL_TIMEOUT_MS / 1000}s`);
    }
    await sleep(POLL_INTERVAL_MS);
  }
}

// Walks every page of a transactions list, checking each pagination block; returns them all.
async function walkPages(fetch) {
  const first = (await fetch(1)).data;
  const { total_entries: total, total_pages: pages } = first.pagination;
  assert.equal(pages, Math.ceil(total / PER_PAGE), `total_pages for ${total} entries`);
  const out = [];
  for (let n = 1; n <= pages; n++) {
    const body = n === 1 ? first : (await fetch(n)).data;
    assert.deepEqual(body.pagination, { current_page: n, per_page: PER_PAGE, total_entries: total, total_pages: pages }, `page ${n} pagination`);
    assert.equal(body.transactions.length, n < pages ? PER_PAGE : total - PER_PAGE * (pages - 1), `page ${n} length`);
    out.push(...body.transactions);
  }
  const guids = out.map((t) => t.guid);
  assert.equal(new Set(guids).size, guids.length, 'a guid appears on more than one page');
  assert.deepEqual((await fetch(pages + 1)).data.transactions, [], 'page past the end');
  return out;
}

async function aggregationScenario() {
  const user = await step('aggregation: create user', () => newUser('agg'));
  const member = await step("create member (password 'password', skip_aggregation: false) -> 202", () => createAggregatingMember(user, 'password'));

  const firstSuccess = await step('poll readMemberStatus until CONNECTED', async () => {
    const s = await waitForMember(member, user, 'CONNECTED');
    assert.equal(s.has_processed_transactions, true, 'has_processed_transactions');
    assert.ok(!s.challenges?.length, 'no challenges');
    return s.successfully_aggregated_at;
  });

  const accountGuids = await step('list member accounts -> 6; list user accounts -> the same', async () => {
    const { data } = await accounts.listMemberAccounts(user, member);
    assert.equal(data.accounts.length, 6, 'member accounts');
    assertPagination(data.pagination, 6);
    assert.deepEqual(data.accounts.map((a) => a.type).sort(), ['CHECKING', 'CREDIT_CARD', 'INVESTMENT', 'LOAN', 'MORTGAGE', 'SAVINGS']);
    for (const a of data.accounts) {
      assert.match(a.guid, /^ACT-/, 'account guid prefix');
      assert.equal(a.member_guid, member, 'account member_guid');
      assert.equal(typeof a.balance, 'number', 'balance');
    }
    const byUser = (await accounts.listUserAccounts(user)).data;
    assert.deepEqual(byUser.accounts.map((a) => a.guid).sort(), data.accounts.map((a) => a.guid).sort());
    const one = (await accounts.readAccount(data.accounts[0].guid, user)).data.account;
    assert.deepEqual(one, data.accounts[0], 'readAccount = listed account');
    return new Set(data.accounts.map((a) => a.guid));
  });

  let firstDay; // UTC date of the first listing: the sandbox's window moves at midnight
  const before = await step(`list transactions by user, every page at recordsPerPage=${PER_PAGE}`, async () => {
    const txs = await walkPages((n) => transactions.listTransactions(user, n, PER_PAGE));
    assert.ok(txs.length > PER_PAGE, `only ${txs.length} transactions: pagination not exercised`);
    for (const t of txs) {
      assert.ok(accountGuids.has(t.account_guid), `${t.guid}: account_guid ${t.account_guid}`);
      assert.equal(t.member_guid, member, `${t.guid}: member_guid`);
      assert.ok(['POSTED', 'PENDING'].includes(t.status), `${t.guid}: status ${t.status}`);
    }
    assert.ok(txs.some((t) => t.status === 'PENDING'), 'no PENDING transactions after the first aggregation');
    firstDay = new Date().toISOString().slice(0, 10);
    return new Map(txs.map((t) => [t.guid, t]));
  });

  await step('transactions by member and by account = by user; read transaction', async () => {
    const byMember = await walkPages((n) => transactions.listTransactionsByMember(member, user, n, PER_PAGE));
    assert.deepEqual(byMember.map((t) => t.guid).sort(), [...before.keys()].sort(), 'by member');
    let sum = 0;
    for (const acct of accountGuids) {
      const { data } = await transactions.listTransactionsByAccount(acct, user, 1, 1000);
      assert.ok(data.transactions.every((t) => t.account_guid === acct), `${acct}: other accounts' transactions`);
      sum += data.pagination.total_entries;
    }
    assert.equal(sum, before.size, 'sum over accounts');
    const listed = before.values().next().value;
    const { data } = await transactions.readTransaction(user, listed.guid);
    // MX's shape; the SDK's declared type (TransactionsResponseBodyIncludes) has no `transaction`.
    assert.deepEqual(data.transaction, listed, 'readTransaction = listed transaction');
  });

  await step('aggregate member -> 202; poll until CONNECTED again', async () => {
    const res = await members.aggregateMember(member, user);
    assert.equal(res.status, 202, 'HTTP status');
    assertMember(res.data.member, user);
    assert.equal(res.data.member.is_being_aggregated, true, '202 body is_being_aggregated');
    await waitForMember(member, user, 'CONNECTED', firstSuccess);
  });

  await step('same transactions after re-aggregation, the PENDING ones now POSTED', async () => {
    const after = await walkPages((n) => transactions.listTransactions(user, n, PER_PAGE));
    if (new Date().toISOString().slice(0, 10) === firstDay) {
      assert.deepEqual(after.map((t) => t.guid).sort(), [...before.keys()].sort(), 'same guids');
    }
    const stillPending = after.filter((t) => before.get(t.guid)?.status === 'PENDING' && t.status !== 'POSTED');
    const gone = [...before.values()].filter((t) => t.status === 'PENDING' && !after.some((a) => a.guid === t.guid));
    assert.deepEqual(gone.map((t) => t.guid), [], 'PENDING transactions gone');
    assert.deepEqual(stillPending.map((t) => t.guid), [], 'PENDING transactions not POSTED');
  });

  await step("password 'challenge': CHALLENGED (TEXT) -> resumeAggregation 'correct' -> CONNECTED", async () => {
    const m = await createAggregatingMember(user, 'challenge');
    const s = await waitForMember(m, user, 'CHALLENGED');
    const res = await members.listMemberChallenges(m, user);
    assert.equal(res.status, 200, 'challenges HTTP status');
    assert.deepEqual(res.data.challenges.map((c) => c.guid), s.challenges.map((c) => c.guid), 'challenges = status challenges');
    assert.equal(res.data.challenges[0].type, 'TEXT');
    const r = await members.resumeAggregation(m, user, { member: { challenges: [{ guid: res.data.challenges[0].guid, value: 'correct' }] } });
    assert.equal(r.status, 202, 'resume HTTP status');
    await waitForMember(m, user, 'CONNECTED');
  });

  await step('delete user -> 204', async () => {
    assert.equal((await users.deleteUser(ACCEPT, user)).status, 204, 'HTTP status');
    createdUsers.delete(user);
  });
}

console.log(`node SDK mx-platform-node against ${URL}`);
let failed = 0;
for (const [name, fn] of [['basic', scenario], ['aggregation', aggregationScenario]]) {
  console.log(`-- ${name}`);
  try {
    await fn();
  } catch {
    failed += 1;
  }
}
for (const guid of createdUsers) await users.deleteUser(ACCEPT, guid).catch(() => {});
console.log(`node_sdk: ${steps - failed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
