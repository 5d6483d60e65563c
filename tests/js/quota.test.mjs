// The options page's quota panel (www/quota.js), pure.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { quotaView } from '../../www/quota.js';

const now = Date.UTC(2026, 2, 26, 15, 0);
const quota = (q) => ({ remaining: 17842, limit: 100100, resetsAt: now + 35 * 60_000, nearLimit: false, reason: null, observedAt: now, ...q });

test('nothing known: no panel', () => {
  assert.equal(quotaView(null, now), null);
  assert.equal(quotaView(undefined, now), null);
});

test('remaining of limit, the reset time, the warning and the reason code', () => {
  const v = quotaView(quota({ nearLimit: true, reason: 'jira-quota-tenant-based' }), now);
  assert.equal(v.usage, '17,842 of 100,100 points left');
  assert.match(v.resets, /^Resets at /);
  assert.equal(v.nearLimit, true);
  assert.equal(v.reason, 'jira-quota-tenant-based');
  assert.match(v.seen, /^As of /);
  assert.equal(quotaView(quota({}), now).nearLimit, false);
  assert.equal(quotaView(quota({}), now).reason, null);
});

test('partial quotas say what is known; a reset in the past ends the warning', () => {
  assert.equal(quotaView(quota({ limit: null }), now).usage, '17,842 points left');
  assert.equal(quotaView(quota({ remaining: null }), now).usage, 'Limit: 100,100 points');
  assert.equal(quotaView(quota({ remaining: null, limit: null }), now).usage, 'Jira reported a rate limit');
  assert.equal(quotaView(quota({ resetsAt: null }), now).resets, null);
  const passed = quotaView(quota({ nearLimit: true, resetsAt: now - 1 }), now);
  assert.equal(passed.nearLimit, false);
  assert.equal(passed.resets, 'The window has reset since');
  assert.equal(quotaView(quota({ remaining: 0 }), now).usage, '0 of 100,100 points left');
});
