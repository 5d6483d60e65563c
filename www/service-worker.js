// The extension's service worker. Sign-in runs here because chrome.identity.launchWebAuthFlow opens a
// window, which closes the popup that asked for it; the popup waits for the answer to its message.
// Listeners are registered synchronously at the top level (MV3 wakes the worker for them); the wasm
// module and the client are created lazily on first use (module workers forbid top-level await).
import init, { JiraClient } from './pkg/jira_3lo.js';
import { loadConfig, loadDefaults, clientConfig, onOverridesChanged, saveGrantScopes, exposeTestHook, moduleInput } from './config.js';
import { serializeError } from './messages.js';
import {
  ALARM_NAME, ASSIGNED_JQL, ASSIGNED_KEY, DEFAULT_PERIOD_MINUTES, MAX_NOTIFICATIONS, STATE_KEY,
  badgeFor, isBackingOff, newlyAssigned, nextState, notificationId, outcomeOf, parseNotificationId, pollPeriodMinutes,
  remembered,
} from './badge.js';
import { clearSnapshotsOnSignOut } from './snapshot.js';
import { FILTERS_KEY, badgeView, emptyState, loadViewsState } from './views.js';

let setupPromise = null;
let signInPromise = null;

/** The worker's JiraClient (same chrome.storage as the popup's, so both see one session) and its config. */
function getSetup() {
  setupPromise ??= (async () => {
    await init(moduleInput());
    const config = await loadConfig();
    return { client: new JiraClient(clientConfig(config, 'extension')), config };
  })().catch((err) => {
    setupPromise = null; // let the next message retry (e.g. after the options page fixed the config)
    throw err;
  });
  return setupPromise;
}

const getClient = () => getSetup().then((s) => s.client);

/**
 * One sign-in at a time: a second Connect click while the Atlassian window is open joins the first.
 * On success the scopes asked for are recorded, so the popup can tell when Options asks for others.
 */
function signIn(interactive) {
  signInPromise ??= getSetup()
    .then(async ({ client, config }) => {
      const status = await client.signInWithExtension(interactive);
      await saveGrantScopes(config, 'extension').catch(() => {}); // a hint for the UI, never worth failing the sign-in
      return status;
    })
    .finally(() => {
      signInPromise = null;
    });
  return signInPromise;
}

chrome.runtime.onMessage.addListener((message, sender, sendResponse) => {
  if (sender.id !== chrome.runtime.id || message?.type !== 'signIn') return false;
  signIn(message.interactive !== false).then(
    (status) => sendResponse({ ok: true, status }),
    (err) => sendResponse({ ok: false, error: serializeError(err) }),
  );
  return true; // the response is sent asynchronously
});

// The options page changed the broker or scopes: the next use builds a client with them.
onOverridesChanged(() => {
  setupPromise = null;
  ensureAlarm().catch(() => {}); // a new poll period
});

// ---- the toolbar badge (see badge.js) ----------------------------------------------------------

const periodMinutes = (config) => (Number(config.badgePeriodMinutes) > 0 ? Number(config.badgePeriodMinutes) : DEFAULT_PERIOD_MINUTES);

/** The module's latest quota of the site (any context's), or null: never worth failing a poll for. */
const latestQuota = (client) => client.quota().catch(() => null);

/**
 * The poll alarm, created (or re-created with a changed period) once the config is known: the configured
 * period, doubled while the quota is near its limit (badge.js `pollPeriodMinutes`).
 */
async function ensureAlarm(quota) {
  const { client, config } = await getSetup();
  const period = pollPeriodMinutes(periodMinutes(config), quota === undefined ? await latestQuota(client) : quota, Date.now());
  const existing = await chrome.alarms.get(ALARM_NAME);
  if (existing?.periodInMinutes !== period) await chrome.alarms.create(ALARM_NAME, { periodInMinutes: period });
}

let polling = null;
let pollAgain = false;

/**
 * One poll: no request while signed out or without a site, else one approximate-count request; the badge
 * shows the count, nothing, or "!" when a reconnect is needed. After failures (429, 503, network) polls
 * are put off (`force`, a change of the sign-in, polls anyway). A poll asked for while one runs (a sign-in
 * writes its grant, then its site) runs once more after it, so the badge ends on the last change.
 */
function pollBadge({ force = false } = {}) {
  if (polling) {
    pollAgain = true;
    return polling;
  }
  polling = (async () => {
    let forced = force;
    do {
      pollAgain = false;
      await pollOnce(forced);
      forced = true;
    } while (pollAgain);
  })().finally(() => {
    polling = null;
  });
  return polling;
}

async function pollOnce(force) {
  {
    const { client, config } = await getSetup();
    const now = Date.now();
    const state = (await chrome.storage.session.get(STATE_KEY))[STATE_KEY];
    if (!force && isBackingOff(state, now)) return;
    let status;
    let result = { ok: false, error: null };
    try {
      status = await client.status();
    } catch (error) {
      status = { state: 'signedIn' };
      result = { ok: false, error };
    }
    // What the badge counts: a saved filter or a built-in view (synced; the old badgeJql option migrated).
    const view = badgeView(await loadViewsState().catch(() => emptyState()));
    if (result.error === null && status.state === 'signedIn') {
      try {
        result = { ok: true, count: await client.approximateCount(view.jql) };
      } catch (error) {
        result = { ok: false, error };
      }
    }
    const polled = outcomeOf(status, result);
    const outcome = remembered(polled.kind === 'count' ? { ...polled, label: view.name } : polled, state);
    const badge = badgeFor(outcome);
    if (badge) {
      await chrome.action.setBadgeText({ text: badge.text });
      if (badge.color) await chrome.action.setBadgeBackgroundColor({ color: badge.color });
      await chrome.action.setTitle({ title: badge.title });
    }
    const quota = await latestQuota(client);
    await chrome.storage.session.set({ [STATE_KEY]: nextState(state, outcome, now, periodMinutes(config) * 60_000, quota) });
    await ensureAlarm(quota);
    if (outcome.kind === 'count' && config.notifyAssigned === true) await notifyNewlyAssigned(client, status.site);
  }
}

/**
 * Opt-in (Options): a notification for each issue newly assigned to me since the last poll of this site
 * (one more request a poll: the keys). Clicking one opens the issue in Jira.
 */
async function notifyNewlyAssigned(client, site) {
  if (!site?.id || !chrome.notifications) return;
  const page = await client.search({ jql: ASSIGNED_JQL, fields: ['summary'], maxResults: 100 });
  const issues = page.issues ?? [];
  const last = (await chrome.storage.local.get(ASSIGNED_KEY))[ASSIGNED_KEY];
  const fresh = newlyAssigned(last, site.id, issues);
  await chrome.storage.local.set({ [ASSIGNED_KEY]: { siteId: site.id, keys: issues.map((i) => i.key) } });
  const iconUrl = chrome.runtime.getURL('www/icons/icon-128.png');
  for (const issue of fresh.slice(0, MAX_NOTIFICATIONS)) {
    await chrome.notifications.create(notificationId(site.url, issue.key), {
      type: 'basic', iconUrl, title: `${issue.key} was assigned to you`, message: issue.fields?.summary ?? '', priority: 1,
    });
  }
  if (fresh.length > MAX_NOTIFICATIONS) {
    await chrome.notifications.create(`jira3lo|more|${Date.now()}`, {
      type: 'basic', iconUrl, title: `${fresh.length - MAX_NOTIFICATIONS} more issues were assigned to you`, message: 'Open the Jira popup to see them.',
    });
  }
}

/** A click on a notification: the issue in Jira, in a new tab. */
async function openNotification(id) {
  const target = parseNotificationId(id);
  await chrome.notifications.clear(id);
  if (target) await chrome.tabs.create({ url: target.url });
}

chrome.notifications?.onClicked.addListener((id) => {
  openNotification(id).catch(() => {});
});

chrome.alarms.onAlarm.addListener((alarm) => {
  if (alarm.name === ALARM_NAME) pollBadge().catch(() => {});
});
chrome.runtime.onInstalled.addListener(() => {
  ensureAlarm().then(() => pollBadge({ force: true })).catch(() => {});
});
chrome.runtime.onStartup.addListener(() => {
  ensureAlarm().then(() => pollBadge({ force: true })).catch(() => {});
});
// A sign-in, sign-out or site choice in any context (top-level, so it wakes the worker): the badge follows.
chrome.storage.onChanged.addListener((changes, area) => {
  if (area === 'local' && Object.keys(changes).some((k) => /^jira3lo:[^:]+:(refresh|site)$/.test(k))) {
    pollBadge({ force: true }).catch(() => {});
  }
  // Another view chosen for the badge (or its filter edited), here or in another browser: count it now.
  if (area === 'sync' && FILTERS_KEY in changes) pollBadge({ force: true }).catch(() => {});
});

// A grant removed in any context (a sign-out, a grant Atlassian refused during a poll, the options page moving
// to other servers): the popup's last lists go with it, before any popup could paint them (top-level: wakes the worker).
clearSnapshotsOnSignOut();

// Test hook, only in builds whose config.json asks for it: the end-to-end tests call Jira from this context too.
loadDefaults().then((defaults) => exposeTestHook(defaults, { getClient, pollBadge, openNotification }));
