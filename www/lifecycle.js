// @ts-check
// The grant's yearly end: Atlassian ends every grant 365 days after the consent, whatever the
// refreshes, so from 14 days before (status.reconnect.warn, decided by the module) the popup asks
// the user to reconnect; a new consent starts a new year and the warning goes. Pure, unit-tested
// in tests/js/lifecycle.test.mjs; ui.js renders what it returns.

const DAY_MS = 86_400_000;

/**
 * The warning to show for a status at `nowMs` (this device's clock), or null.
 * @param {{ state?: string, reconnect?: { by: number, limit: string, warn: boolean } } | null | undefined} status
 * @param {number} nowMs
 * @returns {{ code: 'reconnect_soon', text: string, daysLeft: number } | null}
 */
export function reconnectWarning(status, nowMs) {
  const r = status?.reconnect;
  if (!r?.warn || status?.state === 'signedOut' || !Number.isFinite(r.by)) return null;
  const daysLeft = Math.max(0, Math.ceil((r.by - nowMs) / DAY_MS));
  const when = daysLeft === 0 ? 'today' : daysLeft === 1 ? 'tomorrow' : `in ${daysLeft} days`;
  const text = daysLeft === 0
    ? 'Your Jira connection has reached its yearly end. Reconnect to keep going.'
    : `Your Jira connection ends ${when} (Atlassian asks for a new approval every year). Reconnect now to keep going.`;
  return { code: 'reconnect_soon', text, daysLeft };
}
