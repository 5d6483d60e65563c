// Options page: broker URL, API base URL and scopes, saved to chrome.storage.local (config.js reads them).
//
// The stored tokens belong to the servers they came from: saving other addresses while signed in would
// send the refresh token to the new broker (and the access token to the new API host). So that asks
// first and signs out; new scopes only need a reconnect, which the popup then offers.
import init, { JiraClient } from './pkg/jira_3lo.js';
import {
  loadDefaults, loadOverrides, loadConfig, mergeConfig, saveOverrides, clearOverrides, parseScopes, clientConfig,
  scopesKey, clearGrantScopes, SUGGESTED_SCOPES, moduleInput,
} from './config.js';
import { DEFAULT_PERIOD_MINUTES } from './badge.js';
import {
  addFilter, allViews, deleteFilter, emptyState, loadViewsState, onViewsChanged, saveViewsState, setBadge, updateFilter,
} from './views.js';
import { quotaView } from './quota.js';

const form = document.getElementById('options-form');
const fields = ['brokerUrl', 'apiBaseUrl'];
const labels = { brokerUrl: 'The broker URL', apiBaseUrl: 'The API base URL' };
const names = { brokerUrl: 'token broker', apiBaseUrl: 'Jira API' };
const $ = (id) => document.getElementById(id);
const errorEl = $('options-error');
const savedEl = $('saved');
const confirmEl = $('confirm-signout');

// The module is only needed to read and clear the session; the page renders without waiting for it.
const wasmReady = init(moduleInput());

function showError(text) {
  errorEl.textContent = text;
  errorEl.hidden = !text;
}

/** A short confirmation that fades, or (sticky) one that stays because it asks the user to do something. */
function flash(text, { sticky = false } = {}) {
  savedEl.textContent = text;
  savedEl.classList.toggle('saved-sticky', sticky);
  if (sticky) return;
  setTimeout(() => {
    if (savedEl.textContent === text) savedEl.textContent = '';
  }, 3000);
}

async function render() {
  const [defaults, overrides] = await Promise.all([loadDefaults(), loadOverrides()]);
  for (const k of fields) {
    $(k).placeholder = defaults[k] || 'https://broker.example.com';
    $(k).value = overrides[k] ?? '';
  }
  $('scopes').placeholder = (defaults.scopes?.length ? defaults.scopes : SUGGESTED_SCOPES).join(' ');
  $('scopes').value = (overrides.scopes ?? []).join(' ');
  $('badgePeriodMinutes').placeholder = String(defaults.badgePeriodMinutes || DEFAULT_PERIOD_MINUTES);
  $('badgePeriodMinutes').value = overrides.badgePeriodMinutes ?? '';
  $('notifyAssigned').checked = overrides.notifyAssigned === true;
  showCallbacks(overrides.brokerUrl || defaults.brokerUrl);
}

/** The addresses an admin registers: the broker's callback at Atlassian (the app's one
 * callback URL), and this extension's redirect URI and origin in the broker's allow-lists. */
function showCallbacks(brokerUrl) {
  $('brokerCallbackUrl').value = brokerUrl ? `${brokerUrl.replace(/\/+$/, '')}/oauth/callback` : '';
  $('redirectUrl').value = chrome.identity?.getRedirectURL?.() ?? '';
  $('extensionOrigin').value = location.origin;
}

/** An http(s) URL without path noise, or an error message. */
function checkUrl(label, value) {
  if (!value) return null;
  let url;
  try {
    url = new URL(value);
  } catch {
    return `${label} is not a valid URL.`;
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname))) {
    return `${label} must use https (plain http only for 127.0.0.1 or localhost).`;
  }
  return null;
}

/** The form's values, or null after pointing at the first invalid field. */
function readForm() {
  const values = {};
  for (const k of fields) {
    const v = $(k).value.trim().replace(/\/+$/, '');
    const problem = checkUrl(labels[k], v);
    if (problem) {
      showError(problem);
      $(k).focus();
      return null;
    }
    if (v) values[k] = v;
  }
  const scopes = parseScopes($('scopes').value);
  if (scopes.length) values.scopes = scopes;
  const minutes = $('badgePeriodMinutes').value.trim();
  if (minutes) {
    const n = Number(minutes);
    if (!Number.isInteger(n) || n < 1 || n > 1440) {
      showError('Check every: a whole number of minutes from 1 to 1440.');
      $('badgePeriodMinutes').focus();
      return null;
    }
    values.badgePeriodMinutes = n;
  }
  if ($('notifyAssigned').checked) values.notifyAssigned = true;
  return values;
}

/**
 * The session of the settings in force now: whether it is signed in, and its client (to sign out).
 * Settings that cannot build a client (e.g. no broker yet) cannot have signed anyone in.
 */
async function currentSession() {
  const config = await loadConfig();
  try {
    await wasmReady;
    const client = new JiraClient(clientConfig(config, 'extension'));
    const status = await client.status();
    return { config, client, signedIn: status.state !== 'signedOut' };
  } catch {
    return { config, client: null, signedIn: false };
  }
}

/** What saving `values` changes for a signed-in user: the servers that move, and whether the scopes do. */
async function impact(values) {
  const [session, defaults] = await Promise.all([currentSession(), loadDefaults()]);
  const next = mergeConfig(defaults, values);
  const moved = fields.filter((k) => (session.config[k] ?? '') !== (next[k] ?? ''));
  return { session, moved, scopesChanged: scopesKey(session.config) !== scopesKey(next) };
}

let pending = null; // the save waiting for the sign-out confirmation

function askToSignOut(moved, save) {
  pending = save;
  const what = moved.map((k) => names[k]).join(' and ');
  $('confirm-text').textContent = `You are connected to Jira. Your sign-in belongs to the current servers, so saving a new ${what} address signs you out first (your tokens are never sent to the new one). Connect again from the toolbar popup afterwards.`;
  confirmEl.hidden = false;
  $('form-buttons').hidden = true;
  $('confirm-save').focus();
}

function closeConfirm({ focus } = {}) {
  pending = null;
  confirmEl.hidden = true;
  $('form-buttons').hidden = false;
  if (focus) $(focus).focus();
}

/** Saves (or, for Reset, clears) after signing out when the servers move, then says what the user must do. */
async function apply({ values, reset }, { session, moved, scopesChanged }) {
  const signOut = session.signedIn && moved.length > 0;
  if (signOut && session.client) {
    await session.client.signOut();
    await clearGrantScopes('extension');
  }
  if (reset) await clearOverrides();
  else await saveOverrides(values);
  quotaClient = null;
  await render();
  renderQuota().catch(() => {}); // the form shows what is stored before the confirmation appears
  const done = reset ? 'Defaults restored.' : 'Saved.';
  if (signOut) flash(`${done} You were signed out: connect again from the toolbar popup.`, { sticky: true });
  else if (session.signedIn && scopesChanged) flash(`${done} Reconnect from the toolbar popup so Atlassian grants the new scopes.`, { sticky: true });
  else flash(done);
}

async function submit(change) {
  try {
    const effect = await impact(change.reset ? {} : change.values);
    if (effect.session.signedIn && effect.moved.length) {
      askToSignOut(effect.moved, () => apply(change, effect));
      return;
    }
    await apply(change, effect);
  } catch (err) {
    showError(`Nothing was saved: ${err?.message ?? err}`);
  }
}

form.addEventListener('submit', async (e) => {
  e.preventDefault();
  showError('');
  closeConfirm();
  const values = readForm();
  if (!values) return;
  // An https broker or API host other than the built-in ones needs a host permission; asking needs this click,
  // so it comes before anything else is awaited.
  const origins = [values.brokerUrl, values.apiBaseUrl]
    .filter((u) => u && u.startsWith('https://') && !u.startsWith('https://api.atlassian.com'))
    .map((u) => `${new URL(u).origin}/*`);
  if (origins.length && chrome.permissions) {
    const granted = await chrome.permissions.request({ origins }).catch(() => false);
    if (!granted) {
      showError('Without access to that host the extension cannot reach it. Nothing was saved.');
      return;
    }
  }
  await submit({ values });
});

$('reset').addEventListener('click', async () => {
  showError('');
  closeConfirm();
  await submit({ reset: true });
});

$('confirm-save').addEventListener('click', async () => {
  const save = pending;
  closeConfirm({ focus: 'save' });
  if (!save) return;
  try {
    await save();
  } catch (err) {
    showError(`Nothing was saved: ${err?.message ?? err}`);
  }
  await render();
});

$('confirm-cancel').addEventListener('click', () => {
  closeConfirm({ focus: 'save' });
  flash('Nothing was saved.');
});

confirmEl.addEventListener('keydown', (e) => {
  if (e.key === 'Escape') $('confirm-cancel').click();
});

/**
 * The Jira API quota the module last saw in any context (the service worker's badge polls, the popup's
 * calls): `client.quota()` reads what they wrote to chrome.storage.session, and a change there re-renders.
 */
let quotaClient = null; // one client for the panel (new settings: a new one)

async function renderQuota() {
  quotaClient ??= currentSession().then((s) => s.client);
  const client = await quotaClient;
  const view = quotaView(client ? await client.quota().catch(() => null) : null, Date.now());
  $('quota').hidden = !view;
  if (!view) return;
  $('quota-usage').textContent = view.usage;
  $('quota-resets').textContent = view.resets ?? '';
  $('quota-resets').hidden = !view.resets;
  $('quota-near').hidden = !view.nearLimit;
  $('quota-reason').textContent = view.reason ?? '';
  $('quota-reason-line').hidden = !view.reason;
  $('quota-seen').textContent = view.seen;
}

chrome.storage.onChanged.addListener((changes, area) => {
  if (area === 'session' && Object.keys(changes).some((k) => /^jira3lo:[^:]+:quota$/.test(k))) renderQuota().catch(() => {});
});

// ---- views and saved filters (chrome.storage.sync, see views.js) --------------------------------

const filtersError = $('filters-error');
const filtersSaved = $('filters-saved');
// Migrates the old badgeJql option first, so no save of the form below drops it.
let views = await loadViewsState().catch((err) => {
  filtersProblem({ code: 'storage', message: `Saved filters could not be read: ${err?.message ?? err}` });
  return emptyState();
});

function filtersProblem(error) {
  filtersError.textContent = error ? error.message : '';
  filtersError.hidden = !error;
  if (error) filtersError.dataset.code = error.code;
  else delete filtersError.dataset.code;
}

function filtersDone(text) {
  filtersSaved.textContent = text;
  setTimeout(() => {
    if (filtersSaved.textContent === text) filtersSaved.textContent = '';
  }, 3000);
}

/** Writes the record; on failure (quota, storage) nothing on screen pretends it was saved. */
async function commit(next, done) {
  try {
    await saveViewsState(next);
  } catch (err) {
    filtersProblem({ code: 'storage', message: `Not saved: ${err?.message ?? err}` });
    return false;
  }
  views = next;
  filtersProblem(null);
  renderViews();
  filtersDone(done);
  return true;
}

function el(tag, props = {}, ...children) {
  const node = Object.assign(document.createElement(tag), props);
  node.append(...children);
  return node;
}

function filterRow(filter) {
  const name = el('input', { type: 'text', value: filter.name, className: 'filter-name', autocomplete: 'off' });
  name.setAttribute('aria-label', `Name of ${filter.name}`);
  const jql = el('input', { type: 'text', value: filter.jql, className: 'filter-jql', autocomplete: 'off', spellcheck: false });
  jql.setAttribute('aria-label', `JQL of ${filter.name}`);
  const del = el('button', { type: 'button', className: 'btn btn-small filter-delete', textContent: 'Delete' });
  const form = el('form', { className: 'filter-row', noValidate: true },
    name, jql, el('div', { className: 'buttons' }, el('button', { type: 'submit', className: 'btn btn-small filter-save', textContent: 'Save' }), del));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const result = updateFilter(views, filter.id, { name: name.value, jql: jql.value });
    if (!result.ok) {
      filtersProblem(result.error); // what was typed stays in the boxes
      (result.error.field === 'jql' ? jql : name).focus();
      return;
    }
    await commit(result.state, `Saved “${name.value.trim()}”.`);
  });
  del.addEventListener('click', () => commit(deleteFilter(views, filter.id), `Deleted “${filter.name}”.`));
  return el('li', {}, form);
}

function renderViews() {
  $('filters').replaceChildren(...views.filters.map((f) => {
    const li = filterRow(f);
    li.dataset.id = f.id;
    return li;
  }));
  const select = $('badgeView');
  select.replaceChildren(...allViews(views).map((v) => el('option', { value: v.id, textContent: v.name })));
  select.value = views.badge;
}

$('filter-add').addEventListener('submit', async (e) => {
  e.preventDefault();
  const result = addFilter(views, { name: $('filter-name').value, jql: $('filter-jql').value });
  if (!result.ok) {
    filtersProblem(result.error);
    $(result.error.field === 'jql' ? 'filter-jql' : 'filter-name').focus();
    return;
  }
  if (await commit(result.state, `Added “${result.filter.name}”.`)) {
    $('filter-name').value = '';
    $('filter-jql').value = '';
  }
});

$('badgeView').addEventListener('change', (e) => {
  const next = setBadge(views, e.target.value);
  commit(next, `The badge counts “${allViews(next).find((v) => v.id === next.badge)?.name}”.`);
});

// Edited in another tab or another browser: show what is stored.
onViewsChanged((state) => {
  views = state;
  renderViews();
});

renderViews();
await render();
renderQuota().catch(() => {});
