// Ferry's Connect widget: the page's only script (docs/connect-widget.md is the contract; what
// MX's host library accepts is docs/connect-widget-sdk.md). Plain DOM, no framework: every text
// comes from the config's strings, every untrusted value goes in through textContent, and no
// credential or MFA answer stays in the page after it has been sent.
(function () {
"use strict";

let cfg = {};
try { cfg = JSON.parse(document.getElementById("ferry-widget-config").textContent) || {}; } catch (e) { cfg = {}; }
const S = cfg.strings || {};
const app = document.getElementById("app");
const webview = !!cfg.is_mobile_webview;
const verification = cfg.mode === "verification";

// Connection statuses: MX's numeric ids and what each asks of the end user.
const IDS = {
  CREATED: 0, PREVENTED: 1, DENIED: 2, CHALLENGED: 3, REJECTED: 4, LOCKED: 5, CONNECTED: 6, IMPEDED: 7,
  RECONNECTED: 8, DEGRADED: 9, DISCONNECTED: 10, DISCONTINUED: 11, CLOSED: 12, DELAYED: 13, FAILED: 14,
  UPDATED: 15, DISABLED: 16, IMPORTED: 17, RESUMED: 18, EXPIRED: 19, IMPAIRED: 20, PENDING: 21,
};
const NEEDS_CREDS = ["DENIED", "PREVENTED", "IMPAIRED", "IMPORTED"];
const RETRY_NOW = ["REJECTED", "EXPIRED"];
const AT_INSTITUTION = ["LOCKED", "IMPEDED"];
const LATER = ["DELAYED", "DEGRADED", "FAILED", "DISCONNECTED"];
const FINAL = ["DISCONTINUED", "CLOSED", "DISABLED"];
const ERRORS = NEEDS_CREDS.concat(RETRY_NOW, AT_INSTITUTION, LATER, FINAL);

const st = {
  step: null, // the current step's name (docs: search, enterCreds, connecting, ...)
  gen: 0, // bumped on every screen change; async work of an older screen checks it and stops
  timers: new Set(),
  back: null, // what "go back a step" does on this screen (Back button, host navigation)
  followed: {}, // members whose follow-up job (cfg.follow_up) was started
  pingedAt: 0, // when the host's last ping renewed the session
  loaded: false,
  lastStatus: {}, // member guid -> last connection_status id seen while polling
  inst: {}, // institution guid -> {institution, credentials}
  popup: null, // the OAuth window this page opened
  onOAuth: null, // the OAuth screen's handler of the popup's answer
};

// ---------------------------------------------------------------- small helpers

function t(key, vars) {
  let s = Object.prototype.hasOwnProperty.call(S, key) ? String(S[key]) : key;
  if (vars) s = s.replace(/\{(\w+)\}/g, (m, k) => (vars[k] == null ? m : String(vars[k])));
  return s;
}

let uidN = 0;
function uid() {
  uidN += 1;
  return "f" + uidN;
}

// el("button", {class, text, onclick, ...attributes}, ...children): strings become text nodes.
function el(tag, props, ...kids) {
  const n = document.createElement(tag);
  if (props) {
    for (const k of Object.keys(props)) {
      const v = props[k];
      if (v == null || v === false) continue;
      if (k === "class") n.className = v;
      else if (k === "text") n.textContent = v;
      else if (k.slice(0, 2) === "on") n.addEventListener(k.slice(2), v);
      else if (k === "value" || k === "disabled" || k === "checked") n[k] = v;
      else n.setAttribute(k, v === true ? "" : String(v));
    }
  }
  for (const c of kids.flat(3)) if (c != null && c !== false) n.append(c);
  return n;
}

function later(fn, ms) {
  const id = setTimeout(() => {
    st.timers.delete(id);
    fn();
  }, ms);
  st.timers.add(id);
  return id;
}

function cancel(id) {
  if (id != null) {
    clearTimeout(id);
    st.timers.delete(id);
  }
}

const enc = encodeURIComponent;
const has = (list, v) => list.indexOf(v) >= 0;
const canSearch = () => !cfg.disable_institution_search;

// Only http(s) links from institution data reach an href.
function safeUrl(u) {
  if (typeof u !== "string" || !u) return null;
  try {
    const p = new URL(u, "https://invalid.example/");
    if ((p.protocol === "https:" || p.protocol === "http:") && /^https?:/i.test(u.trim())) return p.href;
  } catch (e) { return null; }
  return null;
}

function hostOf(u) {
  const s = safeUrl(u);
  if (!s) return "";
  try { return new URL(s).hostname.replace(/^www\./, ""); } catch (e) { return ""; }
}

// Institution texts may hold markup (MX allows <a>): show its text only, never parse it into the page.
function plain(html) {
  if (typeof html !== "string") return "";
  try { return new DOMParser().parseFromString(html, "text/html").body.textContent.trim(); } catch (e) { return html; }
}

function statusName(m) {
  const s = m && m.connection_status;
  if (typeof s === "string") return s.toUpperCase();
  if (typeof s === "number") return Object.keys(IDS).find((k) => IDS[k] === s) || "";
  return "";
}

function statusId(m) {
  if (typeof m.connection_status_id === "number") return m.connection_status_id;
  const n = IDS[statusName(m)];
  return typeof n === "number" ? n : null;
}

function instOf(m) {
  const d = m && st.inst[m.institution_guid];
  return d ? d.institution : { guid: m && m.institution_guid, code: m && m.institution_code, name: m && m.name };
}

function nameOf(inst, m) { return (inst && inst.name) || (m && m.name) || t("your_institution"); }

// ---------------------------------------------------------------- messages to the host

const navQueue = [];
let navBusy = false;
function navigate(url) {
  navQueue.push(url);
  if (navBusy) return;
  navBusy = true;
  // A navigation before the page's load event would cancel the load itself.
  if (document.readyState === "complete") pumpNav();
  else window.addEventListener("load", () => setTimeout(pumpNav, 0), { once: true });
}
// WebView navigations go one by one, ~100 ms apart, so one does not cancel the previous one.
function pumpNav() {
  const u = navQueue.shift();
  if (!u) {
    navBusy = false;
    return;
  }
  navBusy = true;
  try { window.location.href = u; } catch (e) { /* the app refused the navigation */ }
  setTimeout(pumpNav, 100);
}

// Messages go only to the page that embeds the widget when the browser names it (they carry
// one-time OAuth links), else to whoever the parent is.
const hostOrigin = (() => {
  try {
    const a = window.location.ancestorOrigins;
    if (a && a.length && /^https?:\/\//.test(a[0])) return a[0];
  } catch (e) { /* not offered by this browser */ }
  return "*";
})();

// post("stepChange", {...}) sends mx/connect/stepChange; post("load") and post("navigation")
// send the generic mx/load and mx/navigation.
function post(event, fields) {
  const metadata = { user_guid: String(cfg.user_guid || ""), session_guid: String(cfg.session_guid || "") };
  if (fields) for (const k of Object.keys(fields)) if (fields[k] != null) metadata[k] = fields[k];
  if (webview) {
    const scheme = cfg.ui_message_webview_url_scheme || "mx";
    const path = event === "load" || event === "navigation" ? event : "connect/" + event;
    navigate(scheme + "://" + path + "?metadata=" + enc(JSON.stringify(metadata)));
  } else if (window.parent && window.parent !== window) {
    const type = event === "load" || event === "navigation" ? "mx/" + event : "mx/connect/" + event;
    try { window.parent.postMessage({ mx: true, type, metadata }, hostOrigin); } catch (e) { /* nothing to tell */ }
  }
}

// ---------------------------------------------------------------- the widget API

class ApiError extends Error {
  constructor(status, body) {
    super("widget api " + status);
    this.status = status;
    this.error = (body && body.error) || {};
  }
}

async function api(method, path, body) {
  const init = {
    method,
    cache: "no-store",
    headers: {
      Authorization: "Bearer " + (cfg.session_token || ""),
      "Content-Type": "application/json",
      Accept: "application/json",
    },
  };
  if (body !== undefined) init.body = JSON.stringify(body);
  let res;
  try { res = await fetch((cfg.api || "api") + "/" + path, init); } catch (e) { throw new ApiError(0, null); }
  if (res.status === 401) {
    if (st.step !== "expired") showExpired();
    throw new ApiError(401, null);
  }
  let data = null;
  if (res.status !== 204) {
    try { data = await res.json(); } catch (e) { data = null; }
  }
  if (!res.ok) throw new ApiError(res.status, data);
  return data || {};
}

function loadInst(guid) {
  if (st.inst[guid]) return Promise.resolve(st.inst[guid]);
  return api("GET", "institutions/" + enc(guid)).then((d) => {
    const v = { institution: d.institution || {}, credentials: d.credentials || [] };
    if (v.institution.guid) st.inst[v.institution.guid] = v;
    st.inst[guid] = v;
    return v;
  });
}

function errText(e) {
  if (typeof e === "string") return e;
  if (!e || !e.status) return t("network_error");
  if (e.status === 429) return t("too_many");
  if ((e.status === 400 || e.status === 422) && e.error.message) return String(e.error.message);
  if (e.status === 404) return t("not_found");
  return t("server_error");
}

// ---------------------------------------------------------------- page furniture

const view = el("div", { class: "view" });
const live = el("div", { class: "sr-only", "aria-live": "polite", role: "status" });

function announce(text) {
  live.textContent = "";
  setTimeout(() => { live.textContent = text; }, 60);
}

const SVG = "http://www.w3.org/2000/svg";
function backIcon() {
  const s = document.createElementNS(SVG, "svg");
  s.setAttribute("viewBox", "0 0 16 16");
  s.setAttribute("aria-hidden", "true");
  s.setAttribute("focusable", "false");
  s.setAttribute("class", "icon");
  const p = document.createElementNS(SVG, "path");
  p.setAttribute("d", "M10 3 5 8l5 5");
  s.append(p);
  return s;
}

function initials(name) {
  const words = String(name || "").replace(/[^\p{L}\p{N}\s]/gu, " ").trim().split(/\s+/).filter(Boolean);
  const s = words.slice(0, 2).map((w) => Array.from(w)[0]).join("");
  return (s || "?").toUpperCase();
}

// The institution "logo": a circle with its initials, coloured from its name (no images).
function logo(name, big) {
  let h = 0;
  for (const ch of String(name || "")) h = (h * 31 + ch.codePointAt(0)) >>> 0;
  return el("span", { class: "logo c" + (h % 8) + (big ? " lg" : ""), "aria-hidden": "true", text: initials(name) });
}

function progress() {
  return el("div", { class: "progress", role: "progressbar", "aria-label": t("progress_label") }, el("span"));
}

function btn(text, onclick, cls) {
  return el("button", { type: "button", class: "btn " + (cls || "primary"), text, onclick });
}

function para(text, cls) { return el("p", { class: cls || null, text }); }

function setMsg(s, err, retry) {
  const box = el(
    "div",
    { class: "alert", role: "alert" },
    para(errText(err)),
    retry
      ? btn(
          t("try_again"),
          () => {
            s.msg.replaceChildren();
            if (s.h1) s.h1.focus();
            retry();
          },
          "secondary small",
        )
      : null,
  );
  s.msg.replaceChildren(box);
}

function clearTimers() {
  for (const id of st.timers) clearTimeout(id);
  st.timers.clear();
}

// Shows a new screen: one <h1>, focused; tells the host about the step change.
// opts: {back: fn, backButton: bool (default true when back is set), inst: institution for the logo}
function show(step, title, opts) {
  opts = opts || {};
  st.gen += 1;
  clearTimers();
  st.onOAuth = null;
  const prev = st.step;
  st.step = step;
  st.back = opts.back || null;
  const h1 = el("h1", { tabindex: "-1", text: title });
  const msg = el("div", { class: "msg" });
  const body = el("div", { class: "body" });
  const head = [];
  if (opts.back && opts.backButton !== false) {
    head.push(el("div", { class: "top" }, el("button", { type: "button", class: "back", onclick: opts.back }, backIcon(), t("back"))));
  }
  if (opts.inst) head.push(logo(opts.inst.name, true));
  view.replaceChildren(...head, h1, body);
  h1.focus({ preventScroll: !prev });
  if (prev && prev !== step) post("stepChange", { previous: prev, current: step });
  if (!st.loaded) {
    st.loaded = true;
    const first = step;
    queueMicrotask(() => {
      post("load");
      post("loaded", { initial_step: first });
      try { performance.mark("ferry-widget-interactive"); } catch (e) { /* old browsers */ }
    });
  }
  return { h1, body, msg, gen: st.gen };
}

function backToSearch() {
  post("backToSearch");
  showSearch();
}

// ---------------------------------------------------------------- search

function showSearch() {
  const s = show("search", t("search_title"));
  const id = uid();
  const input = el("input", { type: "search", id, class: "input", autocomplete: "off", spellcheck: "false" });
  const heading = el("h2", { hidden: true });
  const list = el("ul", { class: "insts" });
  const empty = para("", "muted");
  empty.hidden = true;
  const more = el("div", { class: "more" });
  s.body.append(
    el("div", { role: "search", class: "search" }, el("label", { for: id, class: "label", text: t("search") }), input),
    s.msg,
    heading,
    list,
    empty,
    more,
  );
  let seq = 0;
  let timer = null;
  let query = null;
  let busy = false;

  async function load(q, page) {
    const my = ++seq;
    s.msg.replaceChildren();
    list.setAttribute("aria-busy", "true");
    try {
      const r = await api("GET", "institutions" + (q ? "?search=" + enc(q) + "&page=" + page : page > 1 ? "?page=" + page : ""));
      if (my !== seq || s.gen !== st.gen) return;
      render(r.institutions || [], q, page);
    } catch (e) {
      if (my !== seq || s.gen !== st.gen || e.status === 401) return;
      setMsg(s, e, () => load(q, page));
    } finally { if (my === seq) list.removeAttribute("aria-busy"); }
  }

  function render(items, q, page) {
    if (page === 1) list.replaceChildren();
    const first = list.children.length;
    for (const inst of items) {
      const host = hostOf(inst.url);
      list.append(
        el(
          "li",
          null,
          el(
            "button",
            { type: "button", class: "inst", onclick: () => choose(inst) },
            logo(inst.name),
            el("span", { class: "inst-text" }, el("span", { class: "inst-name", text: inst.name || "" }), host ? el("span", { class: "inst-url", text: host }) : null),
          ),
        ),
      );
    }
    const count = list.children.length;
    heading.textContent = q ? t("results") : t("popular");
    heading.hidden = count === 0;
    empty.hidden = !(q && count === 0);
    empty.textContent = q && count === 0 ? t("no_results", { query: q }) : "";
    more.replaceChildren();
    if (items.length >= 25) {
      more.append(
        btn(
          t("load_more"),
          () => {
            more.replaceChildren();
            load(q, page + 1).then(() => {
              const b = list.children[first + items.length];
              if (b) b.querySelector("button").focus();
            });
          },
          "secondary",
        ),
      );
    }
    if (q && page === 1) announce(count === 0 ? t("no_results", { query: q }) : count === 1 ? t("results_one") : t("results_count", { count }));
  }

  function run() {
    cancel(timer);
    timer = null;
    const q = input.value.trim();
    if (q === query) return;
    query = q;
    if (q) post("institutionSearch", { query: q });
    load(q, 1);
  }

  async function choose(inst) {
    if (busy) return;
    busy = true;
    post("selectedInstitution", { code: inst.code || "", guid: inst.guid || "", name: inst.name || "", url: inst.url || "" });
    announce(t("loading"));
    try {
      const d = await loadInst(inst.guid);
      if (s.gen !== st.gen) return;
      startInstitution(d);
    } catch (e) {
      if (s.gen !== st.gen || e.status === 401) return;
      setMsg(s, e, () => choose(inst));
    } finally { busy = false; }
  }

  input.addEventListener("input", () => {
    cancel(timer);
    timer = later(run, 350);
  });
  input.addEventListener("keydown", (e) => {
    if (e.key === "ArrowDown") {
      const b = list.querySelector("button");
      if (b) {
        e.preventDefault();
        b.focus();
      }
    } else if (e.key === "Enter") {
      e.preventDefault();
      run();
    }
  });
  list.addEventListener("keydown", (e) => {
    const buttons = Array.from(list.querySelectorAll("button.inst"));
    const i = buttons.indexOf(document.activeElement);
    if (i < 0) return;
    let to = null;
    if (e.key === "ArrowDown") to = buttons[Math.min(i + 1, buttons.length - 1)];
    else if (e.key === "ArrowUp") to = i === 0 ? input : buttons[i - 1];
    else if (e.key === "Home") to = buttons[0];
    else if (e.key === "End") to = buttons[buttons.length - 1];
    if (to) {
      e.preventDefault();
      to.focus();
    }
  });
  query = "";
  load("", 1);
  return s;
}

function startInstitution(d) {
  if (d.institution.supports_oauth) showOAuth(d.institution, null);
  else showCreds(d, null);
}

// ---------------------------------------------------------------- credentials

// The credential form, for a new member (member null) or an update of `member`.
function credForm(s, d, member) {
  const inst = d.institution;
  const fields = (d.credentials || []).slice().sort((a, b) => (a.display_order || 0) - (b.display_order || 0));
  const inputs = [];
  const form = el("form", { class: "form", novalidate: true });
  const text = plain(inst.instructional_text);
  if (text) form.append(para(text, "muted"));
  const steps = (inst.instructional_text_steps || []).map(plain).filter(Boolean);
  if (steps.length) form.append(el("ol", { class: "steps" }, steps.map((x) => el("li", { text: x }))));
  for (const c of fields) {
    const id = uid();
    const input = el("input", {
      id,
      class: "input",
      type: String(c.field_type || "").toUpperCase() === "PASSWORD" ? "password" : "text",
      autocomplete: "off",
      autocapitalize: "none",
      spellcheck: "false",
      required: true,
    });
    inputs.push([c, input]);
    form.append(el("div", { class: "field" }, el("label", { for: id, class: "label", text: c.label || c.field_name || "" }), input));
  }
  const links = [
    [inst.forgot_password_url, "forgot_password"],
    [inst.forgot_username_url, "forgot_username"],
    [inst.trouble_signing_in_url, "trouble_signing_in"],
  ]
    .map(([u, k]) => [safeUrl(u), k])
    .filter(([u]) => u)
    .map(([u, k]) => el("li", null, el("a", { href: u, target: "_blank", rel: "noopener noreferrer", text: t(k) }, el("span", { class: "sr-only", text: " " + t("new_tab") }))));
  if (links.length) form.append(el("ul", { class: "links" }, links));
  const submit = el("button", { type: "submit", class: "btn primary", text: t("continue") });
  form.append(s.msg, el("div", { class: "actions" }, submit));
  let busy = false;
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    if (busy) return;
    const missing = inputs.filter(([, i]) => i.value === "");
    for (const [, i] of inputs) i.removeAttribute("aria-invalid");
    if (missing.length) {
      for (const [, i] of missing) i.setAttribute("aria-invalid", "true");
      setMsg(s, t("fill_all_fields"));
      missing[0][1].focus();
      return;
    }
    let credentials = inputs.map(([c, i]) => ({ guid: c.guid, value: i.value }));
    for (const [, i] of inputs) i.value = "";
    s.msg.replaceChildren();
    busy = true;
    submit.disabled = true;
    announce(t("submitting"));
    const institution = { code: inst.code || (member && member.institution_code) || "", guid: inst.guid || (member && member.institution_guid) || "" };
    if (member) post("updateCredentials", { member_guid: member.guid, institution });
    else post("enterCredentials", { institution });
    let r;
    try {
      r = member
        ? await api("PUT", "members/" + enc(member.guid), { credentials })
        : await api("POST", "members", { institution_guid: institution.guid, credentials });
    } catch (err) {
      credentials = null;
      busy = false;
      submit.disabled = false;
      if (err.status === 409 && err.error.member_guid && (!member || err.error.member_guid !== member.guid)) {
        if (s.gen === st.gen) showDuplicate(err.error.member_guid, d);
        return;
      }
      if (!member) post("createMemberError", { institution_guid: institution.guid, institution_code: institution.code });
      if (s.gen !== st.gen || err.status === 401) return;
      setMsg(s, err);
      if (inputs.length) inputs[0][1].focus();
      return;
    }
    credentials = null;
    if (s.gen !== st.gen) return;
    showConnecting(r.member || member);
  });
  return form;
}

function showCreds(d, member) {
  const inst = d.institution;
  const name = nameOf(inst, member);
  const s = show("enterCreds", member ? t("update_title", { name }) : t("creds_title", { name }), {
    back: canSearch() ? backToSearch : null,
    inst,
  });
  s.body.append(para(t(member ? "update_intro" : "creds_intro", { name }), "muted"), credForm(s, d, member));
  return s;
}

function showDuplicate(guid, d) {
  const inst = d.institution;
  const name = nameOf(inst);
  const s = show("verifyExistingMember", t("duplicate_title"), { back: () => showCreds(d, null), inst });
  let busy = false;
  const open = btn(t("duplicate_open"), async () => {
    if (busy) return;
    busy = true;
    open.disabled = true;
    try {
      const r = await api("GET", "members/" + enc(guid));
      if (s.gen !== st.gen) return;
      routeMember(r.member, false);
    } catch (e) {
      busy = false;
      open.disabled = false;
      if (s.gen !== st.gen || e.status === 401) return;
      setMsg(s, e);
    }
  });
  s.body.append(para(t("duplicate_body", { name })), s.msg, el("div", { class: "actions" }, open));
}

// ---------------------------------------------------------------- polling

function noteStatus(m) {
  const id = statusId(m);
  if (typeof id === "number" && m.guid && st.lastStatus[m.guid] !== id) {
    st.lastStatus[m.guid] = id;
    post("memberStatusUpdate", { member_guid: m.guid, connection_status: id });
  }
}

// Polls the member every second while this screen lasts. onMember returns true to go on.
function poll(guid, onMember, onTrouble) {
  const g = st.gen;
  let delay = 1000;
  const tick = async () => {
    if (g !== st.gen) return;
    let m;
    try { m = (await api("GET", "members/" + enc(guid))).member; } catch (e) {
      if (g !== st.gen || e.status === 401) return;
      if (e.status === 404) {
        showProblem(e, null);
        return;
      }
      delay = Math.min(delay * 2, 10000);
      onTrouble(e);
      later(tick, delay);
      return;
    }
    if (g !== st.gen || !m) return;
    delay = 1000;
    noteStatus(m);
    if (onMember(m)) later(tick, 1000);
  };
  later(tick, 1000);
}

// Moves on from a polled member when it needs nothing more from polling; true if it did.
function settle(m) {
  const n = statusName(m);
  if (n === "CHALLENGED" && m.challenges && m.challenges.length) {
    showMfa(m);
    return true;
  }
  if (n === "CONNECTED" && !m.is_being_aggregated) {
    // The products asked for beyond the first job (verification then transactions, or the
    // other way round) run next, once per member.
    if (cfg.follow_up && m.guid && !st.followed[m.guid]) {
      st.followed[m.guid] = true;
      followUp(m);
      return true;
    }
    post("memberConnected", { member_guid: m.guid });
    showConnected(m);
    return true;
  }
  // Nothing is running and nothing is awaited (an error, or a member left idle in a processing
  // status): the error screen, whose actions start over. PENDING waits for OAuth.
  if (!m.is_being_aggregated && n !== "PENDING") {
    showError(m, false);
    return true;
  }
  return false;
}

async function followUp(m) {
  const g = st.gen;
  let next = m;
  try {
    next = (await api("POST", "members/" + enc(m.guid) + "/" + cfg.follow_up, {})).member || m;
  } catch (e) {
    if (e.status === 401) return;
    // The institution does not offer it: what the first job brought is the result.
  }
  if (g !== st.gen) return;
  if (next.is_being_aggregated) showConnecting(next);
  else {
    post("memberConnected", { member_guid: m.guid });
    showConnected(next);
  }
}

function progressText(m, name) {
  const n = statusName(m);
  if (n === "UPDATED") return t("progress_checking");
  if (n === "RESUMED") return t("progress_answers");
  if (n === "CONNECTED") return t("progress_gathering");
  if (n === "PENDING") return t("progress_oauth", { name });
  return t("progress_start", { name });
}

// ---------------------------------------------------------------- connecting

function showConnecting(m) {
  const inst = instOf(m);
  const name = nameOf(inst, m);
  const s = show("connecting", t("connecting_title", { name }), { inst });
  const status = el("p", { class: "status", "aria-live": "polite", text: progressText(m, name) });
  s.body.append(progress(), status, s.msg);
  const started = Date.now();
  const say = (text) => { if (status.textContent !== text) status.textContent = text; };
  poll(
    m.guid,
    (pm) => {
      s.msg.replaceChildren();
      if (settle(pm)) return false;
      say(Date.now() - started > 60000 ? t("progress_slow") : progressText(pm, name));
      return true;
    },
    () => say(t("progress_retrying")),
  );
  return s;
}

// ---------------------------------------------------------------- MFA

function showMfa(m) {
  const inst = instOf(m);
  const name = nameOf(inst, m);
  const s = show("mfa", t("mfa_title"), { back: canSearch() ? backToSearch : null, backButton: false, inst });
  const form = el("form", { class: "form", novalidate: true });
  const answers = [];
  for (const c of m.challenges || []) {
    const type = String(c.type || "TEXT").toUpperCase();
    const label = c.label || c.field_name || t("mfa_title");
    if (type === "OPTIONS" || type === "IMAGE_OPTIONS") {
      const group = "g" + uid();
      const radios = (c.options || []).map((o) => {
        const id = uid();
        const r = el("input", { type: "radio", id, name: group, value: o.value == null ? "" : String(o.value) });
        return [r, el("div", { class: "opt" }, r, el("label", { for: id, text: o.label || String(o.value || "") }))];
      });
      form.append(el("fieldset", { class: "field choices" }, el("legend", { class: "label", text: label }), radios.map((x) => x[1])));
      answers.push({ c, radios: radios.map((x) => x[0]) });
    } else {
      const id = uid();
      const img =
        type === "IMAGE_DATA" && typeof c.image_data === "string" && /^data:image\//i.test(c.image_data)
          ? el("img", { src: c.image_data, alt: label, class: "mfa-img" })
          : null;
      const input = el("input", {
        id,
        class: "input",
        type: "text",
        autocomplete: type === "TOKEN" ? "one-time-code" : "off",
        autocapitalize: "none",
        spellcheck: "false",
        required: true,
      });
      form.append(el("div", { class: "field" }, img, el("label", { for: id, class: "label", text: label }), input));
      answers.push({ c, input });
    }
  }
  const submit = el("button", { type: "submit", class: "btn primary", text: t("continue") });
  form.append(s.msg, el("div", { class: "actions" }, submit));
  s.body.append(para(t("mfa_intro", { name }), "muted"), form);
  let busy = false;
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    if (busy) return;
    let missing = null;
    const out = answers.map((a) => {
      let value = "";
      if (a.input) value = a.input.value;
      else {
        const r = a.radios.find((x) => x.checked);
        value = r ? r.value : "";
      }
      if (value === "" && !missing) missing = a.input || a.radios[0];
      return { guid: a.c.guid, value };
    });
    if (missing) {
      setMsg(s, t("mfa_required"));
      missing.focus();
      return;
    }
    for (const a of answers) {
      if (a.input) a.input.value = "";
      else for (const r of a.radios) r.checked = false;
    }
    s.msg.replaceChildren();
    busy = true;
    submit.disabled = true;
    announce(t("submitting"));
    post("submitMFA", { member_guid: m.guid });
    let r;
    try { r = await api("PUT", "members/" + enc(m.guid) + "/resume", { challenges: out }); } catch (err) {
      out.length = 0;
      busy = false;
      submit.disabled = false;
      if (s.gen !== st.gen || err.status === 401) return;
      setMsg(s, err);
      const first = form.querySelector("input");
      if (first) first.focus();
      return;
    }
    out.length = 0;
    if (s.gen !== st.gen) return;
    showConnecting(r.member || m);
  });
}

// ---------------------------------------------------------------- OAuth

// The OAuth screen for `inst`: creates the OAuth member (or re-uses `member`) as it opens, so
// that the window URI is ready when "Continue" is pressed and window.open runs in the click.
function showOAuth(inst, member) {
  const name = nameOf(inst, member);
  const s = show("oauth", t("oauth_title", { name }), { back: canSearch() ? backToSearch : null, inst });
  const status = el("p", { class: "status", "aria-live": "polite" });
  const bar = progress();
  bar.hidden = true;
  const go = el("button", { type: "button", class: "btn primary", text: t("continue"), disabled: true });
  const restart = btn(t("oauth_restart"), () => prepare(), "secondary");
  restart.hidden = true;
  s.body.append(para(t("oauth_intro", { name }), "muted"), bar, status, s.msg, el("div", { class: "actions" }, go, restart));
  let guid = member ? member.guid : null;
  let uri = null;
  let waiting = false;

  async function fresh() { return (await api("GET", "members/" + enc(guid) + "/oauth_window_uri")).member; }
  // The member as it was when this window URI was issued: a status from before (DENIED after an
  // earlier Deny, CONNECTED when re-authorizing) says nothing about this window.
  let base = null;

  async function prepare() {
    st.onOAuth = null;
    waiting = false;
    clearTimers();
    uri = null;
    go.hidden = false;
    go.disabled = true;
    restart.hidden = true;
    bar.hidden = true;
    s.msg.replaceChildren();
    status.textContent = t("oauth_preparing");
    let m;
    try {
      if (guid) m = await fresh();
      else {
        try { m = (await api("POST", "members", { institution_guid: inst.guid, is_oauth: true })).member; } catch (e) {
          if (e.status !== 409 || !e.error.member_guid) {
            post("createMemberError", { institution_guid: inst.guid || "", institution_code: inst.code || "" });
            throw e;
          }
          guid = e.error.member_guid;
          m = await fresh();
        }
      }
      if (s.gen !== st.gen) return;
      if (!m || !m.oauth_window_uri) throw new ApiError(500, null);
    } catch (e) {
      if (s.gen !== st.gen || e.status === 401) return;
      status.textContent = "";
      setMsg(s, e, prepare);
      return;
    }
    guid = m.guid;
    uri = m.oauth_window_uri;
    base = typeof m.updated_at === "string" ? m.updated_at : null;
    status.textContent = "";
    go.disabled = false;
    if (document.activeElement === restart || document.activeElement === document.body) go.focus();
  }

  go.addEventListener("click", () => {
    if (!uri) return;
    const url = uri;
    if (!/^https?:\/\//i.test(url)) return;
    if (!webview && cfg.oauth_referral_source !== "APP") {
      // Synchronously in the click, without noopener: the callback page answers window.opener.
      const w = window.open(url, "_blank");
      if (!w) {
        setMsg(s, t("popup_blocked"));
        return;
      }
      st.popup = w;
    }
    uri = null;
    post("oauthRequested", { url, member_guid: guid });
    wait();
  });

  function failed() {
    post("oauthError", { member_guid: guid });
    showOAuthError(inst, guid);
  }

  function wait() {
    waiting = true;
    go.hidden = true;
    restart.hidden = false;
    bar.hidden = false;
    s.msg.replaceChildren();
    status.textContent = t("oauth_waiting", { name });
    s.h1.focus();
    st.onOAuth = (md) => {
      if (md.status === "success") {
        st.onOAuth = null;
        showConnecting({ guid: typeof md.member_guid === "string" && md.member_guid ? md.member_guid : guid, institution_guid: inst.guid, name });
      } else {
        st.onOAuth = null;
        failed();
      }
    };
    poll(
      guid,
      (m) => {
        if (!waiting) return false;
        const n = statusName(m);
        if (base !== null && m.updated_at === base) return true;
        if (n === "PENDING") {
          if (status.textContent !== t("oauth_waiting", { name })) status.textContent = t("oauth_waiting", { name });
          return true;
        }
        if (n === "DENIED") {
          failed();
          return false;
        }
        if (!settle(m)) showConnecting(m);
        return false;
      },
      () => { if (waiting) status.textContent = t("progress_retrying"); },
    );
  }

  prepare();
  return s;
}

function showOAuthError(inst, guid) {
  const name = nameOf(inst);
  const m = { guid, institution_guid: inst.guid, institution_code: inst.code, name };
  const s = show("loginError", t("oauth_error_title"), { back: canSearch() ? backToSearch : null, backButton: false, inst });
  s.body.append(
    el("div", { class: "alert", role: "alert" }, para(t("oauth_error_body", { name }))),
    s.msg,
    el("div", { class: "actions" }, btn(t("try_again"), () => showOAuth(inst, m))),
    endActions(s, m, name),
  );
}

// ---------------------------------------------------------------- connected

function money(v, cur) {
  const n = Number(v);
  if (v == null || v === "" || !isFinite(n)) return "";
  try {
    return new Intl.NumberFormat(cfg.locale || undefined, { style: "currency", currency: cur || "USD" }).format(n);
  } catch (e) { return n.toFixed(2) + (cur ? " " + cur : ""); }
}

function typeLabel(type) {
  if (!type) return "";
  const k = "type_" + String(type).toLowerCase();
  if (Object.prototype.hasOwnProperty.call(S, k)) return S[k];
  const s = String(type).replace(/_/g, " ").toLowerCase();
  return s.charAt(0).toUpperCase() + s.slice(1);
}

function showConnected(m) {
  const inst = instOf(m);
  const name = nameOf(inst, m);
  const s = show("connected", t("connected_title"), { inst });
  const heading = el("h2", { text: t("accounts") });
  const list = el("ul", { class: "accts", "aria-busy": "true" });
  const note = para(t("loading"), "muted");
  const done = btn(t("done"), () => post("connected/primaryAction"));
  s.body.append(el("p", { class: "ok", text: t("connected_body", { name }) }), heading, list, note, s.msg, el("div", { class: "actions" }, done));
  const load = async () => {
    note.hidden = false;
    note.textContent = t("loading");
    try {
      const r = await api("GET", "members/" + enc(m.guid) + "/accounts");
      if (s.gen !== st.gen) return;
      const accounts = r.accounts || [];
      list.replaceChildren(
        ...accounts.map((a) => {
          const meta = [];
          if (a.type) meta.push(el("span", { text: typeLabel(a.type) }));
          if (a.account_number_mask) meta.push(el("span", { class: "mask", text: t("account_mask", { mask: a.account_number_mask }) }));
          const bal = money(a.balance, a.currency_code);
          return el(
            "li",
            { class: "acct" },
            el("span", { class: "acct-main" }, el("span", { class: "acct-name", text: a.name || "" }), meta.length ? el("span", { class: "acct-meta" }, meta) : null),
            bal ? el("span", { class: "acct-bal", text: bal }) : null,
          );
        }),
      );
      note.textContent = accounts.length ? "" : t("no_accounts");
      note.hidden = accounts.length > 0;
    } catch (e) {
      if (s.gen !== st.gen || e.status === 401) return;
      note.hidden = true;
      setMsg(s, e, load);
    } finally { list.removeAttribute("aria-busy"); }
  };
  load();
}

// ---------------------------------------------------------------- errors

// "Delete connection" (with an in-page confirmation) and "Back to search".
function endActions(s, m, name) {
  const wrap = el("div", { class: "actions end" });
  const del = btn(t("delete_connection"), ask, "danger-outline");
  wrap.append(del);
  if (canSearch()) wrap.append(btn(t("back_to_search"), backToSearch, "secondary"));
  function ask() {
    const q = el("p", { id: uid(), tabindex: "-1", class: "confirm-q", text: t("delete_confirm", { name }) });
    const yes = btn(t("delete"), null, "danger");
    const no = btn(t("cancel"), null, "secondary");
    const box = el("div", { class: "confirm", role: "group", "aria-labelledby": q.id }, q, el("div", { class: "actions" }, yes, no));
    wrap.replaceWith(box);
    q.focus();
    no.addEventListener("click", () => {
      box.replaceWith(wrap);
      del.focus();
    });
    yes.addEventListener("click", async () => {
      yes.disabled = true;
      no.disabled = true;
      announce(t("deleting"));
      try { await api("DELETE", "members/" + enc(m.guid)); } catch (e) {
        yes.disabled = false;
        no.disabled = false;
        if (s.gen !== st.gen || e.status === 401) return;
        setMsg(s, e);
        return;
      }
      delete st.lastStatus[m.guid];
      post("memberDeleted", { member_guid: m.guid });
      if (s.gen !== st.gen) return;
      if (canSearch()) {
        showSearch();
        announce(t("deleted_body", { name }));
      } else showDeleted(name);
    });
  }
  return wrap;
}

async function showError(m, withForm) {
  const g = st.gen;
  let d = null;
  if (m.institution_guid) {
    try { d = await loadInst(m.institution_guid); } catch (e) { if (e.status === 401) return; }
  }
  if (g !== st.gen) return;
  const inst = d ? d.institution : instOf(m);
  const name = nameOf(inst, m);
  const n = statusName(m);
  const creds = has(NEEDS_CREDS, n) || (withForm && has(ERRORS, n));
  const kind = creds ? "credentials" : has(RETRY_NOW, n) ? "retry" : has(AT_INSTITUTION, n) ? "action" : has(LATER, n) ? "later" : has(FINAL, n) ? "final" : "generic";
  const s = show("loginError", t("error_title_" + kind, { name }), { back: canSearch() ? backToSearch : null, backButton: false, inst });
  const explain = Object.prototype.hasOwnProperty.call(S, "status_" + n) ? t("status_" + n, { name }) : t("status_generic");
  const message = typeof m.message === "string" && m.message.trim() ? m.message.trim() : null;
  s.body.append(el("div", { class: "alert", role: "alert" }, para(explain), message ? para(message, "detail") : null));
  if (creds && !m.is_oauth && d && d.credentials.length) {
    s.body.append(el("h2", { text: t("creds_title", { name }) }), credForm(s, d, m));
  } else if (creds && m.is_oauth) {
    s.body.append(s.msg, el("div", { class: "actions" }, btn(t("try_again"), () => showOAuth(inst, m))));
  } else if (kind === "retry" || kind === "action" || kind === "later") {
    const link = kind === "action" ? safeUrl(inst.url) : null;
    const retry = btn(t("try_again"), async () => {
      retry.disabled = true;
      try {
        const r = await api("POST", "members/" + enc(m.guid) + (verification ? "/verify" : "/aggregate"), {});
        if (s.gen !== st.gen) return;
        showConnecting(r.member || m);
      } catch (e) {
        retry.disabled = false;
        if (s.gen !== st.gen || e.status === 401) return;
        if (e.status === 409) showConnecting(m);
        else setMsg(s, e);
      }
    });
    s.body.append(
      link
        ? el("p", null, el("a", { href: link, target: "_blank", rel: "noopener noreferrer", text: t("visit_institution", { name }) }, el("span", { class: "sr-only", text: " " + t("new_tab") })))
        : null,
      s.msg,
      el("div", { class: "actions" }, retry),
    );
  } else s.body.append(s.msg);
  s.body.append(endActions(s, m, name));
}

// A load that failed before any real screen (or a member that disappeared).
function showProblem(e, retry) {
  const s = show("loginError", t("error_title_generic"), { back: canSearch() ? backToSearch : null, backButton: false });
  s.body.append(el("div", { class: "alert", role: "alert" }, para(errText(e))));
  const acts = el("div", { class: "actions" });
  if (retry) acts.append(btn(t("try_again"), retry));
  if (canSearch()) acts.append(btn(t("back_to_search"), backToSearch, retry ? "secondary" : "primary"));
  s.body.append(acts);
}

function showExpired() {
  st.onOAuth = null;
  const s = show("expired", t("expired_title"));
  s.body.append(el("div", { class: "alert", role: "alert" }, para(t("expired_body"))));
}

function showDeleted(name) {
  const s = show("deleted", t("deleted_title"), { back: canSearch() ? showSearch : null, backButton: false });
  s.body.append(el("p", { role: "status", text: t("deleted_body", { name }) }));
  if (canSearch()) s.body.append(el("div", { class: "actions" }, btn(t("back_to_search"), backToSearch)));
}

// ---------------------------------------------------------------- routing an existing member

// `start` is true when the widget opens on current_member_guid (update_credentials applies).
async function routeMember(m, start) {
  if (!m || !m.guid) return showProblem(new ApiError(404, null), null);
  const n = statusName(m);
  const update = start && !!cfg.update_credentials;
  if (n === "CHALLENGED" && m.challenges && m.challenges.length) return showMfa(m);
  if (has(ERRORS, n) && (!m.is_being_aggregated || start)) return showError(m, update);
  if (update || n === "PENDING") {
    const g = st.gen;
    let d;
    try { d = await loadInst(m.institution_guid); } catch (e) {
      if (e.status === 401 || g !== st.gen) return;
      return showProblem(e, () => routeMember(m, start));
    }
    if (g !== st.gen) return;
    if (m.is_oauth || n === "PENDING") return showOAuth(d.institution, m);
    return showCreds(d, m);
  }
  if (n === "CONNECTED" && !m.is_being_aggregated) return showConnected(m);
  // CREATED, UPDATED, RESUMED, RECONNECTED, CONNECTED while aggregating: wait for the job.
  return showConnecting(m);
}

// ---------------------------------------------------------------- messages from outside

function onMessage(ev) {
  let d = ev.data;
  if (typeof d === "string") {
    try { d = JSON.parse(d); } catch (e) { return; }
  }
  if (!d || typeof d !== "object") return;
  if (st.popup && ev.source === st.popup) {
    // Ferry's own callback page says how it ended; a page of the bank's cannot.
    if (d.type === "mx/client/oauthComplete" && ev.origin === window.location.origin && st.onOAuth) {
      st.onOAuth(d.metadata || {});
    }
    return;
  }
  if (window.parent !== window && ev.source === window.parent) {
    if (d.type === "mx/navigation" && d.payload && d.payload.action === "back") {
      // The SDK's navigateBack() waits for this answer: false at a step with nowhere to go back to.
      const went = st.back ? st.back() !== false : false;
      post("navigation", { did_go_back: went });
    } else if (d.type === "ping" && Date.now() - st.pingedAt > 60000) {
      // MX's keep-alive: renews the session (at most once a minute) while the user stays put.
      st.pingedAt = Date.now();
      api("POST", "ping").catch(() => {});
    }
    return;
  }
  // MX's React Native host answers an OAuth deep link with a string message (WebView only).
  if (webview && st.onOAuth && (d.type === "oauthComplete/success" || d.type === "oauthComplete/error")) {
    const md = d.metadata || {};
    st.onOAuth({ status: d.type === "oauthComplete/success" ? "success" : "error", member_guid: md.member_guid });
  }
}

// ---------------------------------------------------------------- start

async function start() {
  try {
    if (cfg.current_member_guid) {
      const r = await api("GET", "members/" + enc(cfg.current_member_guid));
      await routeMember(r.member || {}, true);
    } else if (cfg.current_institution_guid) {
      startInstitution(await loadInst(cfg.current_institution_guid));
    } else showSearch();
  } catch (e) {
    if (e.status === 401) return;
    showProblem(e, start);
  }
}

window.addEventListener("message", onMessage);
if (webview) document.addEventListener("message", onMessage);
app.replaceChildren(view, live);
view.replaceChildren(el("h1", { tabindex: "-1", class: "sr-only", text: t("title") }), progress(), para(t("loading"), "status"));
start();
})();
