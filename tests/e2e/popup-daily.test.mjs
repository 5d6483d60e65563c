// The popup in all-day use (issue 14's bugs), in the real extension against the real broker and fake: the
// list reflects every action taken in the popup, banners end with their cause, a failed refresh never
// leaves a spinner turning, a slow one says so, and the popup fits 360 px with a keyboard-usable menu.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  admin, connectViaConsent, env, noticeText, openPopup, resetFake, signOutExtension, TOKEN, useExtensionBrowser,
  waitForIssues,
} from './helpers.mjs';

let browser;
let ctx;
let id;
useExtensionBrowser((b) => {
  browser = b;
  ({ ctx, id } = b);
});

async function signedInPopup() {
  await resetFake({ consent_mode: 'page', consent_user: 'bob' });
  await signOutExtension(ctx, id);
  const popup = await openPopup(ctx, id);
  await connectViaConsent(ctx, popup);
  await waitForIssues(popup);
  return popup;
}

async function closeAll() {
  for (const p of ctx.pages()) await p.close();
}

const listedKeys = (popup) => popup.locator('#issues .issue-row').evaluateAll((rows) => rows.map((r) => r.dataset.key));

/** Opens `key` and moves it with the transition whose target status is `to` (case-insensitive). */
async function moveIssue(popup, key, to) {
  await popup.click(`#issues .issue-row[data-key="${key}"]`);
  await popup.locator(`#issue-view[data-key="${key}"]`).waitFor();
  const move = popup.locator('.transitions button', { hasText: new RegExp(`^${to}$`, 'i') });
  await move.click();
  await popup.locator('#notice', { hasText: 'moved to' }).waitFor();
}

test('a transition to Done and a created issue show in the list on the way back; the "moved to" banner stays behind', async () => {
  const popup = await signedInPopup();
  const [first] = await listedKeys(popup);
  await moveIssue(popup, first, 'Done');
  await popup.click('#back');
  // The list is fetched again: the issue done is no longer among my open issues.
  await popup.waitForFunction((key) => !document.querySelector(`#issues .issue-row[data-key="${key}"]`)
    && !document.querySelector('#updating'), first);
  assert.ok(!(await listedKeys(popup)).includes(first), `${first} left the list`);
  assert.equal(await popup.locator('#notice').count(), 0, 'the issue view\'s banner is not carried over');

  // Create (assignee: me by default) → back → the new issue is listed.
  await popup.click('#new-issue');
  await popup.waitForFunction(() => {
    const p = document.querySelector('#create-project');
    const t = document.querySelector('#create-type');
    return p?.value && t && !t.disabled && t.value;
  });
  assert.equal(await popup.inputValue('#create-assignee'), 'me');
  await popup.fill('#create-summary', `From the popup ${Date.now()}`);
  await popup.press('#create-summary', 'Enter');
  await popup.locator('#notice', { hasText: /^Created / }).waitFor();
  const created = (await noticeText(popup)).match(/Created ([A-Z][A-Z0-9]*-\d+)/)[1];
  await popup.click('#back');
  await popup.locator(`#issues .issue-row[data-key="${created}"]`).waitFor();
  assert.equal(await popup.locator('#notice').count(), 0);
  assert.deepEqual(popup.errors, []);
  await closeAll();
});

test('opening an issue while the refresh fails: the banner and a "could not be loaded" view, no spinner left', async () => {
  const popup = await signedInPopup();
  const [first] = await listedKeys(popup);
  // The access token is dead at the fake and every token request fails for a while.
  await admin('clock', { advance_secs: 2 * 3600 });
  await admin('faults', { route: TOKEN, count: 20, fault: { status: 503 } });
  await popup.click(`#issues .issue-row[data-key="${first}"]`);
  await popup.locator('#notice').waitFor();
  await popup.locator(`#issue-failed[data-key="${first}"]`).waitFor();
  assert.equal(await popup.locator('#main .spinner').count(), 0, 'no spinner under the banner');
  assert.equal(await popup.locator('#main [aria-busy="true"]').count(), 0);
  await fetch(`${env.fake}/__admin/faults`, { method: 'DELETE' });
  await closeAll();
});

test('a slow refresh (3 s) while the list is fetched again is visible; its end clears the indicator', async () => {
  const popup = await signedInPopup();
  const [first] = await listedKeys(popup);
  await moveIssue(popup, first, 'In Progress');
  // The token dies now and the next refresh takes 3 s at the token endpoint.
  await admin('clock', { advance_secs: 2 * 3600 });
  await admin('faults', { route: TOKEN, count: 1, fault: { delay_ms: 3000 } });
  await popup.click('#back');
  await popup.locator('#updating').waitFor({ timeout: 2000 });
  assert.match(await popup.locator('#updating').textContent(), /Updating/);
  await popup.locator('#updating').waitFor({ state: 'detached', timeout: 10_000 });
  await waitForIssues(popup);
  await closeAll();
});

test('at 360 px nothing overflows (list and issue view); the account menu takes ArrowDown', async () => {
  const popup = await signedInPopup();
  await popup.setViewportSize({ width: 360, height: 600 });
  const overflow = () => popup.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok((await overflow()) <= 0, `list overflows by ${await overflow()} px`);
  const [first] = await listedKeys(popup);
  await popup.click(`#issues .issue-row[data-key="${first}"]`);
  await popup.locator('#issue-view').waitFor();
  assert.ok((await overflow()) <= 0, `issue view overflows by ${await overflow()} px`);
  await popup.click('#back');
  await waitForIssues(popup);

  await popup.focus('details.menu summary');
  await popup.keyboard.press('ArrowDown');
  assert.equal(await popup.evaluate(() => document.querySelector('details.menu').open), true, 'the menu opened');
  const focused = () => popup.evaluate(() => document.activeElement?.textContent?.trim());
  assert.equal(await focused(), 'Switch site');
  await popup.keyboard.press('ArrowDown');
  assert.notEqual(await focused(), 'Switch site');
  await popup.keyboard.press('Escape');
  assert.equal(await popup.evaluate(() => document.querySelector('details.menu').open), false);
  await closeAll();
});

test('search: `/` focuses the box, a key opens the issue, text lists what Jira finds, Escape goes back to my issues', async () => {
  const popup = await signedInPopup();
  const mine = await listedKeys(popup);
  // Keyboard: `/` from the list goes to the search box.
  await popup.locator('#issues .issue-row').first().focus();
  await popup.keyboard.press('/');
  assert.equal(await popup.evaluate(() => document.activeElement?.id), 'search');

  // An issue key (typed in lower case) jumps straight to it.
  const key = mine[mine.length - 1];
  await popup.keyboard.type(key.toLowerCase());
  await popup.keyboard.press('Enter');
  await popup.locator(`#issue-view[data-key="${key}"]`).waitFor();
  const summary = (await popup.locator('#issue-summary').textContent()).trim();
  await popup.click('#back');
  await waitForIssues(popup);

  // Text: a word of that issue's summary finds it (Jira's text search at the fake).
  const word = summary.split(/\s+/).find((w) => /^[A-Za-z]{5,}$/.test(w)) ?? summary.split(/\s+/)[0];
  await popup.fill('#search', word);
  await popup.press('#search', 'Enter');
  await popup.locator('#list-title', { hasText: `Results for “${word}”` }).waitFor();
  await popup.locator(`#issues .issue-row[data-key="${key}"]`).waitFor();

  // Escape in the box: back to the default view, Assigned to me (my open issues).
  await popup.press('#search', 'Escape');
  await popup.locator('#list-title', { hasText: 'Assigned to me' }).waitFor({ state: 'attached' });
  await waitForIssues(popup);
  assert.deepEqual((await listedKeys(popup)).sort(), [...mine].sort());
  assert.deepEqual(popup.errors, []);
  await closeAll();
});
