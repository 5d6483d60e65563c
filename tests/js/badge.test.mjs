// The badge poller's decisions (www/badge.js), pure: what the badge shows and when the next poll may go.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  badgeFor, countText, isBackingOff, MAX_BACKOFF_MS, nextState, outcomeOf, remembered, resetState,
} from '../../www/badge.js';

const PERIOD = 5 * 60_000;

test('the badge shows the count, nothing when signed out or without a site, "!" when a reconnect is needed', () => {
  assert.equal(badgeFor({ kind: 'count', count: 7 }).text, '7');
  assert.equal(badgeFor({ kind: 'count', count: 0 }).text, '0');
  // The tooltip names the view the badge counts.
  assert.equal(badgeFor({ kind: 'count', count: 1, label: 'Bugs' }).title, 'Jira: 1 issue in “Bugs”');
  assert.equal(badgeFor({ kind: 'count', count: 3, label: 'Watching' }).title, 'Jira: 3 issues in “Watching”');
  assert.equal(badgeFor({ kind: 'signedOut' }).text, '');
  assert.equal(badgeFor({ kind: 'noSite' }).text, '');
  assert.equal(badgeFor({ kind: 'reconnect' }).text, '!');
  // A failure that says nothing about the sign-in leaves the badge alone.
  assert.equal(badgeFor({ kind: 'failed', transient: true }), null);
  assert.deepEqual([countText(1000), countText(999), countText(-1), countText(NaN)], ['999+', '999', '', '']);
});

test('failures put the next poll off, doubling, at least the Retry-After, at most an hour; success resets', () => {
  const now = 1_000_000;
  let s = nextState(undefined, { kind: 'failed', transient: true }, now, PERIOD);
  assert.deepEqual(s, { failures: 1, notBefore: now + PERIOD, reconnect: false });
  s = nextState(s, { kind: 'failed', transient: true }, now, PERIOD);
  assert.equal(s.notBefore, now + 2 * PERIOD);
  s = nextState(s, { kind: 'failed', transient: true, retryAfterMs: 3 * 3600_000 }, now, PERIOD);
  assert.equal(s.notBefore, now + 3 * 3600_000, 'the server asked for longer');
  for (let i = 0; i < 20; i++) s = nextState(s, { kind: 'failed', transient: true }, now, PERIOD);
  assert.equal(s.notBefore, now + MAX_BACKOFF_MS);
  assert.ok(isBackingOff(s, now + MAX_BACKOFF_MS - 1));
  assert.ok(!isBackingOff(s, now + MAX_BACKOFF_MS));
  assert.deepEqual(nextState(s, { kind: 'count', count: 1 }, now, PERIOD), { failures: 0, notBefore: 0, reconnect: false });
  assert.deepEqual(nextState(s, { kind: 'reconnect' }, now, PERIOD), { failures: 0, notBefore: 0, reconnect: true });
  assert.ok(!isBackingOff(undefined, now));
});

test('outcomes from the status and the count call', () => {
  assert.deepEqual(outcomeOf({ state: 'signedOut' }, { ok: false, error: null }), { kind: 'signedOut' });
  assert.deepEqual(outcomeOf({ state: 'siteSelectionRequired' }, { ok: false, error: null }), { kind: 'noSite' });
  assert.deepEqual(outcomeOf({ state: 'signedIn' }, { ok: true, count: 3 }), { kind: 'count', count: 3 });
  assert.deepEqual(outcomeOf({ state: 'signedIn' }, { ok: false, error: { code: 'reauth_required', needsReconnect: true } }), { kind: 'reconnect' });
  assert.deepEqual(
    outcomeOf({ state: 'signedIn' }, { ok: false, error: { code: 'rate_limited', details: { retryAfterMs: 9000 } } }),
    { kind: 'failed', transient: true, retryAfterMs: 9000 },
  );
  assert.equal(outcomeOf({ state: 'signedIn' }, { ok: false, error: { code: 'jira', details: {} } }).transient, false);
});

test('newly assigned: only issues not there at the last poll of the same site; a first poll only records', async () => {
  const { newlyAssigned, notificationId, parseNotificationId } = await import('../../www/badge.js');
  const issues = [{ key: 'A-1' }, { key: 'A-2' }, { key: 'A-3' }];
  assert.deepEqual(newlyAssigned(undefined, 's1', issues), []);
  assert.deepEqual(newlyAssigned({ siteId: 's2', keys: [] }, 's1', issues), [], 'another site: a first poll');
  assert.deepEqual(newlyAssigned({ siteId: 's1', keys: ['A-1', 'A-3'] }, 's1', issues), [{ key: 'A-2' }]);
  assert.deepEqual(newlyAssigned({ siteId: 's1', keys: ['A-1', 'A-2', 'A-3', 'A-4'] }, 's1', issues), []);
  assert.deepEqual(parseNotificationId(notificationId('https://acme.atlassian.net/', 'PLAT-12')),
    { key: 'PLAT-12', url: 'https://acme.atlassian.net/browse/PLAT-12' });
  for (const bad of ['jira3lo|more|1', 'jira3lo|PLAT-1|javascript:alert(1)', 'other|PLAT-1|https://x', '']) {
    assert.equal(parseNotificationId(bad), null, bad);
  }
});

test('"reconnect" outlasts the tokens the module cleared, until a sign-in or a sign-out the user asked for', () => {
  const refused = nextState(undefined, { kind: 'reconnect' }, 0, PERIOD);
  assert.deepEqual(remembered({ kind: 'signedOut' }, refused), { kind: 'reconnect' });
  const again = nextState(refused, remembered({ kind: 'signedOut' }, refused), 0, PERIOD);
  assert.equal(again.reconnect, true);
  assert.deepEqual(remembered({ kind: 'signedOut' }, resetState()), { kind: 'signedOut' });
  const signedIn = nextState(refused, { kind: 'count', count: 2 }, 0, PERIOD);
  assert.deepEqual(remembered({ kind: 'signedOut' }, signedIn), { kind: 'signedOut' });
  assert.equal(nextState(refused, { kind: 'failed', transient: true }, 0, PERIOD).reconnect, true);
});

test('near the quota limit the badge polls half as often, until the window resets', async () => {
  const { pollPeriodMinutes, isNearLimit } = await import('../../www/badge.js');
  const now = 1_000_000;
  const quota = (q) => ({ remaining: 10, limit: 100, resetsAt: now + 600_000, nearLimit: false, reason: null, observedAt: now, ...q });
  assert.equal(pollPeriodMinutes(5, null, now), 5, 'no quota known');
  assert.equal(pollPeriodMinutes(5, quota({ nearLimit: false }), now), 5);
  assert.equal(pollPeriodMinutes(5, quota({ nearLimit: true }), now), 10);
  assert.equal(pollPeriodMinutes(7, quota({ nearLimit: true, resetsAt: null }), now), 14, 'no reset known: still near');
  assert.equal(pollPeriodMinutes(5, quota({ nearLimit: true }), now + 600_000), 5, 'the window reset');
  assert.equal(pollPeriodMinutes(5, quota({ nearLimit: null }), now), 5);
  assert.ok(!isNearLimit(undefined, now));
});

test('a quota with nothing left puts the next poll off until its reset, bounded; failures too', async () => {
  const { quotaNotBefore } = await import('../../www/badge.js');
  const now = 1_000_000;
  const exhausted = { remaining: 0, limit: 100, resetsAt: now + 20 * 60_000, nearLimit: true, reason: 'jira-quota-tenant-based', observedAt: now };
  assert.equal(quotaNotBefore(exhausted, now), now + 20 * 60_000);
  assert.equal(quotaNotBefore({ ...exhausted, resetsAt: now + 10 * MAX_BACKOFF_MS }, now), now + MAX_BACKOFF_MS, 'bounded');
  assert.equal(quotaNotBefore({ ...exhausted, resetsAt: now - 1 }, now), 0, 'already reset');
  assert.equal(quotaNotBefore({ ...exhausted, resetsAt: null }, now), 0, 'no reset known');
  assert.equal(quotaNotBefore({ ...exhausted, remaining: 1 }, now), 0, 'points left');
  assert.equal(quotaNotBefore(null, now), 0);
  // A successful poll that used the last point waits for the reset; a 429 waits for the later of both.
  const ok = nextState(undefined, { kind: 'count', count: 3 }, now, PERIOD, exhausted);
  assert.deepEqual(ok, { failures: 0, notBefore: now + 20 * 60_000, reconnect: false });
  assert.ok(isBackingOff(ok, now + 20 * 60_000 - 1) && !isBackingOff(ok, now + 20 * 60_000));
  const limited = nextState(undefined, { kind: 'failed', transient: true, retryAfterMs: 1000 }, now, PERIOD, exhausted);
  assert.equal(limited.notBefore, now + 20 * 60_000);
  const later = nextState(undefined, { kind: 'failed', transient: true, retryAfterMs: 3600_000 }, now, PERIOD, exhausted);
  assert.equal(later.notBefore, now + 3600_000, 'Retry-After later than the reset');
  assert.deepEqual(nextState(undefined, { kind: 'count', count: 3 }, now, PERIOD, { ...exhausted, remaining: 5 }),
    { failures: 0, notBefore: 0, reconnect: false });
});
