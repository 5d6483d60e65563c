// @ts-check
// What the options page says about the Jira API quota (the module's `client.quota()`), as pure functions
// (unit-tested in tests/js/quota.test.mjs). The reason is Atlassian's code, shown as a code, never read as
// text of ours.

/**
 * @typedef {{ remaining: number | null, limit: number | null, resetsAt: number | null,
 *   nearLimit: boolean | null, reason: string | null, observedAt: number }} Quota
 * @typedef {{ usage: string, resets: string | null, nearLimit: boolean, reason: string | null, seen: string }} QuotaView
 */

const number = (n) => Math.floor(n).toLocaleString('en-US');

/** A time as the user's clock shows it, with the date when it is not today. */
function clock(ms, now) {
  const at = new Date(ms);
  const time = at.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  return at.toDateString() === new Date(now).toDateString() ? time : `${at.toLocaleDateString()} ${time}`;
}

/**
 * The lines of the quota panel, or null when nothing is known.
 * @param {Quota | null | undefined} quota
 * @param {number} now
 * @returns {QuotaView | null}
 */
export function quotaView(quota, now) {
  if (!quota) return null;
  const { remaining, limit, resetsAt, reason } = quota;
  const known = (n) => Number.isFinite(n) && n >= 0;
  let usage;
  if (known(remaining) && known(limit)) usage = `${number(remaining)} of ${number(limit)} points left`;
  else if (known(remaining)) usage = `${number(remaining)} points left`;
  else if (known(limit)) usage = `Limit: ${number(limit)} points`;
  else usage = 'Jira reported a rate limit';
  const reset = Number.isFinite(resetsAt) && resetsAt !== null;
  const passed = reset && resetsAt <= now;
  return {
    usage,
    resets: reset ? (passed ? 'The window has reset since' : `Resets at ${clock(resetsAt, now)}`) : null,
    nearLimit: quota.nearLimit === true && !passed,
    reason: typeof reason === 'string' && reason ? reason : null,
    seen: `As of ${clock(quota.observedAt, now)}`,
  };
}
