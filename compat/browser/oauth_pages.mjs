// Ferry's OAuth pages in a real browser: headless Chromium (Debian's `chromium`) driven by
// playwright-core. A page on Ferry's origin opens an OAuth member's window URI in a popup, as
// an app or the Connect widget does; the popup shows the sandbox bank's page (found by role and
// name, as a person or a screen reader would), Authorize lands on the callback page, which must
// tell its opener `mx/client/oauthComplete` and leave the member CONNECTED. Deny ends in the
// error page with the member DENIED. Every page is screenshotted into FERRY_BROWSER_SHOTS and
// checked for what a person needs: a language, a title, a main heading, buttons with names.
//
//   FERRY_URL=... FERRY_CLIENT_ID=... FERRY_API_KEY=... node compat/browser/oauth_pages.mjs
// (module resolution: NODE_PATH is not used by ES modules, so run.sh passes
// FERRY_BROWSER_MODULES, the node_modules holding playwright-core.)

import path from "node:path";
import { mkdirSync } from "node:fs";
import { pathToFileURL } from "node:url";

const modules = process.env.FERRY_BROWSER_MODULES;
const { chromium } = await import(pathToFileURL(path.join(modules, "playwright-core", "index.mjs")).href);

const URL_BASE = process.env.FERRY_URL;
const AUTH = "Basic " + Buffer.from(`${process.env.FERRY_CLIENT_ID}:${process.env.FERRY_API_KEY}`).toString("base64");
const SHOTS = process.env.FERRY_BROWSER_SHOTS || "/tmp/ferry-browser-shots";
const CHROMIUM = process.env.FERRY_CHROMIUM || "/usr/bin/chromium";
mkdirSync(SHOTS, { recursive: true });

let passed = 0;
let failed = 0;
function step(name, ok, detail = "") {
  if (ok) {
    passed++;
    console.log(`ok   ${name}`);
  } else {
    failed++;
    console.log(`FAIL ${name}${detail ? ` (${String(detail).slice(0, 300)})` : ""}`);
  }
}

async function api(method, p, body) {
  const r = await fetch(URL_BASE + p, {
    method,
    headers: { authorization: AUTH, accept: "application/vnd.mx.api.v1+json", "content-type": "application/json" },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await r.text();
  return { status: r.status, json: text ? JSON.parse(text) : null };
}

async function oauthMember(label) {
  const user = await api("POST", "/users", { user: { id: `browser-${label}-${Date.now()}` } });
  const guid = user.json.user.guid;
  const m = await api("POST", `/users/${guid}/members`, {
    member: { institution_code: "mx_bank_oauth", is_oauth: true, credentials: [] },
  });
  return { user: guid, member: m.json.member.guid, uri: m.json.member.oauth_window_uri, status: m.status };
}

async function memberStatus(user, member, want) {
  for (let i = 0; i < 150; i++) {
    const r = await api("GET", `/users/${user}/members/${member}/status`);
    const m = r.json.member;
    if (m.connection_status === want && !m.is_being_aggregated) return m.connection_status;
    await new Promise((res) => setTimeout(res, 200));
  }
  return (await api("GET", `/users/${user}/members/${member}/status`)).json.member.connection_status;
}

/// What every page a person sees must have.
async function checkPage(page, name) {
  const lang = await page.getAttribute("html", "lang");
  const title = await page.title();
  const h1 = await page.getByRole("heading", { level: 1 }).count();
  const unnamed = await page.$$eval("button, a[href], input:not([type=hidden])", (els) =>
    els.filter((e) => !(e.getAttribute("aria-label") || e.textContent.trim() || e.labels?.length)).length,
  );
  step(`${name}: a language, a title, one main heading, every control named`, lang && title && h1 === 1 && unnamed === 0, {
    lang,
    title,
    h1,
    unnamed,
  });
}

const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ["--no-sandbox"] });
try {
  for (const decision of ["Authorize", "Deny"]) {
    const context = await browser.newContext({ viewport: { width: 800, height: 600 } });
    const opener = await context.newPage();
    const m = await oauthMember(decision.toLowerCase());
    step(`${decision}: an OAuth member at mx_bank_oauth with a window URI`, m.status === 200 && m.uri, m.status);
    // The opener: any page of Ferry's origin, listening as an app or the widget would.
    await opener.goto(`${URL_BASE}/health`);
    await opener.evaluate(() => {
      window.received = [];
      window.addEventListener("message", (e) => window.received.push(e.data));
    });
    const [popup] = await Promise.all([
      context.waitForEvent("page"),
      opener.evaluate((uri) => window.open(uri, "oauth"), m.uri),
    ]);
    await popup.waitForLoadState();
    step(`${decision}: the window URI leads to the sandbox bank's page`, popup.url().includes("/oauth/sandbox/authorize"), popup.url());
    await checkPage(popup, `${decision}: the bank's page`);
    await popup.screenshot({ path: path.join(SHOTS, `oauth-bank-${decision.toLowerCase()}.png`) });
    const button = popup.getByRole("button", { name: decision });
    step(`${decision}: the button is found by its role and name`, (await button.count()) === 1);
    // Keyboard only: focus the button and press Enter.
    await button.focus();
    await Promise.all([popup.waitForURL(/\/oauth\/callback/), popup.keyboard.press("Enter")]);
    await popup.waitForLoadState();
    await checkPage(popup, `${decision}: the callback page`);
    await popup.screenshot({ path: path.join(SHOTS, `oauth-done-${decision.toLowerCase()}.png`) });
    const heading = await popup.getByRole("heading", { level: 1 }).textContent();
    let message = null;
    for (let i = 0; i < 50 && !message; i++) {
      message = await opener.evaluate(() => window.received.find((d) => d && d.type === "mx/client/oauthComplete"));
      if (!message) await new Promise((res) => setTimeout(res, 100));
    }
    const want = decision === "Authorize" ? "success" : "error";
    step(
      `${decision}: the callback page tells its opener mx/client/oauthComplete (${want})`,
      message && message.mx === true && message.metadata.status === want && message.metadata.member_guid === m.member,
      JSON.stringify(message),
    );
    if (decision === "Authorize") {
      step("Authorize: the page says the account is connected", /Thank you/.test(heading), heading);
      step("Authorize: the member is CONNECTED", (await memberStatus(m.user, m.member, "CONNECTED")) === "CONNECTED");
    } else {
      step("Deny: the page says access was not granted", /not completed/.test(heading), heading);
      step("Deny: the member is DENIED", (await memberStatus(m.user, m.member, "DENIED")) === "DENIED");
      step("Deny: the message names the reason", message && message.metadata.error_reason === "DENIED", JSON.stringify(message));
    }
    await context.close();
  }
} finally {
  await browser.close();
}
console.log(`browser: ${passed} passed, ${failed} failed (screenshots in ${SHOTS})`);
process.exit(failed === 0 ? 0 : 1);
