// The real extension in a real Firefox (Debian's Firefox ESR, headless), installed as a temporary
// add-on over geckodriver, against the real broker and the real fake Atlassian (auto consent):
// the module loads in the popup under the MV3 CSP, the options page shows the Firefox redirect URI,
// Connect signs in through browser.identity.launchWebAuthFlow in the background event page, the
// popup lists the issues, and an expired token used at once by the popup, a second popup tab and
// the background page costs exactly one refresh.
//
// The add-on's UUID is fixed by the `extensions.webextensions.uuids` pref, so its origin
// (moz-extension://<uuid>, allowed at the broker by `cargo xtask test`) is known before Firefox starts.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { FirefoxSession } from './webdriver.mjs';
import { admin, count, env, grantsDelta, resetFake, RESOURCES, stats, TOKEN } from '../helpers.mjs';

const dir = process.env.JIRA3LO_FIREFOX_EXTENSION_DIR;
const uuid = process.env.JIRA3LO_FIREFOX_UUID;
const manifest = dir ? JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) : null;
const geckoId = manifest?.browser_specific_settings?.gecko?.id;
const base = `moz-extension://${uuid}`;

let ff;

/** Saves a screenshot of the current tab into JIRA3LO_ARTIFACTS (when set). */
async function shot(name) {
  if (!env.artifacts) return;
  mkdirSync(env.artifacts, { recursive: true });
  writeFileSync(join(env.artifacts, `firefox-${name}.png`), Buffer.from(await ff.screenshot(), 'base64'));
}

/** Opens the popup page in a new tab and waits until the app rendered its first view. */
async function openPopup() {
  const handle = await ff.openExtensionTab(`${base}/www/popup.html`);
  await ff.waitFor('the popup renders', () => globalThis.__jira3lo?.app && !document.querySelector('#main .center[aria-busy], #main .list-head[aria-busy]'));
  return handle;
}

/** Forgets the extension's session (tokens, site, pending sign-in) from the options page. */
async function signOutExtension() {
  await ff.openExtensionTab(`${base}/www/options.html`);
  await ff.evaluate(async () => {
    await browser.storage.session.clear();
    const all = await browser.storage.local.get(null);
    await browser.storage.local.remove(Object.keys(all).filter((k) => k.startsWith('jira3lo:') || k === 'jira3lo.grantScopes'));
  });
  await closeTabs();
}

/** Closes every tab but one, which is left on about:blank. */
async function closeTabs() {
  let handles = await ff.handles();
  while (handles.length > 1) {
    await ff.switchTo(handles.at(-1));
    handles = await ff.closeTab();
  }
  await ff.switchTo(handles[0]);
  if ((await ff.url()) !== 'about:blank') await ff.navigate('about:blank');
}

/** Clicks Connect in the current popup tab and waits for the issue list (auto consent at the fake). */
async function connect() {
  await ff.waitFor('the Connect button', () => !!document.querySelector('#connect'));
  await ff.evaluate(() => document.querySelector('#connect').click());
  return ff.waitFor('the issue list after Connect', () => {
    const n = document.querySelectorAll('#issues .issue-row').length;
    if (n) return n;
    const notice = document.querySelector('#notice');
    if (notice?.textContent?.trim()) throw new Error(`notice: ${notice.textContent.trim()}`);
    return 0;
  }, { ms: 30_000 });
}

before(async () => {
  for (const [k, v] of Object.entries({ dir, uuid, geckoId, fake: env.fake, broker: env.broker })) {
    assert.ok(v, `missing ${k}: run through \`cargo xtask test\` (JIRA3LO_FIREFOX_* variables)`);
  }
  ff = await FirefoxSession.start({
    geckodriver: process.env.GECKODRIVER,
    firefox: process.env.FIREFOX || '/usr/bin/firefox-esr',
    prefs: { 'extensions.webextensions.uuids': JSON.stringify({ [geckoId]: uuid }) },
    logDir: env.artifacts,
  });
  const installed = await ff.installTemporaryAddon(dir);
  assert.equal(installed, geckoId, 'the add-on id is the manifest gecko id');
});

after(async () => {
  await ff?.quit();
});

test('Firefox: the popup instantiates the wasm module; the options page shows the allizom redirect URI', async () => {
  await openPopup();
  const version = await ff.waitFor('the version', () => document.querySelector('#version')?.textContent?.trim());
  const cargoVersion = /^version = "(.*)"$/m.exec(readFileSync(new URL('../../../Cargo.toml', import.meta.url), 'utf8'))[1];
  assert.match(version, new RegExp(cargoVersion.replaceAll('.', '\\.')));
  assert.equal(await ff.url(), `${base}/www/popup.html`, 'the UUID pref fixes the extension origin');
  const env1 = await ff.evaluate(() => ({
    locks: typeof navigator.locks?.request,
    session: typeof browser.storage.session?.get,
    identity: typeof browser.identity?.launchWebAuthFlow,
  }));
  assert.deepEqual(env1, { locks: 'function', session: 'function', identity: 'function' });

  await ff.openExtensionTab(`${base}/www/options.html`);
  const redirect = await ff.waitFor('the redirect URI field', () => document.querySelector('#redirectUrl')?.value);
  assert.match(redirect, /^https:\/\/[0-9a-f]{40}\.extensions\.allizom\.org\/$/);
  const { createHash } = await import('node:crypto');
  assert.equal(redirect, `https://${createHash('sha1').update(geckoId).digest('hex')}.extensions.allizom.org/`,
    'sha1 of the add-on id, as `cargo xtask` allows it at the broker');
  assert.equal(await ff.evaluate(() => document.querySelector('#extensionOrigin').value), base, 'the origin to allow');
  await closeTabs();
});

test('Firefox: Connect → launchWebAuthFlow in the event page → my open issues; reopening costs no token request', async () => {
  await resetFake({ consent_mode: 'auto', consent_user: 'bob' });
  await signOutExtension();
  await openPopup();
  const n = await connect();
  assert.ok(n > 0, 'bob has open issues assigned');
  await shot('popup-issues');
  const afterSignIn = await stats();
  assert.equal(afterSignIn.grants.authorization_code, 1, 'one code exchanged (by the broker)');

  await closeTabs();
  await openPopup();
  await ff.waitFor('the issue list on reopen', () => document.querySelectorAll('#issues .issue-row').length);
  const afterReopen = await stats();
  assert.equal(count(afterReopen, TOKEN), count(afterSignIn, TOKEN), 'no token request on reopen');
  assert.equal(count(afterReopen, RESOURCES), count(afterSignIn, RESOURCES), 'no site discovery on reopen');
  await closeTabs();
});

test('Firefox: expired access token, popup + second popup tab + background page at once → exactly one refresh', async () => {
  await resetFake({ consent_mode: 'auto', consent_user: 'bob' });
  await signOutExtension();
  const first = await openPopup();
  await connect();
  const second = await openPopup();
  await ff.waitFor('the second popup lists the issues', () => document.querySelectorAll('#issues .issue-row').length);

  await admin('clock', { advance_secs: 2 * 3600 });
  const before = await stats();
  const search = { jql: 'assignee = currentUser() AND statusCategory != Done ORDER BY updated DESC', maxResults: 1 };
  // The second tab starts its call and returns at once; the first then races its own and the background's.
  // (`window`, not `globalThis`: geckodriver runs each script in a fresh sandbox over the page.)
  await ff.evaluate((p) => {
    window.__storm = window.__jira3lo.client.search(p).then((r) => ({ ok: r.issues.length }), (e) => ({ err: String(e?.code ?? e) }));
    return true;
  }, search);
  await ff.switchTo(first);
  const both = await ff.evaluate(async (p) => {
    const bg = await browser.runtime.getBackgroundPage();
    for (let i = 0; i < 100 && !bg.__jira3lo; i++) await new Promise((r) => setTimeout(r, 20));
    const settle = (promise) => promise.then((r) => ({ ok: r.issues.length }), (e) => ({ err: String(e?.code ?? e) }));
    const bgClient = await bg.__jira3lo.getClient();
    return Promise.all([settle(globalThis.__jira3lo.client.search(p)), settle(bgClient.search(p))]);
  }, search);
  await ff.switchTo(second);
  const third = await ff.evaluate(() => window.__storm);
  const after = await stats();
  assert.deepEqual([...both, third], [{ ok: 1 }, { ok: 1 }, { ok: 1 }], 'popup, background and second tab got their answer');
  const delta = grantsDelta(before, after);
  assert.equal(delta.refresh_token, 1, `exactly one refresh grant (${JSON.stringify(delta)})`);
  assert.equal(count(after, RESOURCES), count(before, RESOURCES), 'the site was not rediscovered');
  const states = await ff.evaluate(async () => {
    const bg = await browser.runtime.getBackgroundPage();
    return [(await globalThis.__jira3lo.client.status()).state, (await (await bg.__jira3lo.getClient()).status()).state];
  });
  assert.deepEqual(states, ['signedIn', 'signedIn']);
  await closeTabs();
});
