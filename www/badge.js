// @ts-check
// The toolbar badge: how many issues a view counts (by default "Assigned to me", see views.js), kept by the service worker
// with chrome.alarms at one request per poll (Jira's approximate-count). The decisions are pure functions
// (unit-tested in tests/js/badge.test.mjs); the worker performs them.

/** Minutes between polls unless the options say otherwise. */
export const DEFAULT_PERIOD_MINUTES = 5;
/** The longest a poll is put off after failures (backing off doubles the wait up to this). */
export const MAX_BACKOFF_MS = 60 * 60 * 1000;
export const ALARM_NAME = 'jira3lo-badge';
/** chrome.storage.session key of the poller's state (not the module's `jira3lo:` namespace). */
export const STATE_KEY = 'jira3lo.badge';

/**
 * @typedef {{ failures: number, notBefore: number, reconnect?: boolean }} PollState
 * @typedef {{ text: string, color?: string, title: string }} Badge
 * @typedef {{ kind: 'count', count: number, label?: string }
 *   | { kind: 'signedOut' }
 *   | { kind: 'noSite' }
 *   | { kind: 'reconnect' }
 *   | { kind: 'failed', transient: boolean, retryAfterMs?: number }} PollOutcome
 */

/** The badge text of a count: Chrome shows about four characters. */
export function countText(count) {
  if (!Number.isFinite(count) || count < 0) return '';
  return count > 999 ? '999+' : String(Math.floor(count));
}

/**
 * What the badge shows after a poll. A failure that says nothing about the sign-in keeps the last count
 * (`null`: leave the badge as it is).
 * @param {PollOutcome} outcome
 * @returns {Badge | null}
 */
export function badgeFor(outcome) {
  switch (outcome.kind) {
    case 'count': {
      const issues = `${outcome.count} issue${outcome.count === 1 ? '' : 's'}`;
      const title = outcome.label ? `Jira: ${issues} in “${outcome.label}”` : `${outcome.count} open issue${outcome.count === 1 ? '' : 's'} assigned to you`;
      return { text: countText(outcome.count), color: '#0C66E4', title };
    }
    case 'signedOut':
      return { text: '', title: 'Jira: not connected' };
    case 'noSite':
      return { text: '', title: 'Jira: choose a site in the popup' };
    case 'reconnect':
      return { text: '!', color: '#C9372C', title: 'Jira: reconnect needed (open the popup)' };
    default:
      return null;
  }
}

/**
 * The poller's state after a poll: a failure (429, 503, network) puts the next poll off, doubling with each
 * failure in a row and never sooner than the server's Retry-After; anything else resets it. Either way, a
 * quota with nothing left puts the next poll off until its reset (see {@link quotaNotBefore}).
 * @param {PollState} state
 * @param {PollOutcome} outcome
 * @param {number} now
 * @param {number} periodMs
 * @param {Quota | null} [quota] the module's latest quota of the site (`client.quota()`)
 * @returns {PollState}
 */
export function nextState(state, outcome, now, periodMs, quota = null) {
  const reconnect = outcome.kind === 'reconnect';
  const untilReset = quotaNotBefore(quota, now);
  if (outcome.kind !== 'failed') return { failures: 0, notBefore: untilReset, reconnect };
  const failures = (state?.failures ?? 0) + 1;
  const backoff = Math.min(MAX_BACKOFF_MS, periodMs * 2 ** (failures - 1));
  return { failures, notBefore: Math.max(now + Math.max(backoff, outcome.retryAfterMs ?? 0), untilReset), reconnect: !!state?.reconnect };
}

/**
 * @typedef {{ remaining: number | null, limit: number | null, resetsAt: number | null,
 *   nearLimit: boolean | null, reason: string | null, observedAt: number }} Quota
 */

/** Whether the quota is near its limit now: the server said so and its window has not reset since. */
export function isNearLimit(quota, now) {
  if (quota?.nearLimit !== true) return false;
  return !(Number.isFinite(quota.resetsAt) && quota.resetsAt <= now);
}

/**
 * Minutes between polls: the configured period, doubled while the quota is near its limit (the badge is
 * the first thing to give up points when the user's own work needs them), back once the window resets.
 * @param {number} baseMinutes
 * @param {Quota | null | undefined} quota
 * @param {number} now
 */
export function pollPeriodMinutes(baseMinutes, quota, now) {
  return isNearLimit(quota, now) ? baseMinutes * 2 : baseMinutes;
}

/**
 * The earliest next poll a quota allows: with nothing left, its reset time (at most MAX_BACKOFF_MS away:
 * a far-off or wrong reset never parks the badge for good); otherwise no constraint (0).
 * @param {Quota | null | undefined} quota
 * @param {number} now
 */
export function quotaNotBefore(quota, now) {
  if (quota?.remaining !== 0 || !Number.isFinite(quota.resetsAt) || quota.resetsAt <= now) return 0;
  return Math.min(quota.resetsAt, now + MAX_BACKOFF_MS);
}

/**
 * A grant Atlassian refused ends signed out (the module clears it), but the user did not sign out: the
 * badge keeps saying "reconnect" until a sign-in, or a sign-out the user asked for (which resets the state
 * first, see {@link resetState}).
 * @param {PollOutcome} outcome
 * @param {PollState | undefined} state
 * @returns {PollOutcome}
 */
export function remembered(outcome, state) {
  return outcome.kind === 'signedOut' && state?.reconnect ? { kind: 'reconnect' } : outcome;
}

/** The state after a sign-out the user asked for: nothing to remember. */
export const resetState = () => ({ failures: 0, notBefore: 0, reconnect: false });

/**
 * Whether a poll now would be too early after earlier failures.
 * @param {PollState | undefined} state
 * @param {number} now
 */
export function isBackingOff(state, now) {
  return !!state && state.notBefore > now;
}

/**
 * A poll's outcome from the module's status and the count call's result or error (no count call is made
 * while signed out or without a chosen site: then `result` is not looked at).
 * @param {{ state: string }} status
 * @param {{ ok: true, count: number } | { ok: false, error: any }} result
 * @returns {PollOutcome}
 */
export function outcomeOf(status, result) {
  if (status.state === 'signedOut') return { kind: 'signedOut' };
  if (status.state === 'siteSelectionRequired') return { kind: 'noSite' };
  if (result.ok) return { kind: 'count', count: result.count };
  const e = result.error;
  if (e?.needsReconnect) return { kind: 'reconnect' };
  const retryAfterMs = e?.details?.retryAfterMs;
  return { kind: 'failed', transient: !!e?.isTransient || ['rate_limited', 'network', 'timeout'].includes(e?.code), retryAfterMs };
}

/** What "assigned to me" means for notifications (the keys are compared poll to poll). */
export const ASSIGNED_JQL = 'assignee = currentUser() AND statusCategory != Done ORDER BY created DESC';
/** chrome.storage.local key of the issues assigned at the last poll (per site). */
export const ASSIGNED_KEY = 'jira3lo.assigned';
/** At most this many notifications per poll; more are summed up in one. */
export const MAX_NOTIFICATIONS = 3;

/**
 * The issues that are assigned to me now and were not at the last poll of the same site. The first poll
 * of a site only records what is there (no notification for issues assigned before).
 * @param {{ siteId: string, keys: string[] } | undefined} last
 * @param {string} siteId
 * @param {{ key: string }[]} issues
 */
export function newlyAssigned(last, siteId, issues) {
  if (!last || last.siteId !== siteId) return [];
  const before = new Set(last.keys);
  return issues.filter((i) => !before.has(i.key));
}

/** The id of a notification about `key` on `siteUrl`, and back (the click handler opens the issue). */
export const notificationId = (siteUrl, key) => `jira3lo|${key}|${siteUrl}`;
export function parseNotificationId(id) {
  const [prefix, key, ...rest] = String(id).split('|');
  const siteUrl = rest.join('|');
  if (prefix !== 'jira3lo' || !/^[A-Z][A-Z0-9_]*-\d+$/.test(key ?? '') || !/^https?:\/\//.test(siteUrl)) return null;
  return { key, url: `${siteUrl.replace(/\/+$/, '')}/browse/${key}` };
}
