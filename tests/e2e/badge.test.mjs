// The toolbar badge, in the real extension against the real broker and fake: the service worker keeps it
// equal to the number of my open issues at the fake, at one request per poll, polls nothing while signed out,
// shows "!" when a reconnect is needed, follows a sign-out and backs off after a 503.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  admin, connectViaConsent, env, openPopup, resetFake, serviceWorker, setOverrides, signOutExtension, stats,
  useExtensionBrowser, waitForIssues,
} from './helpers.mjs';

let browser;
let ctx;
let id;
useExtensionBrowser((b) => {
  browser = b;
  ({ ctx, id } = b);
});

const COUNT_ROUTE = 'POST /ex/jira/{cloudId}/rest/api/3/search/approximate-count';
const JQL = 'assignee = currentUser() AND statusCategory != Done';
const total = (s) => Object.entries(s.requests ?? {}).reduce((n, [, c]) => n + c, 0);

/** Runs one poll in the service worker (force: even while backing off) and returns the badge text. */
async function poll(force = true) {
  const worker = await serviceWorker(ctx);
  return worker.evaluate(async (force) => {
    for (let i = 0; i < 100 && !globalThis.__jira3lo?.pollBadge; i++) await new Promise((r) => setTimeout(r, 20));
    await globalThis.__jira3lo.pollBadge({ force });
    return chrome.action.getBadgeText({});
  }, force);
}

/** How many of bob's issues match the badge's JQL at the fake, by listing them (not the count endpoint). */
const openCount = (popup) => popup.evaluate(async (jql) => (await globalThis.__jira3lo.client.search({ jql, maxResults: 100 })).issues.length, JQL);

test('the badge equals my open issues at the fake, one request per poll; nothing polled while signed out; "!" to reconnect', async () => {
  await resetFake({ consent_mode: 'page', consent_user: 'bob' });
  await signOutExtension(ctx, id);
  let before = await stats();
  assert.equal(await poll(), '', 'signed out: an empty badge');
  assert.equal(total(await stats()), total(before), 'signed out: no request at all');

  const popup = await openPopup(ctx, id);
  await connectViaConsent(ctx, popup);
  await waitForIssues(popup);
  const expected = await openCount(popup);
  assert.ok(expected > 0);
  // The sign-in itself moves the badge (the worker hears the new grant): no alarm needed.
  const worker = await serviceWorker(ctx);
  await worker.evaluate(async (want) => {
    for (let i = 0; i < 200 && (await chrome.action.getBadgeText({})) !== want; i++) await new Promise((r) => setTimeout(r, 25));
  }, String(expected));
  assert.equal(await worker.evaluate(() => chrome.action.getBadgeText({})), String(expected));
  const alarm = await worker.evaluate(() => chrome.alarms.get('jira3lo-badge'));
  assert.equal(alarm?.periodInMinutes, 5, 'polled every 5 minutes by default');

  before = await stats();
  assert.equal(await poll(), String(expected));
  const after = await stats();
  assert.equal(total(after) - total(before), 1, 'one request per poll');
  assert.equal((after.requests[COUNT_ROUTE] ?? 0) - (before.requests[COUNT_ROUTE] ?? 0), 1);

  // Every grant revoked at Atlassian, the access token expired: the next poll says "reconnect".
  await admin('revoke', {});
  await admin('clock', { advance_secs: 2 * 3600 });
  assert.equal(await poll(), '!');
  await popup.close();
});

test('a 503 leaves the count and puts the next poll off; a sign-out empties the badge', async () => {
  await resetFake({ consent_mode: 'page', consent_user: 'bob' });
  await signOutExtension(ctx, id);
  const popup = await openPopup(ctx, id);
  await connectViaConsent(ctx, popup);
  await waitForIssues(popup);
  const expected = String(await openCount(popup));
  assert.equal(await poll(), expected);
  await admin('faults', { route: COUNT_ROUTE, count: 5, fault: { status: 503 } });
  assert.equal(await poll(), expected, 'a failure keeps the last count');
  let before = await stats();
  assert.equal(await poll(false), expected);
  assert.equal(total(await stats()), total(before), 'backing off: the alarm\'s poll sends nothing');
  await fetch(`${env.fake}/__admin/faults`, { method: 'DELETE' });

  // Sign out in the popup: the worker hears it and clears the badge.
  await popup.click('details.menu summary');
  await popup.click('#sign-out');
  const worker = await serviceWorker(ctx);
  await worker.evaluate(async () => {
    for (let i = 0; i < 200 && (await chrome.action.getBadgeText({})) !== ''; i++) await new Promise((r) => setTimeout(r, 25));
  });
  assert.equal(await worker.evaluate(() => chrome.action.getBadgeText({})), '');
  await popup.close();
});

test('opt-in notifications: an issue newly assigned to me since the last poll is notified; its click opens it in Jira', async () => {
  await resetFake({ consent_mode: 'page', consent_user: 'bob' });
  await signOutExtension(ctx, id);
  await setOverrides(ctx, id, { notifyAssigned: true });
  try {
    const popup = await openPopup(ctx, id);
    await connectViaConsent(ctx, popup);
    await waitForIssues(popup);
    const worker = await serviceWorker(ctx);
    const notifications = () => worker.evaluate(() => chrome.notifications.getAll().then(Object.keys));
    await poll(); // the first poll of the site records what is assigned already
    assert.deepEqual(await notifications(), [], 'nothing for issues assigned before');

    const created = await popup.evaluate(async () => {
      const { client } = globalThis.__jira3lo;
      const me = await client.myself();
      const [issue] = (await client.search({ jql: 'assignee = currentUser()', fields: ['project'], maxResults: 1 })).issues;
      return client.createIssue({ projectKey: issue.fields.project.key, issueType: 'Task', summary: 'Assigned while away', assigneeAccountId: me.accountId });
    });
    const before = await stats();
    await poll();
    const polled = await stats();
    assert.equal(total(polled) - total(before), 2, 'with notifications on, a poll costs the count and the keys');
    const ids = await notifications();
    assert.equal(ids.length, 1, `one notification: ${ids}`);
    assert.ok(ids[0].includes(`|${created.key}|`), `${ids[0]} names ${created.key}`);
    await poll();
    assert.equal((await notifications()).length, 1, 'not notified twice');

    // The site (a seed *.atlassian.net name) is not reachable from here: the tab's request is what is checked.
    const opened = ctx.waitForEvent('request', (r) => r.url().endsWith(`/browse/${created.key}`));
    await worker.evaluate((nid) => globalThis.__jira3lo.openNotification(nid), ids[0]);
    assert.match((await opened).url(), /^https:\/\/[a-z0-9-]+\.atlassian\.net\/browse\//);
    assert.deepEqual(await notifications(), [], 'the clicked notification is gone');
    await popup.close();
  } finally {
    await setOverrides(ctx, id, null);
  }
});
