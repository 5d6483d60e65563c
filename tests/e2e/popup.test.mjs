// The real MV3 extension in headless Chromium against the real broker and the real fake Atlassian:
// consent, cached sessions across popup reopen, one refresh across four contexts, revocation,
// site choice, cancel, and the daily work (issue view, comment, transition, create).
// One browser context is shared by the whole file (launching costs ~1-2 s); each test resets the
// fake and signs the extension out first, so the tests do not depend on each other's order.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  admin, connectViaConsent, count, countMatching, env, launch, noticeText, openPopup, requireEnv, resetFake,
  RESOURCES, serviceWorker, shot, signOutExtension, stats, TOKEN, waitForIssues,
} from './helpers.mjs';

let browser;
let ctx;
let id;

before(async () => {
  requireEnv();
  browser = await launch();
  ({ ctx, id } = browser);
  assert.equal(id, env.extensionId, 'the manifest key fixes the extension id');
});

after(async () => {
  await browser?.close();
});

/** Fresh fake (consent page, given user) + signed-out extension + an open popup. */
async function freshPopup(user = 'bob') {
  await resetFake({ consent_mode: 'page', consent_user: user });
  await signOutExtension(ctx, id);
  const popup = await openPopup(ctx, id);
  await popup.locator('#connect').waitFor();
  return popup;
}

async function closeAll() {
  for (const p of ctx.pages()) await p.close();
}

test('Connect → Accept on the consent page → my open issues; reopening the popup costs no token request', async () => {
  const popup = await freshPopup('bob');
  assert.match(await popup.locator('#version').textContent(), /\d+\.\d+\.\d+/);
  await shot(popup, 'popup-signed-out');

  const consentPromise = ctx.waitForEvent('page');
  // Keyboard: the Connect button has focus when the popup opens; Enter starts the sign-in.
  assert.equal(await popup.evaluate(() => document.activeElement?.id), 'connect');
  await popup.keyboard.press('Enter');
  const consent = await consentPromise;
  await popup.locator('#connecting').waitFor();
  const waiting = await popup.locator('#connecting').textContent();
  assert.match(waiting, /Waiting for Atlassian/);
  // A real popup closes when the Atlassian window opens: the text must not promise it updates by itself.
  assert.match(waiting, /If this popup closes meanwhile, click the Jira icon in the toolbar again/);
  await shot(popup, 'popup-waiting');
  await consent.locator('#accept').click();

  const n = await waitForIssues(popup);
  assert.ok(n > 0, 'bob has open issues assigned');
  assert.equal(await popup.locator('#site-picker').count(), 0, 'bob has one site: no picker');
  assert.ok((await popup.locator('#site-name').textContent()).trim().length > 0, 'the header names the site');

  const afterSignIn = await stats();
  assert.equal(afterSignIn.grants.authorization_code, 1);
  await popup.close();

  const reopened = await openPopup(ctx, id);
  await waitForIssues(reopened);
  await shot(reopened, 'popup-issues');
  const afterReopen = await stats();
  assert.equal(count(afterReopen, TOKEN), count(afterSignIn, TOKEN), 'no token request on reopen');
  assert.equal(count(afterReopen, RESOURCES), count(afterSignIn, RESOURCES), 'no accessible-resources request on reopen');
  assert.ok(countMatching(afterReopen, 'search/jql') > countMatching(afterSignIn, 'search/jql'), 'the list was fetched again');
  assert.deepEqual(reopened.errors, []);
  await closeAll();
});

test('expired access token: popup + service worker + two tabs call at once → exactly one refresh, nobody signed out', async () => {
  const popup = await freshPopup('bob');
  await connectViaConsent(ctx, popup);
  await waitForIssues(popup);
  const tabs = [popup, await openPopup(ctx, id), await openPopup(ctx, id)];
  for (const t of tabs.slice(1)) await waitForIssues(t);
  const worker = await serviceWorker(ctx);

  await admin('clock', { advance_secs: 2 * 3600 });
  const before = await stats();
  const search = { jql: 'assignee = currentUser() AND statusCategory != Done ORDER BY updated DESC', maxResults: 1 };
  const results = await Promise.all([
    ...tabs.map((t) => t.evaluate((p) => globalThis.__jira3lo.client.search(p).then((r) => r.issues.length), search)),
    worker.evaluate(async (p) => {
      // The worker exposes its hook once it has read config.json (testHooks); a fresh worker needs a moment.
      for (let i = 0; i < 100 && !globalThis.__jira3lo; i++) await new Promise((r) => setTimeout(r, 20));
      const client = await globalThis.__jira3lo.getClient();
      return (await client.search(p)).issues.length;
    }, search),
  ]);
  const afterCalls = await stats();
  assert.deepEqual(results, [1, 1, 1, 1], 'every context got its answer');
  assert.equal(afterCalls.grants.refresh_token - before.grants.refresh_token, 1, 'exactly one refresh grant');
  assert.equal(count(afterCalls, RESOURCES), count(before, RESOURCES), 'the site was not rediscovered');
  for (const t of tabs) {
    assert.equal((await t.evaluate(() => globalThis.__jira3lo.client.status())).state, 'signedIn');
  }
  const workerStatus = await worker.evaluate(async () => (await (await globalThis.__jira3lo.getClient()).status()).state);
  assert.equal(workerStatus, 'signedIn');
  // The popup UI never left the list.
  assert.equal(await popup.locator('#reconnect, #connect').count(), 0);
  await closeAll();
});

test('revoked tokens: the popup explains and offers Reconnect, which works', async () => {
  const popup = await freshPopup('bob');
  await connectViaConsent(ctx, popup);
  await waitForIssues(popup);

  await admin('revoke', {});
  await popup.click('#refresh');
  await popup.locator('#reconnect').waitFor();
  assert.match(await noticeText(popup), /expired or was revoked/i);
  await shot(popup, 'popup-reconnect');

  await connectViaConsent(ctx, popup);
  await waitForIssues(popup);
  assert.equal(await noticeText(popup), null, 'the reconnect notice is gone once signed in again');
  await closeAll();
});

test('a user with two sites gets the picker; the choice survives a reopen', async () => {
  const popup = await freshPopup('alice');
  await connectViaConsent(ctx, popup);
  await popup.locator('#site-picker').waitFor();
  const rows = popup.locator('#site-picker .site-row');
  assert.equal(await rows.count(), 2, 'alice has two Jira sites');
  await shot(popup, 'popup-site-picker');

  const second = rows.nth(1);
  const chosenName = (await second.locator('.site-name').textContent()).trim();
  // Keyboard: focus the second site and press Enter.
  await second.focus();
  await popup.keyboard.press('Enter');
  await waitForIssues(popup);
  assert.equal((await popup.locator('#site-name').textContent()).trim(), chosenName);
  const afterChoice = await stats();
  await popup.close();

  const reopened = await openPopup(ctx, id);
  await waitForIssues(reopened);
  assert.equal(await reopened.locator('#site-picker').count(), 0, 'no picker after reopening');
  assert.equal((await reopened.locator('#site-name').textContent()).trim(), chosenName, 'same site as chosen');
  const afterReopen = await stats();
  assert.equal(count(afterReopen, RESOURCES), count(afterChoice, RESOURCES));
  assert.equal(count(afterReopen, TOKEN), count(afterChoice, TOKEN));

  // Switch site from the account menu, then sign out from it.
  await reopened.click('.menu summary');
  await reopened.click('#switch-site');
  await reopened.locator('#site-picker').waitFor();
  const first = reopened.locator('#site-picker .site-row').first();
  const firstName = (await first.locator('.site-name').textContent()).trim();
  await first.click();
  await reopened.locator('#site-name', { hasText: firstName }).waitFor();
  await waitForIssues(reopened);
  await reopened.click('.menu summary');
  await reopened.click('#sign-out');
  await reopened.locator('#connect').waitFor();
  assert.equal((await reopened.evaluate(() => globalThis.__jira3lo.client.status())).state, 'signedOut');
  await closeAll();
});

test('Cancel on the consent page shows a clear message and leaves Connect ready', async () => {
  const popup = await freshPopup('bob');
  await connectViaConsent(ctx, popup, { answer: 'cancel' });
  await popup.locator('#notice[data-code="access_denied"]').waitFor();
  assert.match(await noticeText(popup), /cancelled/i);
  await popup.locator('#connect').waitFor();
  assert.equal((await stats()).grants.authorization_code, 0, 'no code was exchanged');
  await shot(popup, 'popup-cancelled');
  await closeAll();
});

test('daily work: open an issue, comment, move it, create a new one (keyboard)', async () => {
  const popup = await freshPopup('bob');
  await connectViaConsent(ctx, popup);
  await waitForIssues(popup);

  // Keyboard through the list: focus the first row, ArrowDown to the second, Enter opens it.
  const rows = popup.locator('#issues .issue-row');
  const secondKey = await rows.nth(1).getAttribute('data-key');
  await rows.first().focus();
  await popup.keyboard.press('ArrowDown');
  assert.equal(await popup.evaluate(() => document.activeElement?.dataset?.key), secondKey);
  await popup.keyboard.press('Enter');
  await popup.locator(`#issue-view[data-key="${secondKey}"]`).waitFor();
  assert.ok((await popup.locator('#issue-summary').textContent()).trim().length > 0);
  await popup.locator('#issue-description').waitFor();
  await shot(popup, 'popup-issue');

  // Comment: type and press Ctrl+Enter.
  const comment = `Looked into this (e2e ${Date.now()})`;
  await popup.fill('#comment-text', comment);
  await popup.press('#comment-text', 'Control+Enter');
  await popup.locator('#comments .comment-body', { hasText: comment }).waitFor();
  assert.match(await noticeText(popup), /Comment added/);
  await shot(popup, 'popup-comment-added');

  // Transition: the first offered move; the status pill then shows the target status.
  const move = popup.locator('.transitions button').first();
  const target = (await move.textContent()).trim();
  await move.click();
  await popup.locator('#notice', { hasText: 'moved to' }).waitFor();
  assert.equal((await popup.locator('#issue-status').textContent()).trim().toLowerCase(), target.toLowerCase());

  // Escape goes back to the list; then create an issue with Enter in the summary field.
  await popup.keyboard.press('Escape');
  await waitForIssues(popup);
  await popup.click('#new-issue');
  await popup.locator('#create-type option').first().waitFor({ state: 'attached' });
  await popup.waitForFunction(() => {
    const p = document.querySelector('#create-project');
    const t = document.querySelector('#create-type');
    return p?.value && t && !t.disabled && t.value;
  });
  const summary = `Created from the popup ${Date.now()}`;
  await popup.fill('#create-summary', summary);
  await popup.fill('#create-description', 'Line one\nLine two');
  await shot(popup, 'popup-create');
  await popup.press('#create-summary', 'Enter');
  await popup.locator('#issue-view').waitFor();
  assert.equal((await popup.locator('#issue-summary').textContent()).trim(), summary);
  assert.match(await noticeText(popup), /^Created [A-Z][A-Z0-9]*-\d+/);
  assert.match(await popup.locator('#issue-description').textContent(), /Line one\s+Line two/);
  assert.deepEqual(popup.errors, []);
  await closeAll();
});

test('rate limited and unreachable: plain-language errors with a way to retry', async () => {
  const popup = await freshPopup('bob');
  await connectViaConsent(ctx, popup);
  await waitForIssues(popup);

  await admin('settings', { rate_limit_budget: 0, rate_limit_window_secs: 60 });
  await popup.click('#refresh');
  await popup.locator('#notice[data-code="rate_limited"]').waitFor();
  assert.match(await noticeText(popup), /Try again in \d+ s/);
  await admin('settings', { rate_limit_budget: null });

  const route = Object.keys((await stats()).requests).find((r) => r.includes('search/jql'));
  await admin('faults', { route, count: 10, fault: 'drop' });
  await popup.click('#refresh');
  await popup.locator('#notice[data-code="network"]').waitFor().catch(async (e) => {
    throw new Error(`${e.message}\nnotice: ${await noticeText(popup)}\nstats: ${JSON.stringify(await stats())}`);
  });
  // The module says which origin failed: the API host (the fake), not the broker.
  const text = await noticeText(popup);
  assert.ok(text.startsWith(`Can't reach ${new URL(env.fake).host}. Check your connection, then try again`), text);
  assert.ok(!text.includes(new URL(env.broker).host), `the broker is not blamed: ${text}`);
  await closeAll();
});

test('options page: a broker override is used by the service worker and the popup; Reset to defaults restores it', async () => {
  await resetFake({ consent_mode: 'auto', consent_user: 'bob' });
  await signOutExtension(ctx, id);
  const options = await ctx.newPage();
  await options.goto(`chrome-extension://${id}/www/options.html`);
  assert.equal(await options.locator('#brokerUrl').getAttribute('placeholder'), env.broker, 'the default comes from config.json');
  assert.equal(await options.inputValue('#redirectUrl'), `https://${id}.chromiumapp.org/`);
  // A broker nobody listens on (port 9, discard) stands for a mistyped address.
  await options.fill('#brokerUrl', 'http://127.0.0.1:9');
  await options.click('#save');
  await options.locator('#saved', { hasText: 'Saved' }).waitFor();

  const popup = await openPopup(ctx, id);
  await popup.click('#connect');
  await popup.locator('#notice[data-code="network"]').waitFor();
  assert.match(await noticeText(popup), /^Can't reach 127\.0\.0\.1:9\. Check your connection and the broker address in Options/);

  const reloaded = popup.waitForEvent('load'); // the popup reloads itself when the options change
  await options.click('#reset');
  await options.locator('#saved', { hasText: 'Defaults restored' }).waitFor();
  assert.equal(await options.inputValue('#brokerUrl'), '');
  await reloaded;
  await popup.locator('#connect').waitFor();
  await popup.click('#connect');
  await waitForIssues(popup);
  await closeAll();
});
