// Shared helpers of the Playwright end-to-end tests (not a test file itself).
// The services are started by `cargo xtask test` (real fake Atlassian + real broker + static server)
// and described by the JIRA3LO_* environment variables.
import { mkdtempSync, rmSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { after, before } from 'node:test';
import { chromium } from 'playwright-core';

export const env = {
  fake: process.env.JIRA3LO_FAKE_URL,
  broker: process.env.JIRA3LO_BROKER_URL,
  extensionDir: process.env.JIRA3LO_EXTENSION_DIR,
  extensionId: process.env.JIRA3LO_EXTENSION_ID,
  demoUrl: process.env.JIRA3LO_DEMO_URL,
  staticUrl: process.env.JIRA3LO_STATIC_URL,
  chromium: process.env.CHROMIUM || '/usr/bin/chromium',
  artifacts: process.env.JIRA3LO_ARTIFACTS,
};

export function requireEnv() {
  for (const k of ['fake', 'broker', 'extensionDir', 'extensionId', 'demoUrl']) {
    assert.ok(env[k], `missing ${k}: run through \`cargo xtask test\` (JIRA3LO_* variables)`);
  }
}

/** Bounded time for every wait: a broken flow fails in seconds, not at the runner's timeout. */
export const STEP_TIMEOUT_MS = 15_000;

// ---- the fake Atlassian's admin API ----------------------------------------------------------

export async function admin(path, body) {
  const res = await fetch(`${env.fake}/__admin/${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  assert.ok(res.ok, `admin ${path} answered ${res.status}: ${await res.clone().text()}`);
  const text = await res.text();
  return text ? JSON.parse(text) : null;
}

/** Resets the fake and applies settings (e.g. consent page mode and the consenting user). */
export async function resetFake(settings = {}) {
  await admin('reset', {});
  if (Object.keys(settings).length) await admin('settings', settings);
}

export const stats = () => admin('stats');
export const count = (s, route) => s.requests?.[route] ?? 0;
/** Requests of every route whose template contains `fragment` (e.g. GET and POST search). */
export const countMatching = (s, fragment) =>
  Object.entries(s.requests ?? {}).reduce((n, [route, c]) => (route.includes(fragment) ? n + c : n), 0);
export const TOKEN = 'POST /oauth/token';
export const RESOURCES = 'GET /oauth/token/accessible-resources';

// ---- the browser ------------------------------------------------------------------------------

export async function launch({ withExtension = true } = {}) {
  const profile = mkdtempSync(join(tmpdir(), 'jira3lo-e2e-'));
  const args = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
    '--disable-sync', '--no-first-run', '--disable-quic'];
  if (withExtension) args.push(`--disable-extensions-except=${env.extensionDir}`, `--load-extension=${env.extensionDir}`);
  const ctx = await chromium.launchPersistentContext(profile, { headless: true, executablePath: env.chromium, args });
  ctx.setDefaultTimeout(STEP_TIMEOUT_MS);
  let id = null;
  if (withExtension) {
    const worker = ctx.serviceWorkers()[0] ?? (await ctx.waitForEvent('serviceworker'));
    id = new URL(worker.url()).host;
  }
  return {
    ctx,
    id,
    async close() {
      await ctx.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/**
 * The real extension in Chromium for the tests of the calling file: launched (see `launch`) before the first,
 * closed after the last; `ready(browser)` receives it.
 */
export function useExtensionBrowser(ready) {
  let browser;
  before(async () => {
    requireEnv();
    browser = await launch();
    ready(browser);
  });
  after(async () => {
    await browser?.close();
  });
}

/** The extension's service worker (woken by any extension page if it was stopped). */
export async function serviceWorker(ctx) {
  return ctx.serviceWorkers()[0] ?? ctx.waitForEvent('serviceworker');
}

/** Opens the popup page as a 380px-wide tab and waits until the app has rendered its first view. */
export async function openPopup(ctx, id) {
  const page = await ctx.newPage();
  await page.setViewportSize({ width: 380, height: 600 });
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.errors = errors;
  await page.goto(`chrome-extension://${id}/www/popup.html`);
  // A list painted from the last snapshot (www/snapshot.js) is busy until Jira answered or failed.
  await page.waitForFunction(() => globalThis.__jira3lo?.app && !document.querySelector('#main .center[aria-busy], #main .list-head[aria-busy]'));
  return page;
}

/** The popup's stored first-paint snapshots (chrome.storage.session `jira3lo.snapshot`), or null. */
export function storedSnapshots(ctx, id) {
  return inExtensionPage(ctx, id, async () => (await chrome.storage.session.get('jira3lo.snapshot'))['jira3lo.snapshot'] ?? null);
}

/**
 * Forgets every session of the extension (tokens, site, pending sign-in) from an extension page that makes
 * no Jira call itself (the options page), so a test starts signed out without a popup first trying the
 * previous test's tokens against the reset fake.
 */
export async function signOutExtension(ctx, id) {
  const page = await ctx.newPage();
  await page.goto(`chrome-extension://${id}/www/options.html`);
  await page.evaluate(async () => {
    await chrome.storage.session.clear();
    const all = await chrome.storage.local.get(null);
    // The module's keys, and the UI's note of the scopes the grant was asked with.
    await chrome.storage.local.remove(Object.keys(all).filter((k) => k.startsWith('jira3lo:') || k === 'jira3lo.grantScopes'));
  });
  await page.close();
}

/** Runs `fn` in an extension page that makes no Jira call itself (the options page), then closes it. */
export async function inExtensionPage(ctx, id, fn, arg) {
  const page = await ctx.newPage();
  await page.goto(`chrome-extension://${id}/www/options.html`);
  const out = await page.evaluate(fn, arg);
  await page.close();
  return out;
}

/**
 * Writes the options page's stored overrides directly (null removes them), bypassing the page's own
 * checks: stands for a setting that changed behind a session's back (e.g. a broker that went away).
 */
export function setOverrides(ctx, id, values) {
  return inExtensionPage(ctx, id, async (v) => {
    if (v === null) await chrome.storage.local.remove('jira3lo.options');
    else await chrome.storage.local.set({ 'jira3lo.options': v });
  }, values);
}

/** True when the extension holds a refresh token (read from storage, the value is not returned). */
export function hasStoredRefreshToken(ctx, id) {
  return inExtensionPage(ctx, id, async () => Object.keys(await chrome.storage.local.get(null)).some((k) => /^jira3lo:.*:refresh$/.test(k)));
}

/** Opens the options page and waits until it has rendered the stored values. */
export async function openOptionsPage(ctx, id) {
  const page = await ctx.newPage();
  await page.goto(`chrome-extension://${id}/www/options.html`);
  await page.waitForFunction(() => document.querySelector('#redirectUrl')?.value);
  return page;
}

/**
 * Clicks Connect (or Reconnect) in the popup and answers the fake's consent page that opens as a new
 * page of the context: `accept` (optionally choosing a site) or `cancel`.
 */
export async function connectViaConsent(ctx, popup, { answer = 'accept', site, beforeAnswer } = {}) {
  const consentPromise = ctx.waitForEvent('page');
  await popup.locator('#connect, #reconnect').first().click();
  const consent = await consentPromise;
  await consent.waitForLoadState('domcontentloaded');
  await consent.locator(`#${answer}`).waitFor();
  if (beforeAnswer) await beforeAnswer(consent);
  if (site) await consent.selectOption('#site', site);
  await consent.click(`#${answer}`);
  return consent;
}

export async function waitForIssues(page) {
  await page.locator('#issues .issue-row').first().waitFor();
  return page.locator('#issues .issue-row').count();
}

/** Saves a screenshot into JIRA3LO_ARTIFACTS (when set). */
export async function shot(page, name) {
  if (!env.artifacts) return;
  mkdirSync(env.artifacts, { recursive: true });
  await page.screenshot({ path: join(env.artifacts, `${name}.png`) });
}

/** Text of the notice banner (errors, confirmations), or null. */
export async function noticeText(page) {
  const n = page.locator('#notice');
  return (await n.count()) ? (await n.textContent()).trim() : null;
}

// ---- a bare client page (no demo app): the module and a JiraClient driven by the test ---------------

/** The records the module keeps for a namespace: `jira3lo:<ns>:access|refresh|site`. */
export const SESSION_RECORD = (ns = 'default') => new RegExp(`^jira3lo:${ns}:(access|refresh|site)$`);

/** Codes a call must reject with once the user signed out (in this or another context). */
export const SIGNED_OUT_CODES = ['not_signed_in', 'reauth_required'];

/**
 * Installs `globalThis.__e2e` in `page` (already on its origin): the package's exports (`mod`),
 * `newClient(options)` (a JiraClient on the local fake + broker with the given storage),
 * `client` (one such client) and `settle(promise)` → `{ok: true, value}` or `{ok: false, code, message, details}`.
 */
export async function installClient(page, { storage, namespace } = {}) {
  await page.evaluate(async ({ broker, fake, storage, namespace }) => {
    const mod = await import('/www/pkg/jira_3lo.js');
    await mod.default();
    const newClient = (options = {}) => new mod.JiraClient({
      brokerUrl: broker, apiBaseUrl: fake,
      ...(storage ? { storage } : {}), ...(namespace ? { namespace } : {}), ...options,
    });
    const settle = (promise) => Promise.resolve(promise).then(
      (value) => ({ ok: true, value }),
      (e) => ({ ok: false, code: e?.code ?? null, message: String(e?.message ?? e), details: e?.details ?? null }),
    );
    globalThis.__e2e = { mod, newClient, settle, client: newClient() };
    // One request on the origin's `jira-3lo` / `records` store (none yet: as if empty).
    globalThis.__e2eRecords = (method, ...args) => new Promise((resolve, reject) => {
      const open = indexedDB.open('jira-3lo');
      // Never create the database (the module makes it, with its stores): no database yet means no records.
      open.onupgradeneeded = () => open.transaction.abort();
      open.onerror = () => (open.error?.name === 'AbortError' ? resolve(method === 'getAllKeys' ? [] : undefined) : reject(open.error));
      open.onsuccess = () => {
        const db = open.result;
        if (!db.objectStoreNames.contains('records')) { db.close(); resolve(method === 'getAllKeys' ? [] : undefined); return; }
        const tx = db.transaction('records', method.startsWith('get') ? 'readonly' : 'readwrite');
        const r = tx.objectStore('records')[method](...args);
        tx.oncomplete = () => { db.close(); resolve(r.result); };
        tx.onabort = () => { db.close(); reject(tx.error); };
      };
    });
  }, { broker: env.broker, fake: env.fake, storage: storage ?? null, namespace: namespace ?? null });
}

/**
 * A tab of the demo page with the demo app's script replaced by an empty one (so no app runs and makes
 * calls of its own), with `__e2e` installed (see installClient). The document is the static server's
 * (Chromium lets a loopback document, not a test-made one, fetch the loopback broker); its `localStorage`
 * and Web Locks are the origin's.
 */
export async function openClientTab(ctx, options = {}) {
  const page = await ctx.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.errors = errors;
  await page.route((url) => url.pathname.endsWith('/www/demo.js'), (route) =>
    route.fulfill({ contentType: 'text/javascript; charset=utf-8', body: '// the demo app is not run in this tab\n' }));
  await page.goto(env.demoUrl);
  await installClient(page, options);
  return page;
}

/** `promise`, or a rejection naming `what` once `ms` passed (page.evaluate itself has no timeout). */
export function withinStep(promise, what, ms = STEP_TIMEOUT_MS) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** `__e2e.client[method](...args)` in `page`, settled (see installClient), within STEP_TIMEOUT_MS. */
export function callIn(page, method, ...args) {
  return withinStep(
    page.evaluate(({ method, args }) => globalThis.__e2e.settle(globalThis.__e2e.client[method](...args)), { method, args }),
    `${method} in ${page.url()}`,
  );
}

/** The `Location` of a 302 from `url` (not followed). */
export async function redirectOf(url, what) {
  const res = await fetch(url, { redirect: 'manual' });
  const location = res.headers.get('location');
  assert.ok(res.status === 302 && location, `${what} answered ${res.status}: ${await res.text()}`);
  return location;
}

/**
 * Opens an authorize URL the way a browser would follow it with the fake in auto-consent mode: the fake
 * redirects to the broker's hosted callback (the app's one registered callback URL), which exchanges the
 * code and redirects to the client's redirect URI with `#ticket=…&state=…`. Returns that last URL without
 * loading it.
 */
export async function authorizeCallback(authorizeUrl) {
  const toBroker = await redirectOf(authorizeUrl, 'authorize (auto consent expected)');
  assert.ok(toBroker.startsWith(`${env.broker}/oauth/callback?`), `Atlassian redirects to the broker's callback, not to ${toBroker}`);
  return redirectOf(toBroker, "the broker's callback");
}

/** The callback URL of a sign-in begun in `page` (its `__e2e.client`) for `redirectUri` (default: the demo page). */
export async function beginSignInIn(page, redirectUri = env.demoUrl) {
  const begun = await callIn(page, 'beginSignIn', redirectUri);
  assert.ok(begun.ok, `beginSignIn: ${JSON.stringify(begun)}`);
  return authorizeCallback(begun.value);
}

/** A whole sign-in in `page` (auto consent); returns the status it resolved with. */
export async function signInIn(page, redirectUri = env.demoUrl) {
  const done = await callIn(page, 'completeSignIn', await beginSignInIn(page, redirectUri));
  assert.ok(done.ok, `completeSignIn: ${JSON.stringify(done)}`);
  return done.value;
}

/**
 * The module's session records (`jira3lo:<ns>:access|refresh|site`) this tab can see: its localStorage and
 * sessionStorage, and the `records` store of the origin's IndexedDB database `jira-3lo` (where `storage:
 * 'local'` keeps them).
 */
export function webRecords(page, ns = 'default') {
  return page.evaluate(async (source) => {
    const re = new RegExp(source);
    const keys = (list) => list.filter((k) => re.test(k)).sort();
    return {
      localStorage: keys(Object.keys(localStorage)),
      sessionStorage: keys(Object.keys(sessionStorage)),
      indexedDB: keys((await globalThis.__e2eRecords('getAllKeys')).map(String)),
    };
  }, SESSION_RECORD(ns).source);
}

/**
 * Empties what the module keeps for the origin of `page` (localStorage, sessionStorage, the IndexedDB
 * `records` store), keeping the origin's proof key.
 */
export function clearWebRecords(page) {
  return page.evaluate(async () => {
    localStorage.clear();
    sessionStorage.clear();
    await globalThis.__e2eRecords('clear');
  });
}

/**
 * Counts the ticket redemptions (`POST {broker}/oauth/token` with `grant_type=urn:jira-3lo:ticket`) that
 * `page` sends from now on: the broker exchanged Atlassian's code at its callback already, so this is what
 * "one exchange per callback" means on the client side. `.count` is read when needed.
 */
export function watchRedemptions(page) {
  const seen = { count: 0 };
  page.on('request', (r) => {
    if (r.method() !== 'POST' || r.url() !== `${env.broker}/oauth/token`) return;
    try {
      if (JSON.parse(r.postData() ?? '{}').grant_type === 'urn:jira-3lo:ticket') seen.count += 1;
    } catch {
      // Not JSON: not the module's request.
    }
  });
  return seen;
}

/** Differences of the fake's grant counters between two stats snapshots. */
export const grantsDelta = (before, after) => ({
  authorization_code: (after.grants?.authorization_code ?? 0) - (before.grants?.authorization_code ?? 0),
  refresh_token: (after.grants?.refresh_token ?? 0) - (before.grants?.refresh_token ?? 0),
  /** Refresh grants that returned tokens. */
  refresh_token_ok: (after.grants_ok?.refresh_token ?? 0) - (before.grants_ok?.refresh_token ?? 0),
  /** Every `POST /oauth/token` that reached the fake, fault answers included. */
  token_requests: count(after, TOKEN) - count(before, TOKEN),
});

/** JSON of observed values for assertion messages and diagnostics, long strings cut to `max` characters. */
export const observedJson = (value, max = 160) =>
  JSON.stringify(value, (_, v) => (typeof v === 'string' && v.length > max ? `${v.slice(0, max)}…(${v.length} chars)` : v));
