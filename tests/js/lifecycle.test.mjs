// The reconnect warning's decisions (www/lifecycle.js).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { reconnectWarning } from '../../www/lifecycle.js';

const DAY = 86_400_000;
const NOW = 1_800_000_000_000;
const signedIn = (reconnect) => ({ state: 'signedIn', site: { id: 'c', name: 'acme', url: 'https://acme' }, reconnect });

test('a warning only when the module says so, with the days left on this clock', () => {
  const w = reconnectWarning(signedIn({ by: NOW + 13 * DAY, limit: 'absolute', warn: true }), NOW);
  assert.equal(w?.code, 'reconnect_soon');
  assert.equal(w.daysLeft, 13);
  assert.match(w.text, /in 13 days/);
  assert.equal(reconnectWarning(signedIn({ by: NOW + 13 * DAY + 1, limit: 'absolute', warn: true }), NOW).daysLeft, 14);
  assert.match(reconnectWarning(signedIn({ by: NOW + DAY, limit: 'absolute', warn: true }), NOW).text, /tomorrow/);
  assert.equal(reconnectWarning(signedIn({ by: NOW + 200 * DAY, limit: 'inactivity', warn: false }), NOW), null);
});

test('past the limit: the warning says it is over, never a negative count', () => {
  const w = reconnectWarning(signedIn({ by: NOW - 3 * DAY, limit: 'absolute', warn: true }), NOW);
  assert.equal(w.daysLeft, 0);
  assert.match(w.text, /reached its yearly end/);
});

test('no warning without dates, when signed out, or for a value that is not a date', () => {
  assert.equal(reconnectWarning(signedIn(undefined), NOW), null);
  assert.equal(reconnectWarning({ state: 'signedOut' }, NOW), null);
  assert.equal(reconnectWarning(null, NOW), null);
  assert.equal(reconnectWarning({ state: 'signedOut', reconnect: { by: NOW, limit: 'absolute', warn: true } }, NOW), null);
  assert.equal(reconnectWarning(signedIn({ by: Number.NaN, limit: 'absolute', warn: true }), NOW), null);
  const picker = { state: 'siteSelectionRequired', sites: [], reconnect: { by: NOW + 2 * DAY, limit: 'absolute', warn: true } };
  assert.equal(reconnectWarning(picker, NOW)?.daysLeft, 2);
});
