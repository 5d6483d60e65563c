// Client configuration shared by the popup, the service worker, the options page and the demo page.
//
// Defaults come from `config.json` (written by `cargo xtask build` next to this file); the options page
// can override them, and its values live in chrome.storage.local under OPTIONS_KEY (a key outside the
// module's own `jira3lo:` namespace, so signing out never forgets them).

export const OPTIONS_KEY = 'jira3lo.options';

/** Defaults used when config.json is missing: real Atlassian, no broker (the options page must set one). */
export const BUILTIN_DEFAULTS = Object.freeze({
  brokerUrl: '',
  apiBaseUrl: 'https://api.atlassian.com',
});

/** The scopes the popup needs; shown as the options page's placeholder (the module has the same default). */
export const SUGGESTED_SCOPES = Object.freeze(['read:jira-work', 'write:jira-work', 'read:jira-user', 'offline_access']);

/**
 * The argument of the module's `init()`: the wasm file next to this folder's `pkg/`. Given explicitly because
 * in the bundles `cargo xtask build` ships, the glue's own `import.meta.url` is the bundle's (www/), not pkg/'s.
 */
export const moduleInput = () => ({ module_or_path: new URL('./pkg/jira_3lo_bg.wasm', import.meta.url) });

const hasExtensionStorage = () => typeof chrome !== 'undefined' && !!chrome.storage?.local;

/** The defaults shipped with this build (config.json merged over the built-in defaults). */
export async function loadDefaults() {
  let shipped = {};
  try {
    const res = await fetch(new URL('./config.json', import.meta.url), { cache: 'no-store' });
    if (res.ok) shipped = await res.json();
  } catch {
    // No config.json (a hand-assembled folder): the built-in defaults apply.
  }
  return normalize({ ...BUILTIN_DEFAULTS, ...shipped });
}

/** What the user saved on the options page (extension only), or {}. */
export async function loadOverrides() {
  if (!hasExtensionStorage()) return {};
  const got = await chrome.storage.local.get(OPTIONS_KEY);
  return got[OPTIONS_KEY] ?? {};
}

/** The effective configuration: defaults, then the options page's overrides (empty fields mean "default"). */
export async function loadConfig() {
  const [defaults, overrides] = await Promise.all([loadDefaults(), loadOverrides()]);
  return mergeConfig(defaults, overrides);
}

/** Defaults with the options page's values over them (what loadConfig returns for those overrides). */
export function mergeConfig(defaults, overrides) {
  const merged = { ...defaults };
  for (const [k, v] of Object.entries(overrides)) {
    if (k === 'testHooks') continue; // only the build decides (config.json)
    if (v === undefined || v === null || v === '' || (Array.isArray(v) && v.length === 0)) continue;
    merged[k] = v;
  }
  return normalize(merged);
}

export async function saveOverrides(values) {
  await chrome.storage.local.set({ [OPTIONS_KEY]: values });
}

export async function clearOverrides() {
  await chrome.storage.local.remove(OPTIONS_KEY);
}

/** Calls `callback` when the options page saves or resets (so long-lived contexts rebuild their client). */
export function onOverridesChanged(callback) {
  if (!hasExtensionStorage()) return;
  chrome.storage.onChanged.addListener((changes, area) => {
    if (area === 'local' && OPTIONS_KEY in changes) callback();
  });
}

/**
 * Exposes `value` as `globalThis.__jira3lo` when this build asked for test hooks (`"testHooks": true` in
 * config.json, written by the e2e and bench builds only), so the end-to-end tests can drive a context's client.
 * Release and demo builds never expose the client to other scripts of the page.
 */
export function exposeTestHook(cfg, value) {
  if (cfg?.testHooks === true) globalThis.__jira3lo = value;
}

// ---- the scopes the current grant was asked with ------------------------------------------------
// The module does not tell which scopes a session was granted, and reconnecting asks for the configured
// scopes again; so whoever completes a sign-in records them, and the UI compares them with the current
// configuration to tell "add the scope in Options" from "you changed the scopes: reconnect".

export const GRANT_SCOPES_KEY = 'jira3lo.grantScopes';

/** The scopes a client built from `cfg` asks for (the module always adds offline_access), as one comparable string. */
export function scopesKey(cfg) {
  const list = Array.isArray(cfg?.scopes) && cfg.scopes.length ? cfg.scopes : SUGGESTED_SCOPES;
  return [...new Set([...list, 'offline_access'])].sort().join(' ');
}

/** Where the record lives: next to the tokens (chrome.storage.local, or this tab's sessionStorage). */
function grantArea(storage) {
  return storage === 'extension' && hasExtensionStorage() ? 'extension' : 'session';
}

export async function saveGrantScopes(cfg, storage) {
  const value = scopesKey(cfg);
  if (grantArea(storage) === 'extension') await chrome.storage.local.set({ [GRANT_SCOPES_KEY]: value });
  else sessionStorage.setItem(GRANT_SCOPES_KEY, value);
}

/** The recorded scopes of the current grant, or null when unknown. */
export async function loadGrantScopes(storage) {
  if (grantArea(storage) === 'extension') return (await chrome.storage.local.get(GRANT_SCOPES_KEY))[GRANT_SCOPES_KEY] ?? null;
  return sessionStorage.getItem(GRANT_SCOPES_KEY);
}

export async function clearGrantScopes(storage) {
  if (grantArea(storage) === 'extension') await chrome.storage.local.remove(GRANT_SCOPES_KEY);
  else sessionStorage.removeItem(GRANT_SCOPES_KEY);
}

/** Calls `callback(value)` when another context records or forgets the grant's scopes (extension only). */
export function onGrantScopesChanged(storage, callback) {
  if (grantArea(storage) !== 'extension') return;
  chrome.storage.onChanged.addListener((changes, area) => {
    if (area === 'local' && GRANT_SCOPES_KEY in changes) callback(changes[GRANT_SCOPES_KEY].newValue ?? null);
  });
}

/** Trims URLs (no trailing slash) and turns a scope string into a list. */
export function normalize(cfg) {
  const out = { ...cfg };
  for (const k of ['brokerUrl', 'apiBaseUrl']) {
    if (typeof out[k] === 'string') out[k] = out[k].trim().replace(/\/+$/, '');
  }
  if (typeof out.scopes === 'string') out.scopes = parseScopes(out.scopes);
  return out;
}

export function parseScopes(text) {
  return String(text).split(/[\s,]+/).map((s) => s.trim()).filter(Boolean);
}

/** The JiraClient config for a given storage kind. Only the keys the module knows are passed on. */
export function clientConfig(cfg, storage) {
  const out = { brokerUrl: cfg.brokerUrl, storage };
  if (cfg.apiBaseUrl) out.apiBaseUrl = cfg.apiBaseUrl;
  if (Array.isArray(cfg.scopes) && cfg.scopes.length) out.scopes = cfg.scopes;
  return out;
}
