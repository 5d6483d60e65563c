// Options page: broker URL, API/auth base URLs and scopes, saved to chrome.storage.local (config.js reads them).
import { loadDefaults, loadOverrides, saveOverrides, clearOverrides, parseScopes, SUGGESTED_SCOPES } from './config.js';

const form = document.getElementById('options-form');
const fields = ['brokerUrl', 'apiBaseUrl', 'authBaseUrl'];
const $ = (id) => document.getElementById(id);
const errorEl = $('options-error');
const savedEl = $('saved');

function showError(text) {
  errorEl.textContent = text;
  errorEl.hidden = !text;
}

function flash(text) {
  savedEl.textContent = text;
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
  $('redirectUrl').value = chrome.identity?.getRedirectURL?.() ?? '';
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

form.addEventListener('submit', async (e) => {
  e.preventDefault();
  showError('');
  const values = {};
  const labels = { brokerUrl: 'The broker URL', apiBaseUrl: 'The API base URL', authBaseUrl: 'The authorization base URL' };
  for (const k of fields) {
    const v = $(k).value.trim().replace(/\/+$/, '');
    const problem = checkUrl(labels[k], v);
    if (problem) {
      showError(problem);
      $(k).focus();
      return;
    }
    if (v) values[k] = v;
  }
  const scopes = parseScopes($('scopes').value);
  if (scopes.length) values.scopes = scopes;
  // An https broker or API host other than the built-in ones needs a host permission; asking needs this click.
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
  await saveOverrides(values);
  flash('Saved.');
});

$('reset').addEventListener('click', async () => {
  showError('');
  await clearOverrides();
  await render();
  flash('Defaults restored.');
});

await render();
