// Views, saved filters, actions and the keyboard (issue 14, "What people expect"), in the real extension against
// the real broker and fake: a filter saved in Options is a view in the popup and what the badge counts, the old
// badgeJql option becomes one, "assign to me" and an edited summary reach the fake and the list, the shortcuts
// work (and never while typing), and the new UI fits 360 px in dark mode.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  admin, connectViaConsent, env, noticeText, openOptionsPage, openPopup, resetFake, serviceWorker, setOverrides,
  signOutExtension, useExtensionBrowser, waitForIssues,
} from './helpers.mjs';

let browser;
let ctx;
let id;
useExtensionBrowser((b) => {
  browser = b;
  ({ ctx, id } = b);
});

/** bob (one site, globex) signed in; no saved filters; the popup open on its list. */
async function signedInPopup() {
  await resetFake({ consent_mode: 'page', consent_user: 'bob' });
  await signOutExtension(ctx, id);
  await clearSync();
  const popup = await openPopup(ctx, id);
  await connectViaConsent(ctx, popup);
  await waitForIssues(popup);
  return popup;
}

async function closeAll() {
  for (const p of ctx.pages()) await p.close();
}

async function clearSync() {
  const page = await ctx.newPage();
  await page.goto(`chrome-extension://${id}/www/options.html`);
  await page.evaluate(() => chrome.storage.sync.clear());
  await page.close();
}

const listedKeys = (popup) => popup.locator('#issues .issue-row').evaluateAll((rows) => rows.map((r) => r.dataset.key));
/** The keys Jira (the fake) lists for `jql`, first page of `max`, asked from the popup's own client. */
const fakeKeys = (popup, jql, max = 30) =>
  popup.evaluate(async ({ jql, max }) => (await globalThis.__jira3lo.client.search({ jql, fields: ['summary'], maxResults: max })).issues.map((i) => i.key), { jql, max });
const badge = async () => {
  const worker = await serviceWorker(ctx);
  return worker.evaluate(async () => ({ text: await chrome.action.getBadgeText({}), title: await chrome.action.getTitle({}) }));
};
/** Waits until the badge shows `text` (the worker polls on its own when the choice changes). */
async function badgeBecomes(text) {
  const worker = await serviceWorker(ctx);
  await worker.evaluate(async (want) => {
    for (let i = 0; i < 300 && (await chrome.action.getBadgeText({})) !== want; i++) await new Promise((r) => setTimeout(r, 25));
  }, text);
  return badge();
}

test('a filter saved in Options is a view in the popup listing the fake\'s matches, and the badge counts it once chosen', async () => {
  const popup = await signedInPopup();
  const jql = 'project = HR';
  const options = await openOptionsPage(ctx, id);
  await options.fill('#filter-name', 'People Ops');
  await options.fill('#filter-jql', jql);
  await options.click('#filter-add-button');
  await options.locator('#filters li .filter-name').first().waitFor();
  assert.equal(await options.inputValue('#filters li .filter-name'), 'People Ops');
  // A refused filter says why with a typed code and keeps what was typed.
  await options.fill('#filter-name', 'Watching');
  await options.fill('#filter-jql', 'project = HR');
  await options.click('#filter-add-button');
  assert.equal(await options.getAttribute('#filters-error', 'data-code'), 'name_taken');
  assert.equal(await options.inputValue('#filter-jql'), 'project = HR');
  assert.equal(await options.locator('#filters li').count(), 1);

  // The open popup hears the synced record: the switcher offers the filter; choosing it lists Jira's matches.
  await popup.locator('#view option', { hasText: 'People Ops' }).waitFor({ state: 'attached' });
  await popup.selectOption('#view', { label: 'People Ops' });
  await popup.locator('#list-title', { hasText: 'People Ops' }).waitFor({ state: 'attached' });
  await popup.waitForFunction(() => !document.querySelector('#main [aria-busy="true"]') && document.querySelector('#issues .issue-row'));
  const expected = await fakeKeys(popup, jql);
  assert.ok(expected.length > 0);
  assert.deepEqual(await listedKeys(popup), expected);

  // The badge counts "Assigned to me" until the filter is chosen in Options, then the filter.
  const all = (await fakeKeys(popup, jql, 100)).length;
  const mine = (await fakeKeys(popup, 'assignee = currentUser() AND statusCategory != Done', 100)).length;
  assert.notEqual(all, mine, 'the two counts differ, so the badge shows which one it counts');
  assert.equal((await badgeBecomes(String(mine))).text, String(mine));
  await options.selectOption('#badgeView', { label: 'People Ops' });
  const shown = await badgeBecomes(String(all));
  assert.equal(shown.text, String(all));
  assert.match(shown.title, /People Ops/);

  // Deleted in Options: the popup falls back to "Assigned to me", the badge too.
  await options.click('#filters li .filter-delete');
  await popup.locator('#view option', { hasText: 'People Ops' }).waitFor({ state: 'detached' });
  assert.equal(await popup.inputValue('#view'), 'assigned');
  assert.equal((await badgeBecomes(String(mine))).text, String(mine));
  assert.deepEqual(popup.errors, []);
  await closeAll();
});

test('the old badgeJql option becomes a saved filter the badge counts (no setting lost)', async () => {
  await resetFake({ consent_mode: 'page', consent_user: 'bob' });
  await signOutExtension(ctx, id);
  await clearSync();
  await setOverrides(ctx, id, { badgeJql: 'project = HR', badgePeriodMinutes: 7 });
  const options = await openOptionsPage(ctx, id);
  await options.locator('#filters li .filter-jql').first().waitFor();
  assert.equal(await options.inputValue('#filters li .filter-jql'), 'project = HR');
  assert.equal(await options.inputValue('#filters li .filter-name'), 'Badge');
  assert.equal(await options.locator('#badgeView option:checked').textContent(), 'Badge');
  const stored = await options.evaluate(async () => ({
    local: (await chrome.storage.local.get('jira3lo.options'))['jira3lo.options'],
    sync: (await chrome.storage.sync.get('jira3lo.filters'))['jira3lo.filters'],
  }));
  assert.deepEqual(stored.local, { badgePeriodMinutes: 7 }, 'the old key is gone, the other options stay');
  assert.equal(stored.sync.badge, stored.sync.filters[0].id);
  assert.equal(await options.inputValue('#badgePeriodMinutes'), '7');

  const popup = await openPopup(ctx, id);
  await connectViaConsent(ctx, popup);
  await waitForIssues(popup);
  const hr = (await fakeKeys(popup, 'project = HR', 100)).length;
  assert.equal((await badgeBecomes(String(hr))).text, String(hr));
  await setOverrides(ctx, id, null);
  await closeAll();
});

test('assign to me from the list: the fake\'s issue is assigned and the row says so; from the issue view too', async () => {
  const popup = await signedInPopup();
  const me = await popup.evaluate(() => globalThis.__jira3lo.client.myself());
  await popup.selectOption('#view', { label: 'Reported by me' });
  await popup.locator('#list-title', { hasText: 'Reported by me' }).waitFor({ state: 'attached' });
  const button = popup.locator('#issues .issue-item:has([data-action="assign-me"]) .issue-row').first();
  await button.waitFor();
  const key = await button.getAttribute('data-key');
  const before = await popup.evaluate((k) => globalThis.__jira3lo.client.getIssue(k, { fields: ['assignee'] }), key);
  assert.notEqual(before.fields.assignee?.accountId, me.accountId);

  await popup.click(`#issues .issue-item:has(.issue-row[data-key="${key}"]) [data-action="assign-me"]`);
  await popup.locator('#notice', { hasText: `${key} is assigned to you.` }).waitFor();
  const row = popup.locator(`#issues .issue-item:has(.issue-row[data-key="${key}"])`);
  await row.locator('.issue-assignee', { hasText: me.displayName }).waitFor();
  assert.equal(await row.locator('[data-action="assign-me"]').count(), 0, 'no "assign to me" on my own issue');
  const after = await popup.evaluate((k) => globalThis.__jira3lo.client.getIssue(k, { fields: ['assignee'] }), key);
  assert.equal(after.fields.assignee.accountId, me.accountId, 'assigned at the fake');
  // "Assigned to me" lists it now.
  await popup.selectOption('#view', 'assigned');
  await popup.locator(`#issues .issue-row[data-key="${key}"]`).waitFor();

  // The issue view: its details, then "Change" → Unassigned through the assignable-users picker.
  await popup.click(`#issues .issue-row[data-key="${key}"]`);
  await popup.locator(`#issue-view[data-key="${key}"]`).waitFor();
  assert.equal((await popup.textContent('#issue-assignee .field-value')).trim(), me.displayName);
  for (const f of ['#issue-reporter', '#issue-priority', '#issue-labels', '#issue-created', '#issue-updated', '#issue-due']) {
    assert.ok((await popup.textContent(f)).trim(), `${f} is shown`);
  }
  const link = popup.locator('#open-in-jira');
  assert.equal(await link.getAttribute('target'), '_blank');
  assert.equal(await link.getAttribute('rel'), 'noopener');
  assert.match(await link.getAttribute('href'), new RegExp(`^https://globex\\.atlassian\\.net/browse/${key}$`));
  await popup.click('#change-assignee');
  await popup.waitForFunction(() => !document.querySelector('#assignee-picker')?.disabled);
  const people = await popup.locator('#assignee-picker option').allTextContents();
  assert.deepEqual(people.sort(), ['Bob Brown', 'Dave Diaz', 'Unassigned'], 'globex\'s members');
  await popup.selectOption('#assignee-picker', '');
  await popup.locator('#notice', { hasText: `${key} is unassigned.` }).waitFor();
  assert.equal((await popup.textContent('#issue-assignee .field-value')).trim(), 'Unassigned');
  const unassigned = await popup.evaluate((k) => globalThis.__jira3lo.client.getIssue(k, { fields: ['assignee'] }), key);
  assert.equal(unassigned.fields.assignee, null);
  // Back: the list is fetched again and no longer holds it.
  await popup.click('#back');
  await popup.waitForFunction((k) => !document.querySelector(`#issues .issue-row[data-key="${k}"]`) && !document.querySelector('#updating'), key);
  assert.deepEqual(popup.errors, []);
  await closeAll();
});

test('edit summary and labels in the issue view: saved at the fake, the list shows it; a refused save keeps the draft', async () => {
  const popup = await signedInPopup();
  const [key] = await listedKeys(popup);
  await popup.click(`#issues .issue-row[data-key="${key}"]`);
  await popup.locator(`#issue-view[data-key="${key}"]`).waitFor();

  // The fake refuses the first save: the typed summary stays in the box.
  await admin('faults', { route: 'PUT /ex/jira/{cloudId}/rest/api/3/issue/{issueIdOrKey}', count: 1, fault: { status: 500 } });
  const summary = `Renamed from the popup ${Date.now()}`;
  await popup.click('#edit-summary');
  await popup.fill('#summary-input', summary);
  await popup.press('#summary-input', 'Enter');
  await popup.locator('#notice.notice-error').waitFor();
  assert.equal(await popup.inputValue('#summary-input'), summary, 'the draft is kept');
  assert.equal(await popup.isEnabled('#summary-input'), true);
  // Again: saved.
  await popup.press('#summary-input', 'Enter');
  await popup.locator('#notice', { hasText: 'Summary saved.' }).waitFor();
  assert.equal((await popup.textContent('#issue-summary')).trim(), summary);
  const stored = await popup.evaluate((k) => globalThis.__jira3lo.client.getIssue(k, { fields: ['summary', 'labels'] }), key);
  assert.equal(stored.fields.summary, summary);

  // Escape in the editor cancels the edit, not the issue view.
  await popup.click('#edit-labels');
  await popup.press('#labels-input', 'Escape');
  assert.equal(await popup.locator(`#issue-view[data-key="${key}"]`).count(), 1);
  await popup.click('#edit-labels');
  await popup.fill('#labels-input', 'popup  triage,triage');
  await popup.click('#labels-save');
  await popup.locator('#notice', { hasText: 'Labels saved.' }).waitFor();
  await popup.locator('#issue-labels .label', { hasText: 'triage' }).waitFor(); // the issue is read again
  assert.deepEqual(await popup.locator('#issue-labels .label').allTextContents(), ['popup', 'triage']);
  const labelled = await popup.evaluate((k) => globalThis.__jira3lo.client.getIssue(k, { fields: ['labels'] }), key);
  assert.deepEqual(labelled.fields.labels, ['popup', 'triage']);

  // Copy key: a short confirmation, and pasting gives the key (the page cannot read the clipboard itself).
  await popup.click('#copy-key');
  await popup.locator('#notice', { hasText: `Copied ${key}.` }).waitFor();
  await popup.fill('#comment-text', '');
  await popup.focus('#comment-text');
  await popup.keyboard.press('Control+V');
  assert.equal(await popup.inputValue('#comment-text'), key);
  await popup.fill('#comment-text', '');

  await popup.click('#back');
  await popup.locator(`#issues .issue-row[data-key="${key}"] .issue-summary`, { hasText: summary }).waitFor();
  assert.deepEqual(popup.errors, []);
  await closeAll();
});

test('keyboard: j/k and arrows select, Enter opens, Esc goes back, c creates, ? lists the shortcuts; never while typing', async () => {
  const popup = await signedInPopup();
  const keys = await listedKeys(popup);
  assert.ok(keys.length >= 3);
  await popup.focus('#main');
  const selected = () => popup.evaluate(() => ({ key: document.querySelector('#issues .issue-row.selected')?.dataset.key, focused: document.activeElement?.dataset?.key }));
  await popup.keyboard.press('j');
  assert.deepEqual(await selected(), { key: keys[0], focused: keys[0] });
  await popup.keyboard.press('j');
  await popup.keyboard.press('ArrowDown');
  assert.deepEqual(await selected(), { key: keys[2], focused: keys[2] });
  await popup.keyboard.press('k');
  assert.deepEqual(await selected(), { key: keys[1], focused: keys[1] });
  await popup.keyboard.press('Enter');
  await popup.locator(`#issue-view[data-key="${keys[1]}"]`).waitFor();
  await popup.keyboard.press('Escape');
  await waitForIssues(popup);
  assert.equal((await selected()).key, keys[1], 'the selection is kept on the way back');

  await popup.keyboard.press('c');
  await popup.locator('#create-form').waitFor();
  await popup.keyboard.press('Escape');
  await waitForIssues(popup);

  await popup.keyboard.press('?');
  await popup.locator('#shortcuts').waitFor();
  const listed = await popup.locator('#shortcuts kbd').allTextContents();
  for (const k of ['/', 'j', 'k', 'Enter', 'c', 'Esc', '?']) assert.ok(listed.includes(k), `${k} is listed`);
  await popup.keyboard.press('j');
  assert.equal(await popup.locator('#shortcuts').count(), 1, 'keys under the overlay do nothing');
  await popup.keyboard.press('Escape');
  await popup.locator('#shortcuts').waitFor({ state: 'detached' });

  // Typing: j, k, c and ? go into the box.
  await popup.keyboard.press('/');
  assert.equal(await popup.evaluate(() => document.activeElement?.id), 'search');
  await popup.keyboard.type('jkc?');
  assert.equal(await popup.inputValue('#search'), 'jkc?');
  assert.equal(await popup.locator('#shortcuts').count(), 0);
  assert.equal(await popup.locator('#create-form').count(), 0);
  assert.deepEqual(popup.errors, []);
  await closeAll();
});

test('dark mode at 360 px: the switcher, the rows\' actions, the issue details and the overlay fit and use the dark colours', async () => {
  const popup = await signedInPopup();
  await popup.emulateMedia({ colorScheme: 'dark' });
  await popup.setViewportSize({ width: 360, height: 600 });
  const overflow = () => popup.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  const inside = (selector) => popup.evaluate((sel) => [...document.querySelectorAll(sel)].every((e) => {
    const r = e.getBoundingClientRect();
    return r.left >= 0 && r.right <= window.innerWidth + 0.5;
  }), selector);
  const luminance = (selector, prop) => popup.evaluate(({ selector, prop }) => {
    const [r, g, b] = getComputedStyle(document.querySelector(selector))[prop].match(/\d+/g).map(Number);
    return (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255;
  }, { selector, prop });
  assert.ok((await luminance('body', 'backgroundColor')) < 0.2, 'a dark background');
  assert.ok((await luminance('#view', 'color')) > 0.7, 'light text in the switcher');
  assert.ok((await overflow()) <= 0, `the list overflows by ${await overflow()} px`);
  assert.ok(await inside('#view, #issues .row-action, #issues .issue-row'), 'switcher and row actions inside 360 px');

  const [key] = await listedKeys(popup);
  await popup.click(`#issues .issue-row[data-key="${key}"]`);
  await popup.locator('#issue-fields').waitFor();
  await popup.click('#edit-summary');
  assert.ok((await overflow()) <= 0, `the issue view overflows by ${await overflow()} px`);
  assert.ok(await inside('#issue-fields dd, #summary-form button, #copy-key, #open-in-jira'), 'details and tools inside 360 px');
  assert.ok((await luminance('#issue-fields dd', 'color')) > 0.7, 'light text in the details');
  await popup.press('#summary-input', 'Escape');
  await popup.keyboard.press('?');
  await popup.locator('#shortcuts').waitFor();
  assert.ok(await inside('#shortcuts .overlay-card'), 'the overlay fits');
  assert.ok((await luminance('#shortcuts .overlay-card', 'backgroundColor')) < 0.2, 'a dark overlay');
  await popup.keyboard.press('Escape');

  const options = await openOptionsPage(ctx, id);
  await options.emulateMedia({ colorScheme: 'dark' });
  await options.setViewportSize({ width: 360, height: 700 });
  await options.fill('#filter-name', 'Mine');
  await options.fill('#filter-jql', 'assignee = currentUser()');
  await options.click('#filter-add-button');
  await options.locator('#filters li').waitFor();
  assert.ok((await options.evaluate(() => document.documentElement.scrollWidth - window.innerWidth)) <= 0, 'the options page fits 360 px');
  assert.equal(await noticeText(popup), null);
  await closeAll();
});
