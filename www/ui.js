// The UI shared by the extension popup and the demo web page: one piece of code per piece of logic.
//
// `JiraApp` renders into a root element from the module's `Status` and the Jira calls of a `JiraClient`.
// The only thing that differs between the popup and the web page is how signing in starts, so that is
// passed in as `signIn` (the popup asks the service worker; the web page redirects).
// All text from Jira goes into the DOM through `textContent` (never innerHTML), so it cannot inject markup.
// The module must be initialised (`await init()`) before a JiraApp renders; ADF → text is the module's own.
import { adfToText } from './pkg/jira_3lo.js';
import { scopesKey, loadGrantScopes, clearGrantScopes, onGrantScopesChanged } from './config.js';

import { searchAction } from './search.js';
import { BUILT_IN_VIEWS, DEFAULT_VIEW, allViews, emptyState, viewById } from './views.js';
import { SHORTCUTS, keyAction, moveSelection } from './keys.js';

/** The default view's JQL ("Assigned to me": my open issues). */
export const MY_OPEN_ISSUES_JQL = BUILT_IN_VIEWS[0].jql;
const LIST_FIELDS = ['summary', 'status', 'issuetype', 'priority', 'updated', 'project', 'assignee'];
const PAGE_SIZE = 30;

// ---------------------------------------------------------------------------------------------
// Small DOM helpers

/** Creates an element: h('button', {class: 'x', onclick: fn}, 'text', child). */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k in el && typeof v !== 'string') el[k] = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  appendAll(el, children);
  return el;
}

function appendAll(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

const SVG_NS = 'http://www.w3.org/2000/svg';
const ICONS = {
  refresh: 'M4 10a6 6 0 0 1 10.3-4.2L16 4v5h-5l2-2a4 4 0 1 0 1 4h2A6 6 0 0 1 4 10z',
  plus: 'M9 4h2v5h5v2h-5v5H9v-5H4V9h5z',
  back: 'M12.7 4.3 7 10l5.7 5.7-1.4 1.4L4.2 10l7.1-7.1z',
  more: 'M4 8.5a1.5 1.5 0 1 1 0 3 1.5 1.5 0 0 1 0-3zm6 0a1.5 1.5 0 1 1 0 3 1.5 1.5 0 0 1 0-3zm6 0a1.5 1.5 0 1 1 0 3 1.5 1.5 0 0 1 0-3z',
  external: 'M11 3h6v6h-2V6.4l-6.3 6.3-1.4-1.4L13.6 5H11zM4 5h5v2H5v8h8v-4h2v6H3V5z',
  assignMe: 'M8 3a3 3 0 1 1 0 6 3 3 0 0 1 0-6zM2 16c0-3 2.7-5 6-5 1 0 2 .2 2.8.5A5 5 0 0 0 10 14v2H2zm12-4h2v2h2v2h-2v2h-2v-2h-2v-2h2z',
  edit: 'M13.6 3.3a1.5 1.5 0 0 1 2.1 0l1 1a1.5 1.5 0 0 1 0 2.1L8 15.1 4 16l.9-4zM6.7 12.4l-.3 1.2 1.2-.3 6.9-6.9-.9-.9z',
};

function icon(name) {
  const svg = document.createElementNS(SVG_NS, 'svg');
  svg.setAttribute('viewBox', '0 0 20 20');
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('class', 'icon');
  const path = document.createElementNS(SVG_NS, 'path');
  path.setAttribute('d', ICONS[name]);
  svg.append(path);
  return svg;
}

function logo() {
  const svg = document.createElementNS(SVG_NS, 'svg');
  svg.setAttribute('viewBox', '0 0 32 32');
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('class', 'logo');
  svg.innerHTML =
    '<rect x="1" y="1" width="30" height="30" rx="7" fill="#0C66E4"/>' +
    '<path d="M16 6.5 25.5 16 16 25.5 6.5 16z" fill="none" stroke="#fff" stroke-width="3"/>' +
    '<path d="M16 13.2 18.8 16 16 18.8 13.2 16z" fill="#fff"/>';
  return svg;
}

// ---------------------------------------------------------------------------------------------
// Pure helpers (exported for reuse and for tests)

/** Items of a list-shaped answer, whatever envelope the call uses (array, {values}, {issueTypes}...). */
export function itemsOf(answer, ...keys) {
  if (Array.isArray(answer)) return answer;
  for (const k of [...keys, 'values', 'items']) if (Array.isArray(answer?.[k])) return answer[k];
  return [];
}

/** "5 min ago" style time, or '' for an unparsable date. */
export function relativeTime(iso, now = Date.now()) {
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return '';
  const s = Math.round((t - now) / 1000);
  const rtf = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto', style: 'short' });
  const abs = Math.abs(s);
  if (abs < 60) return rtf.format(s, 'second');
  if (abs < 3600) return rtf.format(Math.round(s / 60), 'minute');
  if (abs < 86400) return rtf.format(Math.round(s / 3600), 'hour');
  if (abs < 86400 * 30) return rtf.format(Math.round(s / 86400), 'day');
  return new Date(t).toLocaleDateString();
}

function hostOf(url) {
  try {
    return new URL(url).host;
  } catch {
    return url || 'the server';
  }
}

/**
 * Plain-language text and the one action that fixes it, from a JiraError (or a serialized one sent by
 * the service worker). `during` is 'signIn' or 'jira'; `hasOptions` says whether an options page can fix
 * settings; `scopesChanged` says whether the configured scopes differ from those the grant was asked with.
 */
export function describeError(err, options = {}) {
  const out = describeCode(err, options);
  // A refresh that failed moments ago is paused: "Try again" waits for the next attempt.
  const ms = err?.details?.retryAfterMs;
  if (out.action === 'retry' && !out.waitSecs && ms > 0) {
    const secs = Math.max(1, Math.ceil(ms / 1000));
    return { ...out, waitSecs: secs };
  }
  return out;
}

function describeCode(err, { during = 'jira', config = {}, hasOptions = false, scopesChanged = false } = {}) {
  const code = err?.code ?? 'unknown';
  const d = err?.details ?? {};
  switch (code) {
    case 'reauth_required':
      return { code, text: 'Your Jira connection expired or was revoked. Reconnect to keep going.', action: 'reconnect' };
    case 'not_signed_in':
      return { code, text: 'You are not connected to Jira any more. Reconnect to keep going.', action: 'reconnect' };
    case 'missing_scope':
      // Reconnecting asks for the same scopes again, so it only helps once the scopes were changed.
      if (scopesChanged) {
        return { code, text: 'Jira needs a permission this connection was not granted. The scopes changed since you connected: reconnect so Atlassian can grant them.', action: 'rescope' };
      }
      if (hasOptions) {
        return { code, text: 'Jira needs a permission (scope) this connection lacks, and reconnecting would ask for the same ones. Add the missing scope in Options, then reconnect.', action: 'options' };
      }
      return { code, text: 'Jira needs a permission (scope) this page does not ask for, so reconnecting would not help. The page\'s scopes are set in its config.json.', action: null };
    case 'rate_limited': {
      const secs = Math.max(1, Math.ceil((d.retryAfterMs ?? 5000) / 1000));
      return { code, text: `Jira is busy right now. Try again in ${secs} s.`, action: 'retry', waitSecs: secs };
    }
    case 'network': {
      // A Jira call may have failed at the broker (refreshing the token) and a sign-in at Jira (site
      // discovery): name a host only when the error says which one failed.
      const where = d.origin ? `Can't reach ${hostOf(d.origin)}.` : "Can't reach Jira or the sign-in broker.";
      const check = during === 'signIn' && hasOptions ? 'your connection and the broker address in Options' : 'your connection';
      return { code, text: `${where} Check ${check}, then try again.`, action: 'retry' };
    }
    case 'timeout':
      return { code, text: 'Jira took too long to answer. Try again in a moment.', action: 'retry' };
    case 'access_denied':
      return { code, text: 'You cancelled the connection on the Atlassian page, so nothing was shared. Connect again whenever you are ready.', action: null };
    case 'state_mismatch':
    case 'unknown_state':
    case 'state_expired':
    case 'missing_code':
    case 'not_a_callback':
      return { code, text: 'That sign-in attempt expired or was interrupted. Please connect again.', action: null };
    case 'provider_error':
      // The broker's callback could not exchange the code now (Atlassian busy or down): worth a retry.
      if (['temporarily_unavailable', 'rate_limited', 'server_error'].includes(d.error)) {
        return { code, text: "Atlassian's sign-in service is busy. Try again in a moment.", action: 'retry' };
      }
      // Never the description: a forged callback chooses it (a phishing line, markup).
      return { code, text: `Atlassian refused the sign-in${d.error ? ` (${d.error})` : ''}.`, action: null };
    case 'no_jira_site':
      return { code, text: 'This Atlassian account gave access to no Jira site. Connect again and pick a Jira site on the Atlassian page.', action: 'reconnect' };
    case 'unknown_site':
      return { code, text: 'That Jira site is no longer available to this connection. Choose another one.', action: null };
    case 'site_selection_required':
      return { code, text: 'Choose which Jira site to use.', action: null };
    case 'broker': {
      if (d.status === 429 || d.error === 'rate_limited') {
        const secs = d.retryAfterMs ? Math.max(1, Math.ceil(d.retryAfterMs / 1000)) : null;
        return secs
          ? { code, text: `Too many sign-in attempts. Try again in ${secs} s.`, action: 'retry', waitSecs: secs }
          : { code, text: 'Too many sign-in attempts. Try again in a minute.', action: 'retry' };
      }
      const check = hasOptions ? ' Check the broker address in Options.' : '';
      return { code, text: `The sign-in service at ${hostOf(config.brokerUrl)} refused the request${d.error ? ` (${d.error})` : ''}.${check}`, action: 'retry' };
    }
    case 'oauth':
      return { code, text: `Atlassian's sign-in service failed${d.error ? ` (${d.error})` : ''}. Try again in a moment.`, action: 'retry' };
    case 'jira': {
      const parts = [...(d.errorMessages ?? []), ...Object.entries(d.errors ?? {}).map(([k, v]) => `${k}: ${v}`)];
      return { code, text: parts.length ? `Jira says: ${parts.join(' · ')}` : (err.message ?? 'Jira refused the request.'), action: null };
    }
    case 'invalid_response':
      return { code, text: 'Jira answered something unexpected. Try again in a moment.', action: 'retry' };
    case 'config':
      return { code, text: `The extension is not set up: ${err.message ?? 'check Options'}.`, action: 'options' };
    case 'storage':
      return { code, text: `The browser's storage failed: ${err.message ?? ''}`, action: 'retry' };
    default:
      return { code, text: err?.message ? String(err.message) : 'Something went wrong.', action: 'retry' };
  }
}

/** Pill style from the status category (Jira's colorName: blue-gray = to do, yellow = in progress, green = done). */
function statusClass(status) {
  const color = status?.statusCategory?.colorName ?? '';
  const key = status?.statusCategory?.key ?? '';
  if (key === 'done' || color === 'green') return 'pill pill-done';
  if (key === 'indeterminate' || color === 'yellow') return 'pill pill-progress';
  return 'pill pill-todo';
}

// ---------------------------------------------------------------------------------------------
// The app

export class JiraApp {
  /**
   * @param {object} o
   * @param {HTMLElement} o.root       where to render
   * @param {object} o.client          a JiraClient
   * @param {() => Promise<object>} o.signIn  starts sign-in; resolves with the new Status (or never, for a redirect)
   * @param {'extension'|'web'} o.kind
   * @param {object} o.config          the effective config (for messages)
   * @param {string} [o.version]       the module version for the footer
   * @param {() => void} [o.openOptions]
   * @param {import('./snapshot.js').Snapshots} [o.snapshots]  each site's last list (the popup's first paint)
   */
  constructor({ root, client, signIn, kind, config, version, openOptions, onSignOut, snapshots, viewsStore }) {
    /** Called before a sign-out the user asked for (the extension resets its badge's memory). */
    this.onSignOut = onSignOut;
    this.snapshots = snapshots;
    this.showingSnapshot = false; // the rows on screen are a snapshot's, not yet confirmed by Jira
    /** Where saved filters come from ({load, onChange}; the extension: chrome.storage.sync). None: built-in views only. */
    this.viewsStore = viewsStore;
    this.viewsState = emptyState();
    this.viewId = DEFAULT_VIEW;
    this.selectedKey = null; // the list row the keyboard selection is on
    this.me = null; // the signed-in user (myself), fetched when an action needs it
    Object.assign(this, { root, client, signIn, kind, config, openOptions });
    this.storageKind = kind === 'extension' ? 'extension' : 'session';
    this.grantScopes = null; // the scopes the stored grant was asked with, when known
    this.drafts = new Map(); // issue key → unsent comment text
    this.createDraft = null; // a started create form: {project, type, summary, description}
    this.draftSite = null; // the site the drafts belong to
    this.discovering = null;
    this.status = null;
    this.notice = null;
    this.view = 'loading';
    this.signingIn = false;
    this.issues = [];
    this.nextPageToken = null;
    this.firstIssuesMarked = false;
    this.build(version);
  }

  // --- layout --------------------------------------------------------------------------------

  build(version) {
    this.header = h('header', { class: 'topbar' });
    this.noticeEl = h('div', { class: 'notice-slot', role: 'status', 'aria-live': 'polite' });
    this.main = h('main', { id: 'main', class: 'main', tabindex: '-1' });
    this.versionEl = h('span', { id: 'version' }, version ?? '');
    const footerLinks = [];
    if (this.openOptions) {
      footerLinks.push(h('button', { class: 'link', type: 'button', onclick: () => this.openOptions() }, 'Options'));
    }
    this.footer = h('footer', { class: 'footer' }, h('span', {}, 'jira-3lo ', this.versionEl), ...footerLinks);
    this.root.replaceChildren(this.header, this.noticeEl, this.main, this.footer);
    document.addEventListener('keydown', (e) => this.onKeyDown(e));
    this.renderHeader();
    this.setMain(h('div', { class: 'center muted', 'aria-busy': 'true' }, h('span', { class: 'spinner' }), 'Loading…'));
  }

  setVersion(v) {
    this.versionEl.textContent = v;
  }

  renderHeader() {
    const signedIn = this.status?.state === 'signedIn';
    const site = signedIn ? this.status.site : null;
    const actions = [];
    if (signedIn) {
      actions.push(
        h('button', { class: 'icon-btn', type: 'button', id: 'refresh', title: 'Refresh', 'aria-label': 'Refresh', onclick: () => this.showIssues() }, icon('refresh')),
        h('button', { class: 'icon-btn', type: 'button', id: 'new-issue', title: 'Create issue', 'aria-label': 'Create issue', onclick: () => this.showCreate() }, icon('plus')),
        h('details', { class: 'menu' },
          h('summary', { class: 'icon-btn', title: 'Account', 'aria-label': 'Account menu' }, icon('more')),
          h('div', { class: 'menu-items', role: 'menu' },
            h('div', { class: 'menu-label' }, site?.url ? hostOf(site.url) : ''),
            h('button', { type: 'button', role: 'menuitem', id: 'switch-site', onclick: (e) => { closeMenu(e); this.switchSite(); } }, 'Switch site'),
            this.openOptions && h('button', { type: 'button', role: 'menuitem', onclick: (e) => { closeMenu(e); this.openOptions(); } }, 'Options'),
            h('button', { type: 'button', role: 'menuitem', id: 'sign-out', onclick: (e) => { closeMenu(e); this.doSignOut(); } }, 'Sign out'),
          ),
        ),
      );
    }
    this.header.replaceChildren(
      h('div', { class: 'brand' },
        logo(),
        h('div', { class: 'brand-text' },
          h('span', { class: 'brand-title' }, 'Jira'),
          site ? h('span', { class: 'brand-site', id: 'site-name', title: site.url }, site.name) : h('span', { class: 'brand-site' }, 'Atlassian sign-in'),
        ),
      ),
      h('div', { class: 'actions' }, actions),
    );
  }

  /**
   * Replaces the main area. If the user was working inside the app (focus inside it), focus moves to the new
   * view's [data-autofocus] element so keyboard users land in the new view; [data-autofocus="always"] always does.
   */
  setMain(...children) {
    const active = document.activeElement;
    const hadFocus = active && active !== document.body && this.root.contains(active);
    this.main.replaceChildren(...children.flat());
    this.main.scrollTop = 0;
    const target = this.main.querySelector('[data-autofocus]');
    if (target && (hadFocus || target.dataset.autofocus === 'always')) target.focus({ preventScroll: true });
    // Keep focus inside the app while a view is loading, so the finished view can take it over.
    else if (hadFocus && !this.root.contains(document.activeElement)) this.main.focus({ preventScroll: true });
  }

  setNotice(notice) {
    this.notice = notice;
    this.renderNotice();
  }

  clearNotice() {
    if (this.countdown) clearInterval(this.countdown);
    this.countdown = null;
    this.notice = null;
    this.noticeEl.replaceChildren();
  }

  renderNotice() {
    if (this.countdown) clearInterval(this.countdown);
    this.countdown = null;
    const n = this.notice;
    if (!n) {
      this.noticeEl.replaceChildren();
      return;
    }
    const children = [h('p', { class: 'notice-text' }, n.text)];
    // The reconnect action lives in the signed-out view itself (one obvious button), not here.
    if (n.action === 'retry' && n.retry) {
      const btn = h('button', { type: 'button', class: 'btn btn-small', id: 'retry', onclick: () => { this.clearNotice(); n.retry(); } }, 'Try again');
      if (n.waitSecs) {
        let left = n.waitSecs;
        btn.disabled = true;
        btn.textContent = `Try again (${left})`;
        this.countdown = setInterval(() => {
          left -= 1;
          if (left <= 0) {
            clearInterval(this.countdown);
            this.countdown = null;
            btn.disabled = false;
            btn.textContent = 'Try again';
          } else btn.textContent = `Try again (${left})`;
        }, 1000);
      }
      children.push(btn);
    } else if (n.action === 'options' && this.openOptions) {
      children.push(h('button', { type: 'button', class: 'btn btn-small', id: 'open-options', onclick: () => this.openOptions() }, 'Open Options'));
    } else if (n.action === 'rescope') {
      // Signed in, but with other scopes than the configured ones: a new consent is what helps.
      children.push(h('button', { type: 'button', class: 'btn btn-small', id: 'reconnect', onclick: () => this.connect() }, 'Reconnect'));
    }
    if (n.kind !== 'error' || n.dismissible) {
      children.push(h('button', { type: 'button', class: 'icon-btn dismiss', 'aria-label': 'Dismiss', title: 'Dismiss', onclick: () => this.clearNotice() }, '×'));
    }
    this.noticeEl.replaceChildren(h('div', { class: `notice notice-${n.kind}`, id: 'notice', dataset: { code: n.code ?? '' } }, children));
  }

  /** Shows an error from any call; reconnect-class errors switch to the signed-out view with a Reconnect button. */
  showError(err, { during = 'jira', retry } = {}) {
    if (err?.code === 'site_selection_required' && err.details?.sites?.length) {
      this.applyStatus({ state: 'siteSelectionRequired', sites: err.details.sites });
      return;
    }
    const d = describeError(err, { during, config: this.config, hasOptions: !!this.openOptions, scopesChanged: this.scopesChanged() });
    // missing_scope also says needsReconnect, but a reconnect asks for the same scopes: describeError decides.
    const reconnect = d.action === 'reconnect' || (err?.needsReconnect && d.code !== 'missing_scope');
    this.setNotice({ kind: d.code === 'access_denied' ? 'info' : 'error', text: d.text, code: d.code, action: reconnect ? 'reconnect' : d.action, waitSecs: d.waitSecs, retry, dismissible: true });
    if (reconnect) {
      this.status = { state: 'signedOut' };
      this.renderHeader();
      this.renderSignedOut();
    }
  }

  /** True when the configured scopes differ from those the stored grant was asked with (a reconnect applies them). */
  scopesChanged() {
    return this.grantScopes != null && this.grantScopes !== scopesKey(this.config);
  }

  /** Back to the list. An unsent comment or a started create form is kept as a draft, and the notice says so. */
  backToList() {
    let kept = null;
    if (this.view === 'issue') {
      const key = this.main.querySelector('#issue-view')?.dataset.key;
      if (key && this.drafts.has(key)) kept = `Your unsent comment on ${key} is kept: open ${key} again to finish it.`;
    } else if (this.view === 'create' && (this.createDraft?.summary?.trim() || this.createDraft?.description?.trim())) {
      kept = 'Your new issue is kept as a draft: press + (Create issue) to finish it.';
    }
    // A notice belongs to the view it was shown in ("moved to Done", an error of the issue view).
    this.clearNotice();
    this.showIssues({ keepList: true });
    if (kept) this.setNotice({ kind: 'info', code: 'draft_kept', text: kept, dismissible: true });
  }

  /** A call succeeded: an error banner from an earlier failure no longer holds. */
  clearErrorNotice() {
    if (this.notice?.kind === 'error') this.clearNotice();
  }

  onKeyDown(e) {
    const menu = this.root.querySelector('details.menu[open]');
    if (e.key === 'Escape' && menu) {
      menu.open = false;
      menu.querySelector('summary')?.focus();
      return;
    }
    // `/` goes to the search box from anywhere but a text field.
    if (e.key === '/' && !e.target?.closest?.('input, textarea, select') && this.view === 'issues') {
      const box = this.main.querySelector('#search');
      if (box) {
        e.preventDefault();
        box.focus();
        return;
      }
    }
    // The account menu: ArrowDown/ArrowUp open it from its button and move between its items.
    const menuRoot = e.target?.closest?.('details.menu');
    if ((e.key === 'ArrowDown' || e.key === 'ArrowUp') && menuRoot) {
      e.preventDefault();
      menuRoot.open = true;
      const items = [...menuRoot.querySelectorAll('[role="menuitem"]')];
      const at = items.indexOf(e.target);
      const next = at < 0 ? (e.key === 'ArrowDown' ? 0 : items.length - 1) : (at + (e.key === 'ArrowDown' ? 1 : items.length - 1)) % items.length;
      items[next]?.focus();
      return;
    }
    const target = e.target instanceof Element ? e.target : null;
    const action = keyAction({
      key: e.key, ctrlKey: e.ctrlKey, metaKey: e.metaKey, altKey: e.altKey, view: this.view, overlay: !!this.helpEl,
      inField: !!target?.closest('input, textarea, select, [contenteditable=""], [contenteditable="true"]'),
      onControl: !!target?.closest('button, a, summary'),
    });
    if (!action) return;
    e.preventDefault();
    if (action === 'closeHelp') this.toggleHelp(false);
    else if (action === 'help') this.toggleHelp(true);
    else if (action === 'back') this.backToList();
    else if (action === 'create') this.showCreate();
    else if (action === 'search') this.main.querySelector('#search')?.focus();
    else if (action === 'next' || action === 'prev') this.moveListSelection(action);
    else if (action === 'open') {
      const key = this.selectedKey ?? this.issues[0]?.key;
      if (key) this.showIssue(key);
    }
  }

  /** j/k and the arrows: the selection (and the focus) moves to the next or previous row. */
  moveListSelection(action) {
    const rows = [...this.main.querySelectorAll('#issues .issue-row')];
    const focused = rows.indexOf(/** @type {any} */ (document.activeElement));
    const current = focused >= 0 ? focused : rows.findIndex((r) => r.dataset.key === this.selectedKey);
    const next = moveSelection(current, rows.length, action);
    if (next < 0) return;
    this.selectRow(rows[next]);
    rows[next].focus();
    rows[next].scrollIntoView({ block: 'nearest' });
  }

  selectRow(row) {
    this.main.querySelectorAll('#issues .issue-row.selected').forEach((r) => r.classList.remove('selected'));
    row.classList.add('selected');
    this.selectedKey = row.dataset.key;
  }

  /** The ? overlay listing the shortcuts; Escape, ? or Close hide it and give the focus back. */
  toggleHelp(show) {
    if (!show) {
      const back = this.helpReturn;
      this.helpEl?.remove();
      this.helpEl = null;
      if (back?.isConnected) back.focus();
      return;
    }
    if (this.helpEl) return;
    this.helpReturn = document.activeElement;
    const close = h('button', { type: 'button', class: 'btn btn-small', id: 'shortcuts-close', onclick: () => this.toggleHelp(false) }, 'Close');
    this.helpEl = h('div', { class: 'overlay', id: 'shortcuts', role: 'dialog', 'aria-modal': 'true', 'aria-labelledby': 'shortcuts-title',
      onclick: (e) => { if (e.target === e.currentTarget) this.toggleHelp(false); } },
      h('div', { class: 'overlay-card' },
        h('h2', { id: 'shortcuts-title' }, 'Keyboard shortcuts'),
        h('dl', { class: 'shortcuts' },
          SHORTCUTS.map((s) => [h('dt', {}, s.keys.map((k, i) => [i ? ' or ' : '', h('kbd', {}, k)])), h('dd', {}, s.text)]),
        ),
        h('div', { class: 'form-row' }, h('span', { class: 'hint muted' }, 'Not while typing in a field'), close),
      ),
    );
    this.root.append(this.helpEl);
    close.focus();
  }

  // --- status ---------------------------------------------------------------------------------

  /** Reads the status (no network) and renders; re-renders on every status change from any context. */
  async start({ initialError } = {}) {
    // An event only says "something changed": the status is read again (storage only, no network), because
    // events can arrive after a newer outcome this context already saw (e.g. a "signed in" written just
    // before a refresh was refused and the tokens were cleared).
    this.client.onStatusChange(() => this.reloadStatus());
    onGrantScopesChanged(this.storageKind, (value) => {
      this.grantScopes = value;
      if (this.notice?.action === 'rescope' && !this.scopesChanged()) this.clearNotice();
    });
    this.viewsStore?.onChange?.((state) => this.applyViewsState(state));
    let status;
    try {
      let views;
      [status, this.grantScopes, views] = await Promise.all([
        this.client.status(),
        loadGrantScopes(this.storageKind).catch(() => null),
        this.viewsStore ? this.viewsStore.load().catch(() => null) : null,
      ]);
      if (views) this.viewsState = views;
    } catch (err) {
      this.showError(err);
      status = { state: 'signedOut' };
    }
    performance.mark('jira3lo:status-read');
    if (initialError) this.showError(initialError, { during: 'signIn' });
    this.applyStatus(status);
  }

  /** Saved filters changed (the options page, another browser): the switcher follows; a deleted view ends. */
  applyViewsState(state) {
    this.viewsState = state;
    if (viewById(state, this.viewId).id !== this.viewId) {
      this.viewId = DEFAULT_VIEW;
      if (this.view === 'issues' && !this.search) {
        this.issues = [];
        this.showIssues();
        return;
      }
    }
    // The switcher is replaced in place: a list still loading (or being read) is left alone.
    const select = this.view === 'issues' ? this.main.querySelector('#view') : null;
    if (select) {
      const focused = document.activeElement === select;
      const next = this.viewSwitch();
      select.replaceWith(next);
      if (focused) next.focus({ preventScroll: true });
    }
  }

  async reloadStatus() {
    const seq = (this.statusSeq = (this.statusSeq ?? 0) + 1);
    let status;
    try {
      status = await this.client.status();
    } catch {
      return; // a storage hiccup: keep what is on screen
    }
    if (seq === this.statusSeq) this.applyStatus(status, { fromEvent: true });
  }

  applyStatus(status, { fromEvent = false } = {}) {
    if (!status?.state) return;
    const prev = this.status;
    // While our own sign-in runs, intermediate "signed out" events (pending state written) change nothing.
    if (this.signingIn && status.state === 'signedOut') return;
    // Tokens stored but no site list: a sign-in elsewhere is still discovering the sites, or its discovery
    // failed. Nothing may ever announce the sites, so discover them here (our own sign-in brings its own).
    if (status.state === 'siteSelectionRequired' && !status.sites?.length) {
      if (this.signingIn) return;
      this.status = status;
      this.renderHeader();
      this.discoverSites();
      return;
    }
    this.status = status;
    const sameSignedIn = prev?.state === 'signedIn' && status.state === 'signedIn' && prev.site?.id === status.site?.id;
    // The first paint showed this site's snapshot: keep its rows and fetch them again (updated in place).
    const revalidate = sameSignedIn && this.revalidatePending && this.view === 'issues';
    this.revalidatePending = false;
    if (sameSignedIn && !revalidate) {
      // A refresh somewhere else: nothing visible changed. (Site name may have been renamed.)
      if (prev.site?.name !== status.site?.name) this.renderHeader();
      return;
    }
    if (fromEvent && prev?.state === status.state && status.state === 'signedOut') return;
    this.renderHeader();
    if (status.state === 'signedOut') this.renderSignedOut();
    else if (status.state === 'siteSelectionRequired') this.renderSitePicker(status.sites ?? []);
    else if (status.state === 'signedIn') {
      if (this.notice?.action === 'reconnect') this.clearNotice();
      if (!revalidate) {
        this.issues = []; // another site (or a new sign-in): the old list does not apply...
        this.nextPageToken = null;
        this.paintSnapshot(this.snapshots?.forSite(status.site?.id)); // ...but this site's last one does, until Jira answers
      }
      this.snapshots?.select(status.site?.id ?? null);
      this.me = null;
      if (this.draftSite !== status.site?.id) {
        this.drafts.clear(); // drafts name issues of the previous site
        this.createDraft = null;
        this.draftSite = status.site?.id ?? null;
      }
      this.showIssues();
      if (!this.notice && this.scopesChanged()) {
        this.setNotice({ kind: 'info', code: 'scopes_changed', text: 'The requested scopes changed since you connected. Reconnect so Atlassian can grant them.', action: 'rescope', dismissible: true });
      }
    }
  }

  // --- site discovery ----------------------------------------------------------------------------

  /** Finds the Jira sites of a stored sign-in, then shows the picker or the issues (or why not, with Try again). */
  discoverSites() {
    this.discovering ??= this.runDiscovery().finally(() => {
      this.discovering = null;
    });
    return this.discovering;
  }

  async runDiscovery() {
    this.view = 'discovering';
    this.setMain(h('div', { class: 'center muted', id: 'discovering', 'aria-busy': 'true' }, h('span', { class: 'spinner' }), 'Finding your Jira sites…'));
    let status;
    try {
      const sites = await this.client.sites();
      status = await this.client.status();
      if (status.state === 'siteSelectionRequired' && !status.sites?.length) {
        if (!sites.length) throw Object.assign(new Error('This sign-in reaches no Jira site.'), { code: 'no_jira_site', details: {} });
        status = { state: 'siteSelectionRequired', sites };
      }
    } catch (err) {
      if (this.view !== 'discovering') return; // signed out or signed in again meanwhile
      this.showError(err);
      if (this.view === 'discovering') this.renderDiscoveryFailed();
      return;
    }
    // A status event may have rendered the picker or the issues already.
    if (this.view === 'discovering') this.applyStatus(status);
  }

  renderDiscoveryFailed() {
    this.view = 'sitesFailed';
    this.setMain(
      h('section', { class: 'hero', id: 'sites-failed', 'aria-labelledby': 'sites-failed-title' },
        h('h1', { id: 'sites-failed-title' }, 'Your Jira sites did not load'),
        h('p', { class: 'muted' }, 'You are signed in, but the list of Jira sites this connection reaches could not be fetched.'),
        h('button', { type: 'button', class: 'btn btn-primary btn-block', id: 'retry-sites', 'data-autofocus': 'always', onclick: () => { this.clearNotice(); this.discoverSites(); } }, 'Try again'),
        h('button', { type: 'button', class: 'btn btn-quiet btn-block', id: 'sign-out-sites', onclick: () => this.doSignOut() }, 'Sign out'),
      ),
    );
  }

  // --- signed out / connecting -------------------------------------------------------------------

  renderSignedOut() {
    this.view = 'signedOut';
    const reconnect = this.notice?.action === 'reconnect';
    const btn = h('button', { type: 'button', class: 'btn btn-primary btn-block', id: reconnect ? 'reconnect' : 'connect', 'data-autofocus': 'always', onclick: () => this.connect() },
      reconnect ? 'Reconnect to Jira' : 'Connect to Jira');
    this.setMain(
      h('section', { class: 'hero', 'aria-labelledby': 'hero-title' },
        h('div', { class: 'hero-art' }, logo()),
        h('h1', { id: 'hero-title' }, reconnect ? 'Reconnect to Jira' : 'Your Jira, one click away'),
        h('p', { class: 'muted' },
          reconnect
            ? 'Sign in with Atlassian again to see your issues.'
            : 'Connect your Atlassian account to see the issues assigned to you, comment, move them along and create new ones.'),
        btn,
        h('p', { class: 'fineprint' }, 'You choose the Jira site and approve access on Atlassian\'s own page. This app never sees your password.'),
      ),
    );
  }

  async connect() {
    if (this.signingIn) return;
    this.clearNotice();
    this.signingIn = true;
    this.view = 'connecting';
    this.setMain(
      h('section', { class: 'hero', 'aria-busy': 'true', id: 'connecting' },
        h('div', { class: 'spinner spinner-large', role: 'progressbar', 'aria-label': 'Signing in' }),
        h('h1', { 'data-autofocus': true, tabindex: '-1' }, 'Waiting for Atlassian…'),
        h('p', { class: 'muted' },
          this.kind === 'extension'
            ? 'Approve access in the Atlassian window. If this popup closes meanwhile, click the Jira icon in the toolbar again when you are done.'
            : 'Taking you to Atlassian to approve access…'),
      ),
    );
    let status;
    try {
      status = await this.signIn();
    } catch (err) {
      this.signingIn = false;
      // A failed or cancelled sign-in leaves an earlier session as it was (e.g. a reconnect for new scopes).
      const current = await this.client.status().catch(() => ({ state: 'signedOut' }));
      this.showError(err, { during: 'signIn', retry: () => this.connect() });
      if (this.view !== 'connecting') return; // showError switched to the signed-out view already
      this.status = null;
      this.applyStatus(current);
      return;
    }
    this.signingIn = false;
    this.grantScopes = await loadGrantScopes(this.storageKind).catch(() => this.grantScopes);
    // Render the outcome even when it is the site we had (a reconnect), unless an event already did.
    if (this.view === 'connecting') this.status = null;
    if (status) this.applyStatus(status);
    else this.reloadStatus();
  }

  // --- sites ---------------------------------------------------------------------------------

  renderSitePicker(sites) {
    this.view = 'sites';
    const current = this.status?.state === 'signedIn' ? this.status.site?.id : null;
    this.setMain(
      h('section', { class: 'sites', 'aria-labelledby': 'sites-title' },
        h('h1', { id: 'sites-title' }, 'Choose a Jira site'),
        h('p', { class: 'muted' }, 'Your Atlassian account can reach several Jira sites. Pick the one to work with; you can switch later.'),
        h('ul', { class: 'site-list', id: 'site-picker' },
          sites.map((s, i) =>
            h('li', {},
              h('button', { type: 'button', class: `site-row${s.id === current ? ' current' : ''}`, dataset: { siteId: s.id }, 'data-autofocus': i === 0 || undefined, onclick: () => this.pickSite(s) },
                siteAvatar(s),
                h('span', { class: 'site-text' }, h('span', { class: 'site-name' }, s.name), h('span', { class: 'site-url muted' }, hostOf(s.url))),
              ),
            ),
          ),
        ),
      ),
    );
  }

  async pickSite(site) {
    this.clearNotice();
    try {
      const status = await this.client.chooseSite(site.id);
      this.applyStatus(status);
    } catch (err) {
      this.showError(err);
    }
  }

  async switchSite() {
    this.clearNotice();
    try {
      const sites = await this.client.sites();
      this.renderSitePicker(sites);
    } catch (err) {
      this.showError(err, { retry: () => this.switchSite() });
    }
  }

  async doSignOut() {
    this.clearNotice();
    try {
      await this.onSignOut?.();
      await this.client.signOut();
      await clearGrantScopes(this.storageKind).catch(() => {});
    } catch (err) {
      this.showError(err);
      return;
    }
    this.issues = [];
    this.me = null;
    this.drafts.clear();
    this.createDraft = null;
    this.status = { state: 'signedOut' };
    this.renderHeader();
    this.renderSignedOut();
  }

  // --- issue list ------------------------------------------------------------------------------

  async showIssues({ keepList = false } = {}) {
    this.view = 'issues';
    if (keepList && this.issues.length) {
      this.renderIssueList();
      // An action in the popup (a transition, a new issue) changed what the list shows: fetch it again.
      if (!this.listStale) return;
    }
    this.listStale = false;
    const seq = (this.loadSeq = (this.loadSeq ?? 0) + 1);
    const jql = this.listJql();
    if (!this.issues.length) {
      const searchHadFocus = document.activeElement?.id === 'search';
      this.setMain(this.listSkeleton());
      if (searchHadFocus) this.main.querySelector('#search')?.focus({ preventScroll: true });
    }
    else this.markUpdating(seq);
    try {
      // Rows outside "Assigned to me" offer "assign to me": that needs to know who I am (once).
      const needMe = !this.me && (this.search || this.viewId !== DEFAULT_VIEW);
      const [page] = await Promise.all([
        this.client.search({ jql, fields: LIST_FIELDS, maxResults: PAGE_SIZE }),
        needMe ? this.ensureMe().catch(() => null) : null,
      ]);
      if (seq !== this.loadSeq || this.view !== 'issues') return;
      this.issues = page.issues ?? [];
      this.nextPageToken = page.isLast === false || page.nextPageToken ? page.nextPageToken ?? null : null;
      this.showingSnapshot = false;
      this.clearErrorNotice();
      this.renderInPlace();
      if (!this.firstIssuesMarked) {
        this.firstIssuesMarked = true;
        performance.mark('jira3lo:first-issues');
      }
      if (this.status?.state === 'signedIn') {
        this.snapshots?.save({ site: this.status.site, jql, query: this.search?.query ?? null, issues: this.issues, more: !!this.nextPageToken });
      }
    } catch (err) {
      if (seq !== this.loadSeq) return;
      // A failed refresh keeps the list already on screen; the banner says why it is not fresh.
      if (this.view === 'issues') this.renderIssueList({ failed: true });
      this.showError(err, { retry: () => this.showIssues() });
    }
  }

  async loadMore(button) {
    if (!this.nextPageToken) return;
    button.disabled = true;
    button.textContent = 'Loading…';
    try {
      const page = await this.client.search({ jql: this.listJql(), fields: LIST_FIELDS, maxResults: PAGE_SIZE, nextPageToken: this.nextPageToken });
      this.issues = [...this.issues, ...(page.issues ?? [])];
      this.nextPageToken = page.nextPageToken ?? null;
      const focusIndex = this.issues.length - (page.issues?.length ?? 0);
      this.renderIssueList();
      this.main.querySelectorAll('.issue-row')[focusIndex]?.focus();
    } catch (err) {
      button.disabled = false;
      button.textContent = 'Load more';
      this.showError(err, { retry: () => this.loadMore(button) });
    }
  }

  /** The view the list shows when there is no search. */
  currentView() {
    return viewById(this.viewsState, this.viewId);
  }

  /** The list's JQL: the search's, or the current view's. */
  listJql() {
    return this.search?.jql ?? this.currentView().jql;
  }

  listTitle() {
    return this.search ? `Results for “${this.search.query}”` : this.currentView().name;
  }

  /** The signed-in user, asked once (assign to me, create assigned to me). */
  async ensureMe() {
    this.me ??= await this.client.myself();
    return this.me;
  }

  /** The view switcher: the built-in views and the saved filters (editable in Options). */
  viewSwitch() {
    const select = h('select', { id: 'view', class: 'view-select', 'aria-label': 'View' },
      allViews(this.viewsState).map((v) => h('option', { value: v.id }, v.name)));
    select.value = this.currentView().id;
    select.addEventListener('change', () => this.selectView(select.value));
    return select;
  }

  selectView(id) {
    this.viewId = viewById(this.viewsState, id).id;
    this.search = null;
    this.issues = [];
    this.nextPageToken = null;
    this.selectedKey = null;
    this.showIssues();
    this.main.querySelector('#view')?.focus({ preventScroll: true });
  }

  /** The list heading: the view switcher (and the view's name for headings navigation), or the search's title. */
  listHead(count, { failed = false } = {}) {
    const title = this.search
      ? h('h1', { id: 'list-title' }, this.listTitle())
      : [h('h1', { id: 'list-title', class: 'sr-only' }, this.listTitle()), this.viewSwitch()];
    return h('div', { class: 'list-head' },
      title,
      count ? h('span', { class: 'count', id: 'issue-count' }, this.nextPageToken || (this.showingSnapshot && this.snapshotMore) ? `${count}+` : String(count)) : null,
      // A refresh that failed leaves the last list on screen: say it is not current (the banner says why).
      failed && count ? h('span', { class: 'stale muted', id: 'list-stale' }, 'Not updated') : null,
    );
  }

  /** The search box: a key opens the issue, text lists what Jira finds, an empty box goes back to my issues. */
  searchBox() {
    const input = h('input', { type: 'search', id: 'search', placeholder: 'Search, or jump to a key (e.g. PLAT-12)', 'aria-label': 'Search issues or jump to a key', autocomplete: 'off', spellcheck: 'false' });
    input.value = this.search?.query ?? '';
    input.addEventListener('keydown', (e) => {
      if (e.key === 'Escape' && (input.value || this.search)) {
        e.preventDefault();
        e.stopPropagation();
        input.value = '';
        this.runSearch('');
      }
    });
    return h('form', { class: 'search', role: 'search', id: 'search-form', onsubmit: (e) => { e.preventDefault(); this.runSearch(input.value); } }, input);
  }

  runSearch(text) {
    const action = searchAction(text);
    if (action.kind === 'key') {
      this.showIssue(action.key);
      return;
    }
    this.search = action.kind === 'text' ? { query: action.query, jql: action.jql } : null;
    this.issues = [];
    this.nextPageToken = null;
    this.showIssues();
  }

  /** The list on screen is being fetched again: say so visibly once it takes a moment (a slow refresh). */
  markUpdating(seq) {
    const head = this.main.querySelector('.list-head');
    head?.setAttribute('aria-busy', 'true');
    setTimeout(() => {
      if (seq !== this.loadSeq || this.view !== 'issues' || !head?.isConnected || head.querySelector('#updating')) return;
      head.append(h('span', { class: 'updating muted', id: 'updating', role: 'status' }, h('span', { class: 'spinner' }), 'Updating…'));
    }, 300);
  }

  /**
   * Paints a site's snapshot (www/snapshot.js: its last list painted from fresh data) while the fresh list
   * loads: on the popup's first paint, before the module is ready, and on a site switch. Only a snapshot of
   * the list this view would fetch (same JQL) is painted. Returns whether it was.
   * @param {import('./snapshot.js').SiteSnapshot | null | undefined} snap
   * @param {{ first?: boolean }} [o]  first: the popup's first paint (the search and the site come from the snapshot)
   */
  paintSnapshot(snap, { first = false } = {}) {
    if (!snap?.rows?.length) return false;
    if (first) this.search = snap.query ? { query: snap.query, jql: snap.jql } : null;
    if (snap.jql !== this.listJql()) {
      if (first) this.search = null;
      return false;
    }
    if (first) {
      this.status = { state: 'signedIn', site: snap.site };
      this.revalidatePending = true; // start() keeps these rows and fetches them again
      this.renderHeader();
    }
    this.view = 'issues';
    this.issues = snap.rows;
    this.nextPageToken = null;
    this.showingSnapshot = true;
    this.snapshotMore = !!snap.more;
    this.renderIssueList();
    this.markUpdating((this.loadSeq = (this.loadSeq ?? 0) + 1));
    return true;
  }

  /** Renders the fresh list over the one on screen keeping the focused row and the scroll position. */
  renderInPlace() {
    const focusedKey = this.main.contains(document.activeElement) ? document.activeElement?.closest?.('.issue-row')?.dataset.key : null;
    const scroll = this.main.scrollTop;
    this.renderIssueList();
    this.main.scrollTop = scroll;
    const row = focusedKey && [...this.main.querySelectorAll('.issue-row')].find((r) => r.dataset.key === focusedKey);
    if (row) row.focus({ preventScroll: true });
  }

  listSkeleton() {
    return h('section', { class: 'list', 'aria-busy': 'true', 'aria-label': 'Loading your issues' },
      this.searchBox(),
      this.listHead(0),
      h('ul', { class: 'issue-list skeleton' }, [0, 1, 2, 3, 4].map(() => h('li', {}, h('div', { class: 'issue-row' }, h('span', { class: 'bar w30' }), h('span', { class: 'bar w90' }))))),
    );
  }

  renderIssueList({ failed = false } = {}) {
    const count = this.issues.length;
    const view = this.currentView();
    const list = count
      ? h('ul', { class: 'issue-list', id: 'issues' },
          this.issues.map((issue, i) => h('li', { class: 'issue-item' }, this.issueRow(issue, i === 0))),
        )
      : failed
        ? h('p', { class: 'empty muted' }, 'Your issues could not be loaded.')
        : this.search
          ? h('p', { class: 'empty muted', id: 'search-empty' }, 'No issue matches this search.')
          : view.id === DEFAULT_VIEW
            ? h('div', { class: 'empty', id: 'issues-empty' },
              h('p', { class: 'empty-title' }, 'Nothing assigned to you is open. 🎉'),
              h('button', { type: 'button', class: 'btn', 'data-autofocus': true, onclick: () => this.showCreate() }, 'Create an issue'),
            )
            : h('p', { class: 'empty muted', id: 'issues-empty' }, `No issues in “${view.name}”.`);
    // Typing on (or switching views) while the results come in: the box or the switcher keeps the focus.
    const keep = ['search', 'view'].includes(document.activeElement?.id ?? '') ? document.activeElement.id : null;
    this.setMain(
      h('section', { class: 'list', 'aria-labelledby': 'list-title' },
        this.searchBox(),
        this.listHead(count, { failed }),
        list,
        this.nextPageToken ? h('button', { type: 'button', class: 'btn btn-block btn-quiet', id: 'load-more', onclick: (e) => this.loadMore(e.currentTarget) }, 'Load more') : null,
      ),
    );
    if (keep) this.main.querySelector(`#${keep}`)?.focus({ preventScroll: true });
    const selected = this.selectedKey && this.main.querySelector(`#issues .issue-row[data-key="${CSS.escape(this.selectedKey)}"]`);
    if (selected) selected.classList.add('selected');
  }

  /** Whether `user` is the signed-in user (unknown yet: only "Assigned to me" rows are known to be mine). */
  isMe(user) {
    if (this.me) return !!user && user.accountId === this.me.accountId;
    return !this.search && this.viewId === DEFAULT_VIEW;
  }

  /** A row: the issue (a button that opens it) and its actions (assign to me, open in Jira). */
  issueRow(issue, autofocus) {
    const f = issue.fields ?? {};
    const url = this.browseUrl(issue.key);
    return [
      h('button', { type: 'button', class: 'issue-row', dataset: { key: issue.key }, 'data-autofocus': autofocus || undefined,
        onclick: (e) => { this.selectRow(e.currentTarget); this.showIssue(issue.key); } },
        h('span', { class: 'issue-meta' },
          h('span', { class: 'issue-key' }, issue.key),
          f.issuetype?.name ? h('span', { class: 'issue-type muted' }, f.issuetype.name) : null,
          f.updated ? h('span', { class: 'issue-updated muted' }, relativeTime(f.updated)) : null,
          'assignee' in f ? h('span', { class: 'issue-assignee muted', title: 'Assignee' }, f.assignee ? (f.assignee.displayName ?? 'Someone') : 'Unassigned') : null,
        ),
        h('span', { class: 'issue-summary' }, f.summary ?? '(no summary)'),
        f.status ? h('span', { class: statusClass(f.status) }, f.status.name) : null,
      ),
      h('span', { class: 'row-actions' },
        this.isMe(f.assignee) ? null
          : h('button', { type: 'button', class: 'icon-btn row-action', dataset: { action: 'assign-me' }, title: 'Assign to me', 'aria-label': `Assign ${issue.key} to me`,
            onclick: (e) => this.assignToMe(issue.key, e.currentTarget) }, icon('assignMe')),
        url ? h('a', { class: 'icon-btn row-action', href: url, target: '_blank', rel: 'noopener', title: 'Open in Jira', 'aria-label': `Open ${issue.key} in Jira` }, icon('external')) : null,
      ),
    ];
  }

  /** The issue's page on the Jira site, or null before a site is known. */
  browseUrl(key) {
    const site = this.status?.state === 'signedIn' ? this.status.site : null;
    return site?.url ? `${site.url}/browse/${encodeURIComponent(key)}` : null;
  }

  /** "Assign to me" from a list row: the row shows it at once, then the list is fetched again. */
  async assignToMe(key, button) {
    button.disabled = true;
    try {
      const me = await this.ensureMe();
      await this.client.assignIssue(key, me.accountId);
      this.afterAssign(key, me);
      this.setNotice({ kind: 'success', code: 'assigned', text: `${key} is assigned to you.`, dismissible: true });
      if (this.view === 'issues') {
        this.showIssues({ keepList: true }); // renders the updated row now, then fetches the list again
        this.main.querySelector(`#issues .issue-row[data-key="${CSS.escape(key)}"]`)?.focus({ preventScroll: true });
      }
    } catch (err) {
      button.disabled = false;
      this.showError(err);
    }
  }

  /** The list knows an issue's new assignee (and fetches again on the way back: the view may differ now). */
  afterAssign(key, user) {
    const row = this.issues.find((i) => i.key === key);
    if (row?.fields) row.fields.assignee = user;
    this.listStale = true;
  }

  // --- issue view --------------------------------------------------------------------------------

  async showIssue(key, { notice } = {}) {
    this.view = 'issue';
    this.clearNotice();
    if (notice) this.setNotice(notice);
    const seq = (this.issueSeq = (this.issueSeq ?? 0) + 1);
    this.setMain(
      h('section', { class: 'issue', 'aria-busy': 'true' },
        this.backButton(),
        h('div', { class: 'center muted' }, h('span', { class: 'spinner' }), `Loading ${key}…`),
      ),
    );
    try {
      const [issue, transitions, comments] = await Promise.all([
        this.client.getIssue(key),
        this.client.transitions(key).then((r) => itemsOf(r, 'transitions')),
        this.client.comments(key).then((r) => itemsOf(r, 'comments')),
      ]);
      if (seq !== this.issueSeq || this.view !== 'issue') return;
      if (!notice) this.clearErrorNotice();
      this.renderIssue(issue, transitions, comments);
    } catch (err) {
      if (seq !== this.issueSeq) return;
      // No spinner left turning under the banner: the view says the issue is not here.
      if (this.view === 'issue') {
        this.setMain(h('section', { class: 'issue', id: 'issue-failed', dataset: { key } },
          this.backButton(),
          h('p', { class: 'empty muted' }, `${key} could not be loaded.`)));
      }
      this.showError(err, { retry: () => this.showIssue(key) });
    }
  }

  backButton() {
    return h('button', { type: 'button', class: 'back', id: 'back', onclick: () => this.backToList() }, icon('back'), 'My issues');
  }

  renderIssue(issue, transitions, comments) {
    const f = issue.fields ?? {};
    const url = this.browseUrl(issue.key);
    const description = adfToText(f.description);
    const commentBox = h('textarea', { id: 'comment-text', rows: 3, placeholder: 'Add a comment…', 'aria-label': 'Comment', required: true });
    // A comment left unsent (Escape, back) is kept per issue until it is sent.
    commentBox.value = this.drafts.get(issue.key) ?? '';
    commentBox.addEventListener('input', () => {
      if (commentBox.value.trim()) this.drafts.set(issue.key, commentBox.value);
      else this.drafts.delete(issue.key);
    });
    const commentForm = h('form', { class: 'comment-form', id: 'comment-form', onsubmit: (e) => { e.preventDefault(); this.addComment(issue.key, commentBox, e.currentTarget); } },
      commentBox,
      h('div', { class: 'form-row' },
        h('span', { class: 'hint muted' }, 'Ctrl+Enter to send'),
        h('button', { type: 'submit', class: 'btn btn-primary btn-small' }, 'Comment'),
      ),
    );
    submitOnCtrlEnter(commentBox, commentForm);
    const title = h('div', { class: 'title-row', id: 'summary-slot' },
      h('h1', { class: 'issue-title', id: 'issue-summary', tabindex: '-1', 'data-autofocus': true }, f.summary ?? '(no summary)'),
      h('button', { type: 'button', class: 'icon-btn', id: 'edit-summary', title: 'Edit summary', 'aria-label': 'Edit summary',
        onclick: () => this.editSummary(issue, title) }, icon('edit')),
    );
    this.setMain(
      h('article', { class: 'issue', id: 'issue-view', dataset: { key: issue.key } },
        this.backButton(),
        h('div', { class: 'issue-head' },
          h('span', { class: 'issue-meta' },
            h('span', { class: 'issue-key' }, issue.key),
            f.issuetype?.name ? h('span', { class: 'muted' }, f.issuetype.name) : null,
            h('span', { class: 'issue-tools' },
              h('button', { type: 'button', class: 'link small', id: 'copy-key', onclick: () => this.copy(issue.key, `Copied ${issue.key}.`) }, 'Copy key'),
              url ? h('button', { type: 'button', class: 'link small', id: 'copy-link', onclick: () => this.copy(url, `Copied the link to ${issue.key}.`) }, 'Copy link') : null,
              url ? h('a', { class: 'open-link', id: 'open-in-jira', href: url, target: '_blank', rel: 'noopener', title: 'Open in Jira' }, icon('external'), h('span', { class: 'sr-only' }, 'Open in Jira')) : null,
            ),
          ),
          title,
        ),
        h('div', { class: 'status-row' },
          f.status ? h('span', { class: statusClass(f.status), id: 'issue-status' }, f.status.name) : null,
          transitions.length
            ? h('div', { class: 'transitions', role: 'group', 'aria-label': 'Move issue' },
                h('span', { class: 'muted small' }, 'Move to'),
                transitions.map((t) =>
                  h('button', { type: 'button', class: 'btn btn-small chip', dataset: { transitionId: t.id }, onclick: (e) => this.doTransition(issue.key, t, e.currentTarget) }, t.to?.name ?? t.name),
                ),
              )
            : null,
        ),
        this.issueFields(issue),
        h('section', { class: 'block' },
          h('h2', {}, 'Description'),
          description ? h('p', { class: 'description', id: 'issue-description' }, description) : h('p', { class: 'muted', id: 'issue-description' }, 'No description.'),
        ),
        h('section', { class: 'block' },
          h('h2', {}, 'Comments ', h('span', { class: 'count' }, String(comments.length))),
          comments.length
            ? h('ol', { class: 'comments', id: 'comments' }, comments.map((c) => this.commentItem(c)))
            : h('p', { class: 'muted', id: 'comments' }, 'No comments yet.'),
          commentForm,
        ),
      ),
    );
  }

  /** Assignee (assign to me, change), reporter, priority, labels (edit), created, updated, due date. */
  issueFields(issue) {
    const f = issue.fields ?? {};
    const name = (u) => u?.displayName ?? (u ? 'Someone' : null);
    const when = (iso) => (iso ? h('time', { datetime: iso, title: new Date(iso).toLocaleString() }, relativeTime(iso)) : 'Unknown');
    const assignee = h('dd', { id: 'issue-assignee' },
      h('span', { class: 'field-value' }, name(f.assignee) ?? 'Unassigned'),
      this.me && f.assignee?.accountId === this.me.accountId ? null
        : h('button', { type: 'button', class: 'link small', id: 'assign-me', onclick: (e) => this.assignFromIssue(issue.key, 'me', e.currentTarget) }, 'Assign to me'),
      h('button', { type: 'button', class: 'link small', id: 'change-assignee', onclick: (e) => this.pickAssignee(issue, e.currentTarget.parentElement) }, 'Change'),
    );
    const labels = f.labels ?? [];
    const labelsDd = h('dd', { id: 'issue-labels' },
      labels.length ? h('span', { class: 'labels' }, labels.map((l) => h('span', { class: 'label' }, l))) : h('span', { class: 'muted' }, 'None'),
      h('button', { type: 'button', class: 'link small', id: 'edit-labels', onclick: () => this.editLabels(issue, labelsDd) }, 'Edit'),
    );
    const due = f.duedate ? new Date(`${f.duedate}T00:00:00`) : null;
    return h('section', { class: 'block' },
      h('h2', {}, 'Details'),
      h('dl', { class: 'fields', id: 'issue-fields' },
        h('dt', {}, 'Assignee'), assignee,
        h('dt', {}, 'Reporter'), h('dd', { id: 'issue-reporter' }, name(f.reporter) ?? 'Unknown'),
        h('dt', {}, 'Priority'), h('dd', { id: 'issue-priority' }, f.priority?.name ?? 'None'),
        h('dt', {}, 'Labels'), labelsDd,
        h('dt', {}, 'Created'), h('dd', { id: 'issue-created' }, when(f.created)),
        h('dt', {}, 'Updated'), h('dd', { id: 'issue-updated' }, when(f.updated)),
        h('dt', {}, 'Due'), h('dd', { id: 'issue-due' },
          due && !Number.isNaN(due.getTime()) ? h('time', { datetime: f.duedate }, due.toLocaleDateString()) : h('span', { class: 'muted' }, 'None')),
      ),
    );
  }

  /** Assigns from the issue view (`'me'`, an account id, or null to unassign), then shows the issue again. */
  async assignFromIssue(key, who, control) {
    if (control) control.disabled = true;
    try {
      let user = null;
      if (who === 'me') user = await this.ensureMe();
      else if (who) user = this.assignable?.find((u) => u.accountId === who) ?? { accountId: who };
      await this.client.assignIssue(key, user ? user.accountId : null);
      this.afterAssign(key, user);
      const text = user ? `${key} is assigned to ${user === this.me ? 'you' : (user.displayName ?? 'them')}.` : `${key} is unassigned.`;
      await this.showIssue(key, { notice: { kind: 'success', code: 'assigned', text, dismissible: true } });
    } catch (err) {
      if (control?.isConnected) control.disabled = false;
      this.showError(err);
    }
  }

  /** "Change": a picker of the users Jira lets be assigned this issue (and Unassigned). */
  async pickAssignee(issue, dd) {
    const select = h('select', { id: 'assignee-picker', 'aria-label': `Assignee of ${issue.key}`, disabled: true }, h('option', { value: '' }, 'Loading people…'));
    const cancel = h('button', { type: 'button', class: 'link small', id: 'assignee-cancel' }, 'Cancel');
    const before = [...dd.childNodes];
    const restore = () => { dd.replaceChildren(...before); dd.querySelector('#change-assignee')?.focus(); };
    cancel.addEventListener('click', restore);
    select.addEventListener('keydown', (e) => {
      if (e.key === 'Escape') {
        e.preventDefault();
        e.stopPropagation(); // closes the picker, not the issue
        restore();
      }
    });
    dd.replaceChildren(select, cancel);
    select.focus();
    try {
      this.assignable = await this.client.assignableUsers(issue.key);
    } catch (err) {
      restore();
      this.showError(err);
      return;
    }
    if (!select.isConnected) return;
    const current = issue.fields?.assignee?.accountId ?? '';
    select.replaceChildren(
      h('option', { value: '' }, 'Unassigned'),
      ...this.assignable.map((u) => h('option', { value: u.accountId }, u.displayName ?? u.accountId)),
    );
    select.value = current;
    select.disabled = false;
    select.focus();
    select.addEventListener('change', () => {
      if (select.value !== current) this.assignFromIssue(issue.key, select.value || null, select);
    });
  }

  /** Inline edit of the summary: Enter saves, Escape cancels; a refused save keeps what was typed. */
  editSummary(issue, slot) {
    const input = h('input', { type: 'text', id: 'summary-input', maxlength: 255, autocomplete: 'off', 'aria-label': 'Summary' });
    input.value = issue.fields?.summary ?? '';
    const before = [...slot.childNodes];
    const cancel = () => { slot.replaceChildren(...before); slot.querySelector('#edit-summary')?.focus(); };
    const form = this.inlineForm('summary', input, cancel, async () => {
      const summary = input.value.trim();
      if (!summary) return input.focus();
      await this.saveFields(issue.key, { summary }, 'Summary saved.', (row) => { row.fields.summary = summary; });
    });
    slot.replaceChildren(form);
    input.focus();
    input.select();
  }

  /** Inline edit of the labels (space-separated, as Jira's labels have no spaces). */
  editLabels(issue, dd) {
    const input = h('input', { type: 'text', id: 'labels-input', autocomplete: 'off', spellcheck: 'false', 'aria-label': 'Labels, separated by spaces' });
    input.value = (issue.fields?.labels ?? []).join(' ');
    const before = [...dd.childNodes];
    const cancel = () => { dd.replaceChildren(...before); dd.querySelector('#edit-labels')?.focus(); };
    const form = this.inlineForm('labels', input, cancel, async () => {
      const labels = [...new Set(input.value.split(/[\s,]+/).filter(Boolean))];
      await this.saveFields(issue.key, { labels }, 'Labels saved.', () => {});
    });
    dd.replaceChildren(form);
    input.focus();
  }

  /** A one-field form with Save and Cancel; Escape cancels it (and does not leave the issue). */
  inlineForm(name, input, cancel, save) {
    const submit = h('button', { type: 'submit', class: 'btn btn-primary btn-small', id: `${name}-save` }, 'Save');
    const form = h('form', { class: 'inline-form', id: `${name}-form`, onsubmit: async (e) => {
      e.preventDefault();
      submit.disabled = true;
      input.disabled = true;
      try {
        await save();
      } finally {
        // Still here (the save failed): the draft stays in the box, ready to try again.
        if (form.isConnected) {
          submit.disabled = false;
          input.disabled = false;
          input.focus();
        }
      }
    } },
      input,
      h('div', { class: 'inline-buttons' }, submit, h('button', { type: 'button', class: 'btn btn-small', id: `${name}-cancel`, onclick: cancel }, 'Cancel')),
    );
    input.addEventListener('keydown', (e) => {
      if (e.key === 'Escape') {
        e.preventDefault();
        e.stopPropagation();
        cancel();
      }
    });
    return form;
  }

  /** Edits fields; on success the list learns it (row updated, fetched again on the way back). Throws nothing. */
  async saveFields(key, edit, done, updateRow) {
    try {
      await this.client.editIssue(key, edit);
    } catch (err) {
      this.showError(err);
      return;
    }
    const row = this.issues.find((i) => i.key === key);
    if (row?.fields) updateRow(row);
    this.listStale = true;
    await this.showIssue(key, { notice: { kind: 'success', code: 'saved', text: done, dismissible: true } });
  }

  /** Copies text (an issue key, a link) and says so briefly. */
  async copy(text, done) {
    try {
      await navigator.clipboard.writeText(text);
      this.setNotice({ kind: 'success', code: 'copied', text: done, dismissible: true });
      const notice = this.notice;
      setTimeout(() => { if (this.notice === notice) this.clearNotice(); }, 2500);
    } catch (err) {
      this.setNotice({ kind: 'error', code: 'clipboard', text: 'Could not copy to the clipboard.', dismissible: true });
    }
  }

  commentItem(c) {
    return h('li', { class: 'comment' },
      h('div', { class: 'comment-head' },
        h('strong', {}, c.author?.displayName ?? 'Someone'),
        c.created ? h('span', { class: 'muted' }, relativeTime(c.created)) : null,
      ),
      h('p', { class: 'comment-body' }, adfToText(c.body)),
    );
  }

  async addComment(key, textarea, form) {
    const text = textarea.value.trim();
    if (!text) {
      textarea.focus();
      return;
    }
    const button = form.querySelector('button[type=submit]');
    button.disabled = true;
    textarea.disabled = true;
    try {
      await this.client.addComment(key, text);
      this.drafts.delete(key);
      await this.showIssue(key, { notice: { kind: 'success', text: 'Comment added.', dismissible: true } });
      this.main.querySelector('#comment-text')?.focus();
    } catch (err) {
      button.disabled = false;
      textarea.disabled = false;
      this.showError(err);
    }
  }

  async doTransition(key, transition, button) {
    this.main.querySelectorAll('.transitions button').forEach((b) => (b.disabled = true));
    button.classList.add('busy');
    try {
      await this.client.transition(key, transition.id);
      const row = this.issues.find((i) => i.key === key);
      if (row?.fields && transition.to) row.fields.status = transition.to;
      this.listStale = true;
      await this.showIssue(key, { notice: { kind: 'success', text: `${key} moved to ${transition.to?.name ?? transition.name}.`, dismissible: true } });
    } catch (err) {
      this.main.querySelectorAll('.transitions button').forEach((b) => (b.disabled = false));
      button.classList.remove('busy');
      this.showError(err);
    }
  }

  // --- create ----------------------------------------------------------------------------------

  async showCreate() {
    this.view = 'create';
    this.clearNotice();
    const project = h('select', { id: 'create-project', required: true, 'aria-describedby': 'create-hint' }, h('option', { value: '' }, 'Loading projects…'));
    const type = h('select', { id: 'create-type', required: true, disabled: true }, h('option', { value: '' }, 'Choose a project first'));
    const summary = h('input', { id: 'create-summary', type: 'text', required: true, maxlength: 255, autocomplete: 'off', placeholder: 'What needs to be done?' });
    const description = h('textarea', { id: 'create-description', rows: 4, placeholder: 'Details (optional)' });
    const assignee = h('select', { id: 'create-assignee' }, h('option', { value: 'me' }, 'Me'), h('option', { value: '' }, 'Unassigned'));
    // A form left half-filled (Escape, back) comes back as it was; Cancel discards it.
    const draft = this.createDraft;
    summary.value = draft?.summary ?? '';
    description.value = draft?.description ?? '';
    assignee.value = draft?.assignee ?? 'me';
    const submit = h('button', { type: 'submit', class: 'btn btn-primary', id: 'create-submit' }, 'Create issue');
    const form = h('form', { class: 'create-form', id: 'create-form', onsubmit: (e) => { e.preventDefault(); this.createIssue({ project, type, summary, description, assignee, submit }); } },
      field('Project', project),
      field('Issue type', type),
      field('Summary', summary),
      field('Description', description),
      field('Assignee', assignee),
      h('div', { class: 'form-row' },
        h('span', { class: 'hint muted', id: 'create-hint' }, 'Enter to create'),
        h('div', {}, h('button', { type: 'button', class: 'btn btn-quiet', id: 'create-cancel', onclick: () => { this.createDraft = null; this.showIssues({ keepList: true }); } }, 'Cancel'), submit),
      ),
    );
    const remember = () => {
      this.createDraft = { project: project.value || draft?.project, type: type.value || draft?.type, summary: summary.value, description: description.value, assignee: assignee.value };
    };
    form.addEventListener('input', remember);
    form.addEventListener('change', remember);
    submitOnCtrlEnter(description, form);
    this.setMain(h('section', { class: 'create', 'aria-labelledby': 'create-title' }, this.backButton(), h('h1', { id: 'create-title' }, 'Create issue'), form));
    project.focus();
    project.addEventListener('change', () => this.loadIssueTypes(project.value, type));
    try {
      const page = await this.client.searchProjects({ maxResults: 50 });
      const projects = itemsOf(page, 'projects');
      project.replaceChildren(
        h('option', { value: '' }, projects.length ? 'Choose a project' : 'No projects you can see'),
        ...projects.map((p) => h('option', { value: p.key }, `${p.name} (${p.key})`)),
      );
      // Preselect the draft's project, else the first listed issue's: most likely where the next one goes.
      const guess = draft?.project ?? this.issues[0]?.fields?.project?.key ?? (projects.length === 1 ? projects[0].key : '');
      if (guess && projects.some((p) => p.key === guess)) {
        project.value = guess;
        await this.loadIssueTypes(guess, type, draft?.project === guess ? draft?.type : undefined);
      }
    } catch (err) {
      project.replaceChildren(h('option', { value: '' }, 'Projects could not be loaded'));
      this.showError(err, { retry: () => this.showCreate() });
    }
  }

  async loadIssueTypes(projectKey, select, preferredType) {
    select.disabled = true;
    select.replaceChildren(h('option', { value: '' }, projectKey ? 'Loading issue types…' : 'Choose a project first'));
    if (!projectKey) return;
    try {
      const types = itemsOf(await this.client.issueTypes(projectKey), 'issueTypes').filter((t) => !t.subtask);
      select.replaceChildren(...types.map((t) => h('option', { value: t.id }, t.name)));
      const preferred = types.find((t) => t.id === preferredType) ?? types.find((t) => /^task$/i.test(t.name));
      if (preferred) select.value = preferred.id;
      select.disabled = types.length === 0;
    } catch (err) {
      select.replaceChildren(h('option', { value: '' }, 'Issue types could not be loaded'));
      this.showError(err);
    }
  }

  async createIssue({ project, type, summary, description, assignee, submit }) {
    if (!project.value || !type.value || !summary.value.trim()) {
      (!project.value ? project : !type.value ? type : summary).focus();
      return;
    }
    submit.disabled = true;
    submit.textContent = 'Creating…';
    try {
      // Assigned to me by default, so the new issue shows in "My open issues".
      if (assignee.value === 'me') await this.ensureMe();
      const created = await this.client.createIssue({
        projectKey: project.value,
        issueType: type.value,
        summary: summary.value.trim(),
        description: description.value.trim() || undefined,
        assigneeAccountId: assignee.value === 'me' ? this.me.accountId : undefined,
      });
      this.listStale = true; // the list changed; fetch it again on the way back
      this.createDraft = null;
      await this.showIssue(created.key, { notice: { kind: 'success', text: `Created ${created.key}.`, dismissible: true } });
    } catch (err) {
      submit.disabled = false;
      submit.textContent = 'Create issue';
      this.showError(err);
    }
  }
}

/** The site's avatar, or its initial when there is none or it does not load. */
function siteAvatar(site) {
  const initial = () => h('span', { class: 'site-avatar placeholder', 'aria-hidden': 'true' }, (site.name ?? '?').slice(0, 1).toUpperCase());
  if (!site.avatarUrl) return initial();
  const img = h('img', { class: 'site-avatar', src: site.avatarUrl, alt: '', referrerpolicy: 'no-referrer' });
  img.addEventListener('error', () => img.replaceWith(initial()), { once: true });
  return img;
}

function field(label, control) {
  return h('label', { class: 'field' }, h('span', { class: 'field-label' }, label), control);
}

function submitOnCtrlEnter(textarea, form) {
  textarea.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) {
      e.preventDefault();
      form.requestSubmit();
    }
  });
}

function closeMenu(e) {
  const details = e.currentTarget.closest('details');
  if (details) details.open = false;
}
