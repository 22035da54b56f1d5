// Drive a running Ferry server with MX's official Node SDK (mx-platform-node@2.1.0, API v20111101).
//
// Env: FERRY_URL, FERRY_CLIENT_ID, FERRY_API_KEY; optional MX_NODE_MODULES = a node_modules
// directory holding mx-platform-node (run.sh installs it outside the repo), otherwise the
// package is resolved from compat/node/node_modules (`npm ci` in compat/node).
// Four scenarios, each with users of its own: the basic user/institution/member one, an
// aggregation one against the sandbox bank (poll to CONNECTED, accounts, every page of
// transactions, re-aggregation posting the PENDING ones, a TEXT challenge answered via resume),
// a data one (investment holdings; verify, identify and fetchStatements with the account numbers,
// account owners and statement PDFs they bring) and an edits one (manual accounts, account and
// transaction updates surviving re-aggregation).
// Prints one line per step; a scenario stops at its first failure, the next one still runs;
// exits non-zero if any failed.
import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import path from 'node:path';

const require = createRequire(
  process.env.MX_NODE_MODULES ? path.join(path.resolve(process.env.MX_NODE_MODULES), '..', 'index.js') : import.meta.url,
);
const {
  Configuration, UsersApi, MembersApi, InstitutionsApi, AccountsApi, TransactionsApi, InvestmentHoldingsApi, StatementsApi,
  WidgetsApi,
} = require('mx-platform-node');

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
const holdings = new InvestmentHoldingsApi(config());
const statements = new StatementsApi(config());

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

  await step('request widget URL (connect_widget, es; opens once) and an unknown widget type -> 400', async () => {
    const widgets = new WidgetsApi(config());
    const body = { widget_url: { widget_type: 'connect_widget', is_mobile_webview: false, ui_message_version: 4 } };
    const { data } = await widgets.requestWidgetURL(user, body, 'es-MX', 'bm9kZQ==');
    assert.equal(data.widget_url.type, 'connect_widget');
    assert.equal(data.widget_url.user_id, `node-${RUN}`);
    assert.ok(data.widget_url.url.startsWith(`${URL}/connect/`), data.widget_url.url);
    const page = await fetch(data.widget_url.url);
    assert.equal(page.status, 200);
    assert.ok((await page.text()).includes('lang="es"'), 'Accept-Language es-MX gives the Spanish widget');
    assert.equal((await fetch(data.widget_url.url)).status, 410, 'a widget URL opens once');
    await expectError(widgets.requestWidgetURL(user, { widget_url: { widget_type: 'spending_widget' } }), 400);
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

// --- premium data: holdings, account numbers, account owners, statements ---------------

const ACCOUNT_TYPES = ['CHECKING', 'CREDIT_CARD', 'INVESTMENT', 'LOAN', 'MORTGAGE', 'SAVINGS'];
const HOLDINGS = 4; // the INVESTMENT account's positions, from a plain aggregation
const OWNERS = 7; // after identify
const STATEMENTS = 9; // after fetchStatements
const PDF_MEDIA_TYPE = 'application/vnd.mx.api.v1+pdf';

// A sandbox-bank member (password 'password') polled to CONNECTED; its accounts by type.
async function connectedMember(user) {
  const member = await createAggregatingMember(user, 'password');
  await waitForMember(member, user, 'CONNECTED');
  const { data } = await accounts.listMemberAccounts(user, member);
  assert.deepEqual(data.accounts.map((a) => a.type).sort(), ACCOUNT_TYPES, 'account types');
  return { member, byType: Object.fromEntries(data.accounts.map((a) => [a.type, a])) };
}

// verifyMember/identifyMember/fetchStatements: HTTP `status` with the member, its job queued;
// then polls until the job is over, which must leave the member CONNECTED.
async function memberAction(promise, member, user, status) {
  const res = await promise;
  assert.equal(res.status, status, 'HTTP status');
  assertMember(res.data.member, user);
  assert.equal(res.data.member.guid, member, 'member guid');
  assert.equal(res.data.member.is_being_aggregated, true, `${status} body is_being_aggregated`);
  return waitForMember(member, user, 'CONNECTED');
}

const assertEmpty = (data, key) => {
  assert.deepEqual(data[key], [], `${key} listed`);
  assert.equal(data.pagination.total_entries, 0, `${key} total_entries`);
};

async function dataScenario() {
  const user = await step('data: create user', () => newUser('data'));
  const { member, byType } = await step("create member (password 'password') -> 202; poll until CONNECTED; 6 accounts", () => connectedMember(user));
  const investment = byType.INVESTMENT.guid;
  const accountGuids = new Set(Object.values(byType).map((a) => a.guid));

  const held = await step(`holdings by user -> ${HOLDINGS}, = by member = by account (INVESTMENT); readHolding; unknown -> 404`, async () => {
    const { data } = await holdings.listHoldings(user);
    assert.equal(data.investment_holdings.length, HOLDINGS, 'holdings');
    assertPagination(data.pagination, HOLDINGS);
    for (const h of data.investment_holdings) {
      assert.match(h.guid, /^HOL-/, 'holding guid prefix');
      assert.equal(h.account_guid, investment, `${h.guid}: account_guid`);
      assert.equal(h.member_guid, member, `${h.guid}: member_guid`);
      assert.equal(h.user_guid, user, `${h.guid}: user_guid`);
      assert.ok(h.symbol && h.description, `${h.guid}: symbol/description`);
      assert.equal(typeof h.market_value, 'number', `${h.guid}: market_value`);
      assert.ok(Number.isFinite(Number(h.quantity)), `${h.guid}: quantity ${h.quantity}`);
    }
    const sorted = (hs) => [...hs].sort((a, b) => a.guid.localeCompare(b.guid));
    const want = sorted(data.investment_holdings);
    assert.deepEqual(sorted((await holdings.listHoldingsByMember(member, user)).data.investment_holdings), want, 'by member');
    assert.deepEqual(sorted((await holdings.listHoldingsByAccount(investment, user)).data.investment_holdings), want, 'by account');
    assertEmpty((await holdings.listHoldingsByAccount(byType.CHECKING.guid, user)).data, 'investment_holdings');
    const one = (await holdings.readHolding(want[0].guid, user)).data.investment_holding;
    assert.deepEqual(one, want[0], 'readHolding = listed holding');
    await expectError(holdings.readHolding(`HOL-${randomUUID()}`, user), 404);
    return want;
  });

  await step('verifyMember -> 200; poll; account numbers by member -> CHECKING and SAVINGS (full, routing 091000019) = by account', async () => {
    assertEmpty((await accounts.listAccountNumbersByMember(member, user)).data, 'account_numbers');
    const s = await memberAction(members.verifyMember(member, user), member, user, 200);
    assert.equal(s.has_processed_account_numbers, true, 'has_processed_account_numbers');
    const { data } = await accounts.listAccountNumbersByMember(member, user);
    assertPagination(data.pagination, 2);
    const byAccount = Object.fromEntries(data.account_numbers.map((n) => [n.account_guid, n]));
    assert.deepEqual(Object.keys(byAccount).sort(), [byType.CHECKING.guid, byType.SAVINGS.guid].sort(), 'accounts with numbers');
    for (const n of data.account_numbers) {
      assert.match(n.guid, /^ACN-/, 'account number guid prefix');
      assert.equal(n.member_guid, member, `${n.guid}: member_guid`);
      assert.equal(n.user_guid, user, `${n.guid}: user_guid`);
      assert.match(n.account_number, /^\d{10}$/, `${n.guid}: account_number`);
      assert.equal(n.routing_number, '091000019', `${n.guid}: routing_number`);
      assert.equal(n.passed_validation, true, `${n.guid}: passed_validation`);
    }
    for (const a of Object.values(byType)) {
      const got = (await accounts.listAccountNumbersByAccount(a.guid, user)).data.account_numbers;
      assert.deepEqual(got, byAccount[a.guid] ? [byAccount[a.guid]] : [], `${a.type}: by account`);
    }
  });

  await step(`identifyMember -> 202; poll; account owners by member -> ${OWNERS}`, async () => {
    await memberAction(members.identifyMember(member, user), member, user, 202);
    const { data } = await accounts.listAccountOwnersByMember(member, user);
    assert.equal(data.account_owners.length, OWNERS, 'account owners');
    assertPagination(data.pagination, OWNERS);
    for (const o of data.account_owners) {
      assert.match(o.guid, /^ACO-/, 'account owner guid prefix');
      assert.ok(accountGuids.has(o.account_guid), `${o.guid}: account_guid ${o.account_guid}`);
      assert.equal(o.member_guid, member, `${o.guid}: member_guid`);
      assert.ok(o.owner_name, `${o.guid}: owner_name`);
    }
  });

  const listed = await step(`fetchStatements -> 202; poll; statements by member -> ${STATEMENTS}; readStatementByMember = listed`, async () => {
    await memberAction(statements.fetchStatements(member, user), member, user, 202);
    const { data } = await statements.listStatementsByMember(member, user);
    assert.equal(data.statements.length, STATEMENTS, 'statements');
    assertPagination(data.pagination, STATEMENTS);
    for (const s of data.statements) {
      assert.match(s.guid, /^STA-/, 'statement guid prefix');
      assert.ok(accountGuids.has(s.account_guid), `${s.guid}: account_guid ${s.account_guid}`);
      assert.match(s.content_hash, /^[0-9a-f]{64}$/, `${s.guid}: content_hash`);
      assert.ok(s.uri.endsWith(`/users/${user}/members/${member}/statements/${s.guid}.pdf`), `${s.guid}: uri ${s.uri}`);
    }
    const one = (await statements.readStatementByMember(member, data.statements[0].guid, user)).data.statement;
    assert.deepEqual(one, data.statements[0], 'readStatementByMember = listed statement');
    await expectError(statements.readStatementByMember(member, `STA-${randomUUID()}`, user), 404);
    return data.statements;
  });

  await step(`downloadStatementPDF x${STATEMENTS}: ${PDF_MEDIA_TYPE}, %PDF-, sha256 = content_hash`, async () => {
    // The SDK leaves axios's responseType at its default (text in Node), which would mangle the
    // bytes; a caller wanting the PDF passes responseType through the options, as done here.
    for (const s of listed) {
      const res = await statements.downloadStatementPDF(member, s.guid, user, { responseType: 'arraybuffer', headers: { Accept: PDF_MEDIA_TYPE } });
      assert.equal(res.status, 200, 'HTTP status');
      assert.equal(res.headers['content-type'], PDF_MEDIA_TYPE, `${s.guid}: Content-Type`);
      const bytes = Buffer.from(res.data);
      assert.equal(bytes.subarray(0, 5).toString('latin1'), '%PDF-', `${s.guid}: PDF magic`);
      assert.equal(createHash('sha256').update(bytes).digest('hex'), s.content_hash, `${s.guid}: sha256 = content_hash`);
    }
  });

  await step('another user: 404 on the member\'s numbers, owners, statements, PDF and holdings; no holdings listed', async () => {
    const other = await newUser('data-other');
    await expectError(accounts.listAccountNumbersByMember(member, other), 404);
    await expectError(accounts.listAccountOwnersByMember(member, other), 404);
    await expectError(statements.listStatementsByMember(member, other), 404);
    await expectError(statements.downloadStatementPDF(member, listed[0].guid, other), 404);
    await expectError(holdings.readHolding(held[0].guid, other), 404);
    assertEmpty((await holdings.listHoldings(other)).data, 'investment_holdings');
    assert.equal((await users.deleteUser(ACCEPT, other)).status, 204, 'delete other user');
    createdUsers.delete(other);
  });

  await step('delete user -> 204', async () => {
    assert.equal((await users.deleteUser(ACCEPT, user)).status, 204, 'HTTP status');
    createdUsers.delete(user);
  });
}

// --- edits: manual accounts, account updates, transaction updates ----------------------

async function editsScenario() {
  const user = await step('edits: create user', () => newUser('edits'));
  const { member, byType } = await step("create member (password 'password') -> 202; poll until CONNECTED; 6 accounts", () => connectedMember(user));
  const checking = byType.CHECKING;

  const house = await step('createManualAccount (PROPERTY) -> 200, is_manual, under a member of its own; readAccountByMember; is_manual filter', async () => {
    const res = await accounts.createManualAccount(user, { account: { name: 'House', account_type: 'PROPERTY', property_type: 'REAL_ESTATE', balance: 350000.5, metadata: `manual-${RUN}` } });
    assert.equal(res.status, 200, 'HTTP status');
    const a = res.data.account;
    assert.match(a.guid, /^ACT-/, 'account guid prefix');
    assert.deepEqual([a.is_manual, a.name, a.type, a.property_type, a.balance, a.metadata], [true, 'House', 'PROPERTY', 'REAL_ESTATE', 350000.5, `manual-${RUN}`]);
    assert.match(a.member_guid, /^MBR-/, 'member_guid prefix');
    assert.notEqual(a.member_guid, member, 'under the aggregated member');
    const m = (await members.readMember(a.member_guid, user)).data.member;
    assert.equal(m.is_manual, true, 'manual member is_manual');
    assert.deepEqual((await accounts.readAccountByMember(a.guid, a.member_guid, user)).data.account, a, 'readAccountByMember = created');
    const manual = (await accounts.listUserAccounts(user, 1, undefined, true)).data.accounts;
    assert.deepEqual(manual.map((x) => x.guid), [a.guid], 'is_manual=true');
    const aggregated = (await accounts.listUserAccounts(user, 1, undefined, false)).data.accounts;
    assert.deepEqual(aggregated.map((x) => x.guid).sort(), Object.values(byType).map((x) => x.guid).sort(), 'is_manual=false');
    return a;
  });

  await step('updateAccountByMember: manual account name/nickname/balance/property_type/is_business/metadata -> 200; aggregated is_hidden/is_business/metadata -> 200, name -> 400', async () => {
    const res = await accounts.updateAccountByMember(house.guid, house.member_guid, user, {
      account: { name: 'Home', nickname: 'Casa', balance: 360000, property_type: 'VEHICLE', is_business: true, metadata: 'updated' },
    });
    assert.equal(res.status, 200, 'HTTP status');
    const a = res.data.account;
    assert.deepEqual([a.name, a.nickname, a.balance, a.property_type, a.is_business, a.metadata], ['Home', 'Casa', 360000, 'VEHICLE', true, 'updated']);
    const agg = await accounts.updateAccountByMember(checking.guid, member, user, { account: { is_hidden: true, is_business: true, metadata: `agg-${RUN}` } });
    assert.equal(agg.status, 200, 'HTTP status (aggregated)');
    assert.deepEqual([agg.data.account.is_hidden, agg.data.account.is_business, agg.data.account.metadata], [true, true, `agg-${RUN}`]);
    assert.equal(agg.data.account.name, checking.name, 'aggregated name unchanged');
    const body = await expectError(accounts.updateAccountByMember(checking.guid, member, user, { account: { name: 'Renamed' } }), 400);
    assert.equal(typeof body?.error, 'object', '400 body error');
    assert.deepEqual((await accounts.readAccountByMember(checking.guid, member, user)).data.account, agg.data.account, 'read back');
  });

  await step('deleteManualAccount: aggregated -> 400; manual -> 204, then readAccount -> 404', async () => {
    await expectError(accounts.deleteManualAccount(checking.guid, ACCEPT, user), 400);
    assert.equal((await accounts.deleteManualAccount(house.guid, ACCEPT, user)).status, 204, 'HTTP status');
    await expectError(accounts.readAccount(house.guid, user), 404);
  });

  const edited = await step('updateTransaction / updateTransactionByAccount (description, memo) -> 200; date -> 400', async () => {
    const { data } = await transactions.listTransactionsByAccount(checking.guid, user, 1, 1000);
    const [t1, t2] = data.transactions;
    assert.ok(t1 && t2, 'two transactions on CHECKING');
    const res = await transactions.updateTransaction(user, t1.guid, { transaction: { description: `Edited ${RUN}`, memo: `memo ${RUN}` } });
    assert.equal(res.status, 200, 'HTTP status');
    assert.deepEqual([res.data.transaction.guid, res.data.transaction.description, res.data.transaction.memo], [t1.guid, `Edited ${RUN}`, `memo ${RUN}`]);
    assert.deepEqual({ ...res.data.transaction, description: t1.description, memo: t1.memo, updated_at: t1.updated_at }, t1, 'other fields unchanged');
    const res2 = await transactions.updateTransactionByAccount(user, member, checking.guid, t2.guid, { transaction: { description: `By account ${RUN}` } });
    assert.equal(res2.status, 200, 'HTTP status (by account)');
    assert.equal(res2.data.transaction.description, `By account ${RUN}`, 'description (by account)');
    await expectError(transactions.updateTransactionByAccount(user, member, byType.SAVINGS.guid, t2.guid, { transaction: { memo: 'x' } }), 404);
    const body = await expectError(transactions.updateTransaction(user, t1.guid, { transaction: { date: '2020-01-01' } }), 400);
    assert.equal(typeof body?.error, 'object', '400 body error');
    return { [t1.guid]: [`Edited ${RUN}`, `memo ${RUN}`], [t2.guid]: [`By account ${RUN}`, t2.memo] };
  });

  await step('aggregate again: the edited descriptions/memos and the CHECKING account\'s updates stay', async () => {
    const before = (await members.readMemberStatus(member, user)).data.member.successfully_aggregated_at;
    assert.equal((await members.aggregateMember(member, user)).status, 202, 'HTTP status');
    await waitForMember(member, user, 'CONNECTED', before);
    const { data } = await transactions.listTransactionsByAccount(checking.guid, user, 1, 1000);
    const byGuid = Object.fromEntries(data.transactions.map((t) => [t.guid, t]));
    for (const [guid, [description, memo]] of Object.entries(edited)) {
      assert.deepEqual([byGuid[guid]?.description, byGuid[guid]?.memo], [description, memo], `${guid} after re-aggregation`);
    }
    const a = (await accounts.readAccount(checking.guid, user)).data.account;
    assert.deepEqual([a.is_hidden, a.is_business, a.metadata], [true, true, `agg-${RUN}`], 'CHECKING updates after re-aggregation');
  });

  await step('delete user -> 204', async () => {
    assert.equal((await users.deleteUser(ACCEPT, user)).status, 204, 'HTTP status');
    createdUsers.delete(user);
  });
}

console.log(`node SDK mx-platform-node against ${URL}`);
let failed = 0;
for (const [name, fn] of [['basic', scenario], ['aggregation', aggregationScenario], ['data', dataScenario], ['edits', editsScenario]]) {
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
