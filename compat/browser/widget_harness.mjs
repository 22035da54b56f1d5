// The pieces of the Connect widget's browser test that do not need Ferry (widget.mjs uses them):
// the host page, an app's page that embeds the widget through MX's own
// `@mxenabled/web-widget-sdk` and records every callback; the capture of WebView-mode
// navigations (`<scheme>://connect/<event>?metadata=...`); axe-core run inside the widget's
// frame; the widget's own timing and transfer numbers; colours.

import http from "node:http";
import path from "node:path";
import { readFileSync } from "node:fs";

/// Every callback a ConnectWidget accepts in @mxenabled/web-widget-sdk 0.0.15 (its props are the
/// post-message definitions' ConnectPostMessageCallbackProps plus onSsoUrlLoadError).
export const SDK_CALLBACKS = [
  "onMessage",
  "onInvalidMessageError",
  "onSsoUrlLoadError",
  "onLoad",
  "onPing",
  "onNavigation",
  "onFocusTrap",
  "onAccountCreated",
  "onLoaded",
  "onEnterCredentials",
  "onInstitutionSearch",
  "onSelectedInstitution",
  "onMemberConnected",
  "onConnectedPrimaryAction",
  "onMemberDeleted",
  "onCreateMemberError",
  "onMemberStatusUpdate",
  "onOAuthError",
  "onOAuthRequested",
  "onStepChange",
  "onSubmitMFA",
  "onUpdateCredentials",
  "onBackToSearch",
  "onInvalidData",
];

/// The message type behind a callback (`onMemberStatusUpdate` → `mx/connect/memberStatusUpdate`).
export function callbackType(name) {
  const special = {
    onLoad: "mx/load",
    onPing: "mx/ping",
    onNavigation: "mx/navigation",
    onFocusTrap: "mx/focusTrap",
    onAccountCreated: "mx/account/created",
    onConnectedPrimaryAction: "mx/connect/connected/primaryAction",
    onOAuthError: "mx/connect/oauthError",
    onOAuthRequested: "mx/connect/oauthRequested",
  };
  return special[name] ?? `mx/connect/${name[2].toLowerCase()}${name.slice(3)}`;
}

/// The steps of the contract (docs/connect-widget.md), the names in stepChange and loaded.
export const STEPS = [
  "search",
  "enterCreds",
  "connecting",
  "mfa",
  "oauth",
  "connected",
  "loginError",
  "verifyExistingMember",
  "deleted",
  "expired",
];

export function sdkPaths(modules) {
  const sdk = path.join(modules, "@mxenabled", "web-widget-sdk");
  return {
    umd: path.join(sdk, "dist", "umd", "index.js"),
    version: JSON.parse(readFileSync(path.join(sdk, "package.json"), "utf8")).version,
    axe: path.join(modules, "axe-core", "axe.min.js"),
  };
}

/// The callbacks in SDK_CALLBACKS that the SDK's bundle never calls, and the ones it calls that
/// the list misses (both empty while the pin and the list agree).
export function callbackDrift(umdSource) {
  const called = new Set([...umdSource.matchAll(/(?:callbacks|options|props)\.(on[A-Z]\w*)/g)].map((m) => m[1]));
  // Pulse's one callback is not a ConnectWidget prop.
  called.delete("onOverdraftWarningCtaTransferFunds");
  return {
    unknown: SDK_CALLBACKS.filter((c) => !called.has(c)),
    missing: [...called].filter((c) => !SDK_CALLBACKS.includes(c)),
  };
}

/// The host page: `?url=<widget URL>` (and optionally `&width=..&height=..`). It records
/// `{name, payload}` of every SDK callback into window.__events (onMessage's raw data and origin
/// into window.__messages instead, every message the window receives into window.__raw).
export function hostPageHtml() {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Widget host (test app)</title>
<style>body { margin: 0; padding: 8px; background: #fff; font: 14px sans-serif; } #widget { display: inline-block; }</style>
<script src="/sdk.js"></script>
</head>
<body>
<div id="widget"></div>
<script>
(function () {
  var CALLBACKS = ${JSON.stringify(SDK_CALLBACKS)};
  function plain(x) {
    if (x === undefined) return null;
    try { return JSON.parse(JSON.stringify(x)); } catch (e) { return String(x); }
  }
  window.__events = [];
  window.__messages = [];
  window.__raw = [];
  window.addEventListener("message", function (e) {
    window.__raw.push({ origin: e.origin, data: plain(e.data), at: performance.now() });
  });
  var q = new URLSearchParams(location.search);
  var options = { container: "#widget", url: q.get("url"), iframeTitle: "Connect your account" };
  if (q.get("width")) options.style = { border: "none", width: q.get("width") + "px", height: q.get("height") + "px" };
  CALLBACKS.forEach(function (name) {
    options[name] = function (payload) {
      window.__events.push({ name: name, payload: plain(payload), at: performance.now() });
    };
  });
  options.onMessage = function (e) {
    window.__messages.push({ origin: e.origin, data: plain(e.data), at: performance.now() });
  };
  options.onInvalidMessageError = function (e, error) {
    window.__events.push({
      name: "onInvalidMessageError",
      payload: { data: plain(e && e.data), origin: e && e.origin, error: String((error && error.message) || error) },
      at: performance.now(),
    });
  };
  options.onSsoUrlLoadError = function (error) {
    window.__events.push({ name: "onSsoUrlLoadError", payload: { error: String(error) }, at: performance.now() });
  };
  window.__widget = new widgetSdk.ConnectWidget(options);
})();
</script>
</body>
</html>`;
}

/// Serves the host page and the SDK's UMD bundle on 127.0.0.1 (a random port), addressed as
/// `hostname`: pass "localhost" when Ferry is at 127.0.0.1 (and the other way round), so the
/// widget is cross-origin to its host, as in a real app.
export async function startHost(modules, hostname) {
  const { umd } = sdkPaths(modules);
  const sdk = readFileSync(umd);
  const page = hostPageHtml();
  const server = http.createServer((req, res) => {
    const p = new URL(req.url, "http://x").pathname;
    if (p === "/" || p === "/host.html") {
      res.writeHead(200, { "content-type": "text/html; charset=utf-8", "cache-control": "no-store" });
      res.end(page);
    } else if (p === "/favicon.ico") {
      res.writeHead(204);
      res.end();
    } else if (p === "/sdk.js") {
      res.writeHead(200, { "content-type": "text/javascript; charset=utf-8" });
      res.end(sdk);
    } else {
      res.writeHead(404, { "content-type": "text/plain" });
      res.end("not found");
    }
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const origin = `http://${hostname}:${server.address().port}`;
  return {
    origin,
    url: (widgetUrl, extra = {}) => `${origin}/?${new URLSearchParams({ url: widgetUrl, ...extra })}`,
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}

/// Records the navigations a page's frames ask for to `<scheme>:` URLs. Chromium never commits
/// a navigation to an unknown scheme (headless: "Not allowed to launch ..."), so neither
/// `framenavigated` nor `route` sees them; the renderer's request does reach the browser, and
/// CDP reports it as Page.frameRequestedNavigation (every one, also several in one task).
/// A page that navigates itself this way must be opened with `goto(url, {waitUntil: "commit"})`:
/// Playwright would otherwise wait for a load that the pending navigation never lets finish.
/// And it must be driven without user activation (locator.dispatchEvent("click"), fill()): a
/// navigation to an unknown scheme that follows a real click opens Chromium's external-protocol
/// dialog, invisible in headless mode, which then swallows every input event of the tab.
export async function captureSchemeNavigations(context, page, scheme) {
  const seen = [];
  const cdp = await context.newCDPSession(page);
  cdp.on("Page.frameRequestedNavigation", (e) => {
    if (e.url.toLowerCase().startsWith(`${scheme.toLowerCase()}:`)) seen.push(e.url);
  });
  await cdp.send("Page.enable");
  return seen;
}

/// A WebView-mode URL as MX's own parser reads it (widget-post-message-definitions'
/// buildPayloadFromUrl: `mx/<host>/<path>`, metadata = JSON of the `metadata` parameter), plus
/// what the stricter native decoders need: the metadata parameter always there, first and only,
/// encodeURIComponent's encoding (no `+`), no trailing slash.
export function parseWebviewUrl(url, scheme) {
  const problems = [];
  const m = /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\/([^/?#]*)(\/[^?#]*)?(?:\?([^#]*))?$/.exec(url);
  if (!m) return { type: null, metadata: null, problems: [`not <scheme>://<host>[/<path>]?<query>: ${url}`] };
  const [, s, hostPart, pathPart = "", query = ""] = m;
  if (s !== scheme) problems.push(`scheme ${s}, expected ${scheme}`);
  if (pathPart.endsWith("/")) problems.push("trailing slash");
  const type = pathPart && pathPart !== "/" ? `mx/${hostPart}/${pathPart.slice(1)}` : `mx/${hostPart}`;
  const params = query ? query.split("&") : [];
  let metadata = null;
  if (params.length !== 1 || !params[0].startsWith("metadata=")) {
    problems.push(`query must be exactly metadata=...: ?${query}`);
  }
  const raw = (params.find((p) => p.startsWith("metadata=")) || "").slice("metadata=".length);
  if (raw.includes("+")) problems.push("`+` in metadata (encodeURIComponent never writes it)");
  if (/[^A-Za-z0-9\-_.!~*'()%]/.test(raw)) problems.push("metadata not encoded with encodeURIComponent");
  try {
    metadata = JSON.parse(decodeURIComponent(raw));
  } catch (e) {
    problems.push(`metadata is not JSON: ${e.message}`);
  }
  return { type, metadata, problems };
}

/// axe-core inside `frame` (its page's context must have bypassCSP: the widget's CSP forbids
/// the inline script this adds). Returns every violation with its impact and a few nodes.
export async function axeViolations(frame, axeSource) {
  const loaded = await frame.evaluate(() => typeof window.axe === "object").catch(() => false);
  if (!loaded) await frame.addScriptTag({ content: axeSource });
  return frame.evaluate(async () => {
    const r = await window.axe.run(document, { resultTypes: ["violations"] });
    return r.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      nodes: v.nodes.slice(0, 4).map((n) => ({ target: n.target.join(" "), summary: n.failureSummary })),
      count: v.nodes.length,
    }));
  });
}

/// The widget frame's own numbers: when it marked `ferry-widget-interactive` (ms after its
/// navigation started), its navigation timing, and the bytes of its document and assets
/// (not its API calls).
export async function widgetTiming(frame) {
  return frame.evaluate(() => {
    const mark = performance.getEntriesByName("ferry-widget-interactive")[0];
    const nav = performance.getEntriesByType("navigation")[0];
    const assets = performance
      .getEntriesByType("resource")
      .filter(
        (r) => r.name.startsWith(location.origin + "/") && !["fetch", "xmlhttprequest", "beacon"].includes(r.initiatorType),
      );
    const size = (e) => ({
      name: e.name.replace(location.origin, "").replace(/\/connect\/[A-Za-z0-9_-]{20,}/, "/connect/<token>"),
      transfer: e.transferSize,
      encoded: e.encodedBodySize,
      decoded: e.decodedBodySize,
    });
    return {
      interactive: mark ? mark.startTime : null,
      nav: nav
        ? {
            responseStart: nav.responseStart,
            responseEnd: nav.responseEnd,
            domInteractive: nav.domInteractive,
            domContentLoaded: nav.domContentLoadedEventEnd,
            load: nav.loadEventEnd,
          }
        : null,
      files: [nav, ...assets].filter(Boolean).map(size),
    };
  });
}

/// Bytes on the wire of a widgetTiming's files: transferSize (headers + compressed body) when
/// the browser reports it, else the compressed body.
export function transferBytes(files) {
  return files.reduce((n, f) => n + (f.transfer > 0 ? f.transfer : f.encoded), 0);
}

export function median(values) {
  const s = [...values].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

/// WCAG relative luminance of a CSS rgb()/rgba() colour (null when transparent or unreadable).
export function luminance(css) {
  const m = /rgba?\(\s*([\d.]+)[,\s]+([\d.]+)[,\s]+([\d.]+)(?:[,\s/]+([\d.]+%?))?\s*\)/.exec(css || "");
  if (!m) return null;
  if (m[4] !== undefined && parseFloat(m[4]) === 0) return null;
  const lin = (c) => {
    const v = c / 255;
    return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
  };
  return 0.2126 * lin(+m[1]) + 0.7152 * lin(+m[2]) + 0.0722 * lin(+m[3]);
}

/// A partial match: every key of `want` equals (recursively) the same key of `got`; a function
/// in `want` is a predicate.
export function matches(got, want) {
  if (typeof want === "function") return want(got);
  if (want === null || typeof want !== "object") return got === want;
  if (got === null || typeof got !== "object") return false;
  return Object.keys(want).every((k) => matches(got[k], want[k]));
}
