// The popup's first paint from its snapshot (www/snapshot.js) and the per-site snapshot and badge, in the real
// extension against the real broker and fake: the last list of the current site is painted before the module
// is ready, also when the fake is unreachable (then the failure is reported and the rows are marked as not
// updated); fresh rows replace it in place (no skeleton, the focused row keeps the focus); a site switch
// paints that site's last list and moves the badge; a signed-out user never sees the previous rows.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  admin, connectViaConsent, env, noticeText, openPopup, resetFake, serviceWorker, shot, signOutExtension,
  storedSnapshots, useExtensionBrowser, waitForIssues,
} from './helpers.mjs';

let browser;
let ctx;
let id;
useExtensionBrowser((b) => {
  browser = b;
  ({ ctx, id } = b);
});

const SEARCH_ROUTE = 'GET /ex/jira/{cloudId}/rest/api/3/search/jql';
const BADGE_JQL = 'assignee = currentUser() AND statusCategory != Done';

async function closeAll() {
  for (const p of ctx.pages()) await p.close();
}

async function clearFaults() {
  const res = await fetch(`${env.fake}/__admin/faults`, { method: 'DELETE' });
  assert.ok(res.ok);
}

const listedKeys = (page) => page.locator('#issues .issue-row').evaluateAll((rows) => rows.map((r) => r.dataset.key));

/** Waits until the stored snapshot of the current site lists `keys` (written after a fresh paint). */
async function snapshotListing(keys) {
  for (let i = 0; i < 100; i++) {
    const store = await storedSnapshots(ctx, id);
    const snap = store?.current ? store.sites[store.current] : null;
    if (snap && JSON.stringify(snap.rows.map((r) => r.key)) === JSON.stringify(keys)) return store;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.fail(`no snapshot listing ${keys}: ${JSON.stringify(await storedSnapshots(ctx, id))?.slice(0, 300)}`);
}

/**
 * Opens the popup page without waiting for the app, recording from the first script on: whether a list
 * skeleton (the loading placeholder) or an issue row was ever in the DOM.
 */
async function openWatched() {
  const page = await ctx.newPage();
  await page.setViewportSize({ width: 380, height: 600 });
  page.errors = [];
  page.on('pageerror', (e) => page.errors.push(String(e)));
  await page.addInitScript(() => {
    const seen = (globalThis.__seen = { skeleton: false, rows: false });
    new MutationObserver(() => {
      if (document.querySelector('.issue-list.skeleton')) seen.skeleton = true;
      if (document.querySelector('.issue-row[data-key]')) seen.rows = true;
    }).observe(document, { subtree: true, childList: true });
  });
  await page.goto(`chrome-extension://${id}/www/popup.html`);
  return page;
}

const marks = (page) => page.evaluate(() => Object.fromEntries(performance.getEntriesByType('mark').map((m) => [m.name, { at: m.startTime, detail: m.detail }])));

async function signedInPopup(user = 'bob', site) {
  await resetFake({ consent_mode: 'page', consent_user: user });
  await signOutExtension(ctx, id);
  const popup = await openPopup(ctx, id);
  await connectViaConsent(ctx, popup, { site });
  if (user === 'alice') {
    await popup.locator('#site-picker').waitFor();
    await popup.locator('#site-picker .site-row').first().click();
  }
  await waitForIssues(popup);
  return popup;
}

test('the fake unreachable: the last list is painted from the snapshot before the module is ready, marked "Not updated", with the network error', async () => {
  const popup = await signedInPopup();
  const keys = await listedKeys(popup);
  const site = (await popup.locator('#site-name').textContent()).trim();
  const count = (await popup.locator('#issue-count').textContent()).trim();
  const store = await snapshotListing(keys);
  assert.ok(!JSON.stringify(store).match(/token|Bearer|eyJ/i), 'the snapshot holds no token');
  await closeAll();

  // Every request to the fake (API, token endpoint) now fails at the network level: the connection is closed unanswered.
  await admin('faults', { route: '*', count: 10_000, fault: 'drop' });
  try {
    const page = await openWatched();
    await page.locator('#notice[data-code="network"]').waitFor();
    assert.deepEqual(await listedKeys(page), keys, 'the snapshot\'s rows stay on screen');
    assert.equal((await page.locator('#site-name').textContent()).trim(), site);
    assert.equal((await page.locator('#issue-count').textContent()).trim(), count);
    assert.equal(await page.locator('#list-stale').count(), 1, 'the rows are marked as not updated');
    await shot(page, 'popup-snapshot-offline');
    assert.ok((await noticeText(page)).startsWith(`Can't reach ${new URL(env.fake).host}.`), await noticeText(page));
    const m = await marks(page);
    assert.ok(m['jira3lo:snapshot-painted'], 'painted from the snapshot');
    assert.ok(m['jira3lo:snapshot-painted'].at < m['jira3lo:module-ready'].at, `painted at ${m['jira3lo:snapshot-painted'].at} ms, module ready at ${m['jira3lo:module-ready'].at} ms`);
    assert.equal(m['jira3lo:module-ready'].detail.rows, keys.length, 'every row was on screen when the module became ready');
    assert.equal(m['jira3lo:first-issues'], undefined, 'nothing fresh arrived');
    assert.equal(await page.evaluate(() => globalThis.__seen.skeleton), false, 'no loading skeleton over the rows');
    assert.deepEqual(page.errors, []);

    // The fake is back: Try again replaces the rows with fresh ones, and the marks go.
    await clearFaults();
    await page.click('#retry');
    await page.waitForFunction(() => performance.getEntriesByName('jira3lo:first-issues').length > 0);
    assert.equal(await page.locator('#list-stale').count(), 0);
    assert.equal(await page.locator('#notice').count(), 0);
    assert.deepEqual(await listedKeys(page), keys);
  } finally {
    await clearFaults();
  }
  await closeAll();
});

test('fresh rows replace the snapshot\'s in place: no skeleton, the focused row keeps the focus, a row gone at Jira goes', async () => {
  const popup = await signedInPopup();
  const keys = await listedKeys(popup);
  assert.ok(keys.length >= 3, `bob has at least 3 open issues (${keys})`);
  await snapshotListing(keys);
  // Behind the snapshot's back, the first issue is done at Jira.
  const gone = keys[0];
  await popup.evaluate(async (key) => {
    const { client } = globalThis.__jira3lo;
    const answer = await client.transitions(key);
    const done = (answer.transitions ?? answer).find((t) => t.to?.statusCategory?.key === 'done');
    await client.transition(key, done.id);
  }, gone);
  await closeAll();

  // The search answers after 1.5 s: time to focus a row of the snapshot.
  await admin('faults', { route: SEARCH_ROUTE, count: 1, fault: { delay_ms: 1500 } });
  const page = await openWatched();
  await page.locator(`#issues .issue-row[data-key="${gone}"]`).waitFor();
  const focusKey = keys[2];
  await page.locator(`#issues .issue-row[data-key="${focusKey}"]`).focus();
  await page.waitForFunction(() => performance.getEntriesByName('jira3lo:first-issues').length > 0, null, { timeout: 10_000 });
  assert.equal(await page.locator(`#issues .issue-row[data-key="${gone}"]`).count(), 0, `${gone} (done) left the list`);
  assert.deepEqual(await listedKeys(page), keys.filter((k) => k !== gone));
  assert.equal(await page.evaluate(() => document.activeElement?.dataset?.key), focusKey, 'the focus stayed on its row');
  assert.equal(await page.evaluate(() => globalThis.__seen.skeleton), false, 'no loading skeleton at any time');
  assert.equal(await page.locator('#updating, #list-stale').count(), 0);
  assert.deepEqual(page.errors, []);
  await snapshotListing(keys.filter((k) => k !== gone));
  await closeAll();
});

test('signed out in the popup, or the grant refused in the background: the next popup never shows the previous rows', async () => {
  let popup = await signedInPopup();
  await snapshotListing(await listedKeys(popup));
  await popup.click('details.menu summary');
  await popup.click('#sign-out');
  await popup.locator('#connect').waitFor();
  await closeAll();
  assert.equal(await storedSnapshots(ctx, id), null, 'the sign-out cleared the snapshots');
  let page = await openWatched();
  await page.locator('#connect').waitFor();
  assert.equal(await page.evaluate(() => globalThis.__seen.rows), false, 'no issue row was ever painted');
  await closeAll();

  // Signed in again; then Atlassian refuses the grant, which the background's poll finds out: the module
  // removes the grant, and the snapshots go with it before any popup opens.
  popup = await signedInPopup();
  await snapshotListing(await listedKeys(popup));
  await closeAll();
  await admin('revoke', {});
  await admin('clock', { advance_secs: 2 * 3600 });
  const worker = await serviceWorker(ctx);
  assert.equal(await worker.evaluate(async () => {
    for (let i = 0; i < 100 && !globalThis.__jira3lo?.pollBadge; i++) await new Promise((r) => setTimeout(r, 20));
    await globalThis.__jira3lo.pollBadge({ force: true });
    return chrome.action.getBadgeText({});
  }), '!');
  for (let i = 0; i < 100 && (await storedSnapshots(ctx, id)) !== null; i++) await new Promise((r) => setTimeout(r, 20));
  assert.equal(await storedSnapshots(ctx, id), null, 'the refused grant cleared the snapshots');
  page = await openWatched();
  await page.locator('#reconnect, #connect').first().waitFor();
  assert.equal(await page.evaluate(() => globalThis.__seen.rows), false, 'no issue row was ever painted');
  await closeAll();
});

/** The badge text once it equals `want` (the worker polls on its own after a sign-in or a site switch). */
async function badgeBecomes(want) {
  const worker = await serviceWorker(ctx);
  return worker.evaluate(async (want) => {
    for (let i = 0; i < 400 && (await chrome.action.getBadgeText({})) !== want; i++) await new Promise((r) => setTimeout(r, 25));
    return chrome.action.getBadgeText({});
  }, want);
}

test('two sites: each has its own snapshot and its own badge count; a switch in the popup moves both', async () => {
  const popup = await signedInPopup('alice');
  const siteA = (await popup.locator('#site-name').textContent()).trim();
  const keysA = await listedKeys(popup);
  const countA = await popup.evaluate((jql) => globalThis.__jira3lo.client.approximateCount(jql), BADGE_JQL);
  assert.equal(await badgeBecomes(String(countA)), String(countA), `the badge counts ${siteA}`);
  await snapshotListing(keysA);

  // Switch to the other site: the badge follows without waiting for the alarm.
  await popup.click('details.menu summary');
  await popup.click('#switch-site');
  await popup.locator('#site-picker').waitFor();
  await popup.locator('#site-picker .site-row:not(.current)').click();
  await popup.locator('#site-name', { hasText: new RegExp(`^(?!${siteA}$)`) }).waitFor();
  const siteB = (await popup.locator('#site-name').textContent()).trim();
  assert.notEqual(siteB, siteA);
  await popup.waitForFunction(() => !document.querySelector('#main .list-head[aria-busy], #main .list[aria-busy]'));
  const keysB = await listedKeys(popup);
  const countB = await popup.evaluate((jql) => globalThis.__jira3lo.client.approximateCount(jql), BADGE_JQL);
  assert.notEqual(countB, countA, 'the two sites have different counts (else this test proves nothing)');
  assert.equal(await badgeBecomes(String(countB)), String(countB), `the badge counts ${siteB} now`);
  await snapshotListing(keysB);
  const store = await storedSnapshots(ctx, id);
  assert.equal(Object.keys(store.sites).length, 2, 'one snapshot per site');
  await closeAll();

  // The next popup paints the chosen site's last list first.
  await admin('faults', { route: SEARCH_ROUTE, count: 1, fault: { delay_ms: 1000 } });
  let page = await openWatched();
  await page.locator('#issues .issue-row').first().waitFor();
  assert.equal((await page.locator('#site-name').textContent()).trim(), siteB);
  assert.deepEqual(await listedKeys(page), keysB);
  assert.equal(await page.evaluate(() => performance.getEntriesByName('jira3lo:first-issues').length), 0, 'painted before the search answered');
  await page.waitForFunction(() => performance.getEntriesByName('jira3lo:first-issues').length > 0, null, { timeout: 10_000 });

  // Back to the first site: its own last list is painted at once (before its search answers), then the badge follows.
  await admin('faults', { route: SEARCH_ROUTE, count: 1, fault: { delay_ms: 1000 } });
  await page.click('details.menu summary');
  await page.click('#switch-site');
  await page.locator('#site-picker').waitFor();
  await page.locator('#site-picker .site-row:not(.current)').click();
  await page.locator('#site-name', { hasText: siteA }).waitFor();
  await page.locator('#issues .issue-row').first().waitFor({ timeout: 500 });
  assert.deepEqual(await listedKeys(page), keysA, `${siteA}'s snapshot, painted before its search answered`);
  assert.equal(await page.evaluate(() => globalThis.__seen.skeleton), false, 'no loading skeleton over the rows');
  assert.equal(await badgeBecomes(String(countA)), String(countA));
  await page.waitForFunction(() => !document.querySelector('#main .list-head[aria-busy]'));
  assert.deepEqual(page.errors, []);
  await closeAll();
});
