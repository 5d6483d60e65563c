// Rate-limit awareness (issue 14) in real Chromium against the real broker and the fake's `/__admin/quota`:
// `client.quota()` reports the fake's numbers in the tab that called and in another tab of the origin, a 429
// at exhaustion is a typed `rate_limited` error that keeps the tokens, and in the real extension the options
// page shows the quota the service worker's badge poll saw, while near the limit the badge alarm slows down.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  admin, callIn, clearWebRecords, connectViaConsent, grantsDelta, launch, openClientTab, openOptionsPage, openPopup, requireEnv,
  resetFake, serviceWorker, signInIn, signOutExtension, stats, waitForIssues, webRecords,
} from './helpers.mjs';

let web;
let ext;

before(async () => {
  requireEnv();
  web = await launch({ withExtension: false });
  ext = await launch();
});

after(async () => {
  await web?.close();
  await ext?.close();
});

const HOUR_MS = 3600_000;

test('client.quota() reports the fake\'s quota, in this tab and another; a 429 at exhaustion is rate_limited and keeps the tokens', async () => {
  await resetFake({ consent_mode: 'auto', consent_user: 'bob' });
  const a = await openClientTab(web.ctx, { storage: 'local' });
  await clearWebRecords(a);
  await signInIn(a);
  assert.equal((await callIn(a, 'quota')).value, null, 'no quota before any Jira response with its headers');

  await admin('quota', { limit: 50, remaining: 12, window_secs: 3600, reason: 'jira-quota-tenant-based', near_limit_below: 10 });
  const started = Date.now();
  assert.ok((await callIn(a, 'myself')).ok);
  let q = (await callIn(a, 'quota')).value;
  assert.deepEqual({ remaining: q.remaining, limit: q.limit, nearLimit: q.nearLimit, reason: q.reason },
    { remaining: 11, limit: 50, nearLimit: false, reason: 'jira-quota-tenant-based' });
  assert.ok(Math.abs(q.resetsAt - (started + HOUR_MS)) < 10_000, `resetsAt ${q.resetsAt}`);

  // Another tab of the origin sees it without a call of its own.
  const b = await openClientTab(web.ctx, { storage: 'local' });
  assert.equal((await callIn(b, 'quota')).value?.remaining, 11);

  // Two calls later fewer than 10 are left: near the limit, in both tabs (that change is written at once).
  assert.ok((await callIn(a, 'myself')).ok);
  assert.ok((await callIn(a, 'myself')).ok);
  q = (await callIn(a, 'quota')).value;
  assert.deepEqual([q.remaining, q.nearLimit], [9, true]);
  assert.deepEqual([(await callIn(b, 'quota')).value?.nearLimit, (await callIn(b, 'quota')).value?.remaining], [true, 9]);

  // Exhausted: the call is a typed rate_limited error with the wait; the grant stays.
  await admin('quota', { limit: 50, remaining: 0, window_secs: 3600 });
  const before = await stats();
  const limited = await callIn(a, 'myself');
  assert.equal(limited.ok, false);
  assert.equal(limited.code, 'rate_limited');
  assert.equal(limited.details.status, 429);
  assert.ok(limited.details.retryAfterMs > HOUR_MS - 10_000, `retryAfterMs ${limited.details.retryAfterMs}`);
  q = (await callIn(a, 'quota')).value;
  assert.deepEqual([q.remaining, q.limit, q.nearLimit], [0, 50, true]);
  assert.equal((await callIn(b, 'quota')).value?.remaining, 0, 'exhaustion is written at once');
  assert.ok((await webRecords(a)).indexedDB.includes('jira3lo:default:refresh'), 'the refresh token is kept');
  assert.equal((await callIn(a, 'status')).value.state, 'signedIn');
  // The next window: calls work again with the same grant (no token request at all).
  await admin('quota', { limit: 50 });
  assert.ok((await callIn(b, 'myself')).ok);
  assert.equal((await callIn(b, 'quota')).value?.remaining, 49);
  assert.equal(grantsDelta(before, await stats()).token_requests, 0);
  await a.close();
  await b.close();
});

test('extension: the options page shows the quota the service worker saw; near the limit the badge alarm slows down', async () => {
  const { ctx, id } = ext;
  await resetFake({ consent_mode: 'page', consent_user: 'bob' });
  await signOutExtension(ctx, id);
  const popup = await openPopup(ctx, id);
  await connectViaConsent(ctx, popup);
  await waitForIssues(popup);
  await popup.close();
  const options = await openOptionsPage(ctx, id);
  assert.equal(await options.locator('#quota').isHidden(), true, 'no quota known yet');

  const worker = await serviceWorker(ctx);
  const poll = () => worker.evaluate(async () => {
    for (let i = 0; i < 100 && !globalThis.__jira3lo?.pollBadge; i++) await new Promise((r) => setTimeout(r, 20));
    await globalThis.__jira3lo.pollBadge({ force: true });
    return (await chrome.alarms.get('jira3lo-badge'))?.periodInMinutes;
  });
  await admin('quota', { limit: 1000, remaining: 500, window_secs: 3600, reason: 'jira-quota-tenant-based' });
  assert.equal(await poll(), 5, 'plenty left: the configured period');
  // The options page (another context) renders what the worker's poll saw.
  await options.locator('#quota-usage').filter({ hasText: '499 of 1,000 points left' }).waitFor();
  assert.equal(await options.locator('#quota-reason').textContent(), 'jira-quota-tenant-based');
  assert.equal(await options.locator('#quota-near').isHidden(), true);
  assert.match(await options.locator('#quota-resets').textContent(), /^Resets at /);

  // Near the limit: the worker's next poll doubles the alarm's period, and the options page warns.
  await admin('quota', { limit: 1000, remaining: 150, window_secs: 3600, reason: 'jira-quota-tenant-based' });
  assert.equal(await poll(), 10, 'near the limit: half as often');
  await options.locator('#quota-usage').filter({ hasText: '149 of 1,000 points left' }).waitFor();
  assert.equal(await options.locator('#quota-near').isVisible(), true);

  // A new window with plenty left: back to the configured period.
  await admin('quota', { limit: 1000, window_secs: 3600 });
  assert.equal(await poll(), 5);
  await options.locator('#quota-usage').filter({ hasText: '999 of 1,000 points left' }).waitFor();
  assert.equal(await options.locator('#quota-near').isHidden(), true);
  await options.close();
});
