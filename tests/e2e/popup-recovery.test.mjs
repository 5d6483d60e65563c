// The popup when something is off, in the real extension against the real broker and fake Atlassian:
// a sign-in whose site list is missing, a grant without a needed scope, a broker gone during a refresh or
// answering 429, new server addresses on the options page while signed in, and drafts left by Escape.
// Same setup as popup.test.mjs: one browser for the file, each test resets the fake and signs out first.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import {
  admin, connectViaConsent, count, env, hasStoredRefreshToken, inExtensionPage, noticeText, openOptionsPage,
  openPopup, resetFake, RESOURCES, setOverrides, shot, signOutExtension, stats, TOKEN, useExtensionBrowser,
  waitForIssues,
} from './helpers.mjs';

let browser;
let ctx;
let id;
useExtensionBrowser((b) => {
  browser = b;
  ({ ctx, id } = b);
});

async function signedInPopup(user = 'bob') {
  await resetFake({ consent_mode: 'page', consent_user: user });
  await signOutExtension(ctx, id);
  await setOverrides(ctx, id, null);
  const popup = await openPopup(ctx, id);
  await connectViaConsent(ctx, popup);
  return popup;
}

async function closeAll() {
  for (const p of ctx.pages()) await p.close();
}

/** Forgets the stored site list, as if the sign-in's site discovery had never finished. */
const forgetSites = () =>
  inExtensionPage(ctx, id, async () => {
    const keys = Object.keys(await chrome.storage.local.get(null)).filter((k) => /^jira3lo:.*:site$/.test(k));
    await chrome.storage.local.remove(keys);
    return keys.length;
  });

async function clearFaults() {
  const res = await fetch(`${env.fake}/__admin/faults`, { method: 'DELETE' });
  assert.ok(res.ok);
}

test('signed in without a site list: the popup discovers the sites instead of hanging, explains a failure, and Try again recovers', async () => {
  const popup = await signedInPopup('bob');
  await waitForIssues(popup);
  await popup.close();
  assert.equal(await forgetSites(), 1);
  const route = RESOURCES;
  await admin('faults', { route, count: 10, fault: 'drop' });
  const before = await stats();

  const reopened = await openPopup(ctx, id); // returns once no view is loading any more
  await reopened.locator('#sites-failed').waitFor();
  assert.equal(await reopened.locator('#notice').getAttribute('data-code'), 'network');
  // The module names the origin that failed: the API host (the fake), here.
  assert.ok((await noticeText(reopened)).startsWith(`Can't reach ${new URL(env.fake).host}.`), await noticeText(reopened));
  assert.equal(await reopened.evaluate(() => document.activeElement?.id), 'retry-sites', 'Try again has the focus');
  await shot(reopened, 'popup-sites-failed');
  const failed = await stats();
  assert.ok(count(failed, RESOURCES) > count(before, RESOURCES), 'the popup asked for the sites itself');

  await clearFaults();
  await reopened.keyboard.press('Enter');
  await waitForIssues(reopened);
  assert.equal(await noticeText(reopened), null, 'the error is gone');
  assert.equal(count(await stats(), RESOURCES) - count(failed, RESOURCES), 1, 'one discovery on Try again');
  assert.equal(count(await stats(), TOKEN), count(before, TOKEN), 'no token request: the stored grant was used');
  assert.deepEqual(reopened.errors, []);
  await closeAll();
});

test('signed in without a site list, two sites: the discovered sites are offered in the picker', async () => {
  const popup = await signedInPopup('alice');
  await popup.locator('#site-picker').waitFor();
  await popup.close();
  await forgetSites();
  const reopened = await openPopup(ctx, id);
  await reopened.locator('#site-picker').waitFor();
  assert.equal(await reopened.locator('#site-picker .site-row').count(), 2);
  await closeAll();
});

test('missing scope: the popup points to Options instead of a Reconnect that asks the same; once the scopes change, Reconnect grants them', async () => {
  // A grant without write:jira-work: reading works, commenting does not.
  await resetFake({ consent_mode: 'page', consent_user: 'bob' });
  await signOutExtension(ctx, id);
  await setOverrides(ctx, id, { scopes: ['read:jira-work', 'read:jira-user', 'offline_access'] });
  try {
    const popup = await openPopup(ctx, id);
    await connectViaConsent(ctx, popup);
    await waitForIssues(popup);
    await popup.locator('#issues .issue-row').first().click();
    await popup.locator('#issue-view').waitFor();
    await popup.fill('#comment-text', 'Needs write access');
    await popup.click('#comment-form button[type=submit]');
    await popup.locator('#notice[data-code="missing_scope"]').waitFor();
    assert.match(await noticeText(popup), /reconnecting would ask for the same ones\. Add the missing scope in Options, then reconnect/);
    assert.equal(await popup.locator('#reconnect, #connect').count(), 0, 'no Reconnect: it would ask for the same scopes');
    assert.equal(await popup.locator('#issue-view').count(), 1, 'still signed in, still on the issue');
    assert.equal(await popup.inputValue('#comment-text'), 'Needs write access', 'the comment is not lost');
    await shot(popup, 'popup-missing-scope');

    const optionsOpened = ctx.waitForEvent('page');
    await popup.click('#open-options');
    const options = await optionsOpened;
    await options.waitForFunction(() => document.querySelector('#scopes')?.value);
    await options.fill('#scopes', 'read:jira-work write:jira-work read:jira-user offline_access');
    const reloaded = popup.waitForEvent('load'); // the popup starts over with the new options
    await options.click('#save');
    await options.locator('#saved', { hasText: 'Reconnect from the toolbar popup' }).waitFor();
    await reloaded;

    await popup.locator('#notice[data-code="scopes_changed"] #reconnect').waitFor();
    await waitForIssues(popup); // still signed in meanwhile
    const grants = (await stats()).grants.authorization_code;
    await connectViaConsent(ctx, popup);
    await popup.locator('#notice[data-code="scopes_changed"]').waitFor({ state: 'detached' });
    await waitForIssues(popup);
    assert.equal((await stats()).grants.authorization_code, grants + 1, 'a new consent');

    await popup.locator('#issues .issue-row').first().click();
    await popup.fill('#comment-text', 'Now with write access');
    await popup.press('#comment-text', 'Control+Enter');
    await popup.locator('#notice', { hasText: 'Comment added' }).waitFor();
    assert.deepEqual(popup.errors, []);
  } finally {
    await closeAll(); // before the reset, which would reload an open popup while it closes
    await setOverrides(ctx, id, null);
  }
});

test('broker unreachable during a refresh: the message names the broker, not the Jira host', async () => {
  const popup = await signedInPopup('bob');
  await waitForIssues(popup);
  // The broker went away (written to storage directly: the options page would sign out first).
  const reloaded = popup.waitForEvent('load');
  await setOverrides(ctx, id, { brokerUrl: 'http://127.0.0.1:9' });
  await reloaded;
  await waitForIssues(popup); // the access token is still good: no broker needed yet
  try {
    await admin('clock', { advance_secs: 2 * 3600 });
    const before = await stats();
    await popup.click('#refresh');
    await popup.locator('#notice[data-code="network"]').waitFor();
    const text = await noticeText(popup);
    assert.match(text, /^Can't reach 127\.0\.0\.1:9\. Check your connection, then try again\./);
    assert.ok(!text.includes(new URL(env.fake).host), `the Jira host is not blamed: ${text}`);
    assert.equal((await stats()).grants.refresh_token, before.grants.refresh_token, 'the refresh never reached Atlassian');
    assert.equal(await popup.locator('#retry').count(), 1, 'Try again is offered');
    assert.equal(await hasStoredRefreshToken(ctx, id), true, 'still signed in');
  } finally {
    await closeAll(); // before the reset, which would reload an open popup while it closes
    await setOverrides(ctx, id, null);
  }
});

test('Atlassian busy while the broker exchanges the code: "busy, try again", not "check the broker address"; Connect works after', async () => {
  await resetFake({ consent_mode: 'page', consent_user: 'bob' });
  await signOutExtension(ctx, id);
  const popup = await openPopup(ctx, id);
  await admin('faults', {
    route: TOKEN,
    count: 1,
    fault: { status: 429, body: JSON.stringify({ error: 'rate_limited', error_description: 'too many token requests' }), retry_after_secs: 30 },
  });
  // The broker's hosted callback meets the 429 and sends the sign-in back with #error=rate_limited.
  await connectViaConsent(ctx, popup);
  await popup.locator('#notice[data-code="provider_error"]').waitFor();
  const text = await noticeText(popup);
  assert.match(text, /^Atlassian's sign-in service is busy\. Try again in a moment\./);
  assert.doesNotMatch(text, /broker address/);
  await shot(popup, 'popup-broker-429');
  await connectViaConsent(ctx, popup);
  await waitForIssues(popup);
  await closeAll();
});

test('options: a new broker address while signed in asks first, then signs out; the new broker never sees a token', async () => {
  const seen = [];
  const standIn = http.createServer((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    res.writeHead(503, { 'access-control-allow-origin': '*' });
    res.end();
  });
  await new Promise((resolve) => standIn.listen(0, '127.0.0.1', resolve));
  const newBroker = `http://127.0.0.1:${standIn.address().port}`;
  try {
    const popup = await signedInPopup('bob');
    await waitForIssues(popup);
    const options = await openOptionsPage(ctx, id);
    await options.fill('#brokerUrl', newBroker);
    await options.click('#save');
    await options.locator('#confirm-signout').waitFor();
    assert.match(await options.locator('#confirm-text').textContent(), /saving a new token broker address signs you out/);
    assert.equal(await options.evaluate(() => document.activeElement?.id), 'confirm-save');
    await shot(options, 'options-confirm-signout');

    // Escape cancels: nothing saved, still signed in.
    await options.keyboard.press('Escape');
    await options.locator('#confirm-signout').waitFor({ state: 'hidden' });
    await options.locator('#saved', { hasText: 'Nothing was saved' }).waitFor();
    assert.deepEqual(await options.evaluate(async () => (await chrome.storage.local.get('jira3lo.options'))['jira3lo.options'] ?? null), null);
    assert.equal(await hasStoredRefreshToken(ctx, id), true);

    // An expired access token: a kept session would now refresh through the new broker.
    await admin('clock', { advance_secs: 2 * 3600 });
    await options.click('#save');
    await options.locator('#confirm-save').waitFor();
    const reloaded = popup.waitForEvent('load');
    await options.keyboard.press('Enter'); // the confirm button has the focus
    await options.locator('#saved', { hasText: 'You were signed out' }).waitFor();
    await reloaded;
    await popup.locator('#connect').waitFor();
    assert.equal(await hasStoredRefreshToken(ctx, id), false, 'the tokens are gone');
    assert.equal(await options.inputValue('#brokerUrl'), newBroker, 'the new address was saved');
    assert.deepEqual(seen, [], 'nothing reached the new broker');

    // Reset while signed out: no question asked.
    await options.click('#reset');
    await options.locator('#saved', { hasText: 'Defaults restored' }).waitFor();
    assert.equal(await options.locator('#confirm-signout').isHidden(), true);
  } finally {
    standIn.closeAllConnections();
    standIn.close();
    await closeAll(); // before the reset, which would reload an open popup while it closes
    await setOverrides(ctx, id, null);
  }
});

test('Escape keeps an unsent comment and a started issue as drafts; Cancel discards the form', async () => {
  const popup = await signedInPopup('bob');
  await waitForIssues(popup);
  const first = popup.locator('#issues .issue-row').first();
  const key = await first.getAttribute('data-key');
  await first.click();
  await popup.locator(`#issue-view[data-key="${key}"]`).waitFor();
  await popup.fill('#comment-text', 'Half a thought');
  await popup.keyboard.press('Escape'); // focus is in the comment box
  await waitForIssues(popup);
  assert.match(await noticeText(popup), new RegExp(`unsent comment on ${key} is kept`));
  await popup.locator(`#issues .issue-row[data-key="${key}"]`).click();
  await popup.locator(`#issue-view[data-key="${key}"]`).waitFor();
  assert.equal(await popup.inputValue('#comment-text'), 'Half a thought');

  await popup.click('#back');
  await waitForIssues(popup);
  await popup.click('#new-issue');
  await popup.waitForFunction(() => document.querySelector('#create-type')?.value);
  await popup.fill('#create-summary', 'A draft summary');
  await popup.keyboard.press('Escape');
  await waitForIssues(popup);
  assert.match(await noticeText(popup), /new issue is kept as a draft/);
  await popup.click('#new-issue');
  await popup.waitForFunction(() => document.querySelector('#create-type')?.value);
  assert.equal(await popup.inputValue('#create-summary'), 'A draft summary');

  await popup.click('#create-cancel');
  await waitForIssues(popup);
  assert.equal(await noticeText(popup), null, 'Cancel says nothing: it was asked for');
  await popup.click('#new-issue');
  await popup.locator('#create-summary').waitFor();
  assert.equal(await popup.inputValue('#create-summary'), '');
  assert.deepEqual(popup.errors, []);
  await closeAll();
});
