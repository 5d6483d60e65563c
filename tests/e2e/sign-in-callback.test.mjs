// The callback of a sign-in, in headless Chromium against the real broker and fake Atlassian: the sign-in
// comes back through the broker's hosted callback (`#ticket=…&state=…`); one callback URL completed twice
// at once in one context (a web page, an extension page) redeems its ticket once, and a forged callback (an
// `error=` redirect without the right state) neither cancels the real attempt nor gets its text into the
// error message.
import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import {
  beginSignInIn, callIn, clearWebRecords, env, grantsDelta, installClient, launch, openClientTab, requireEnv, resetFake,
  observedJson, signOutExtension, stats, watchRedemptions, withinStep,
} from './helpers.mjs';

/** @type {Awaited<ReturnType<typeof launch>>} */
let browser;
/** @type {import('playwright-core').Page[]} */
let pages = [];

before(async () => {
  requireEnv();
  browser = await launch({ withExtension: true });
});

after(async () => {
  await browser?.close();
});

afterEach(async () => {
  for (const p of pages) await p.close().catch(() => {});
  pages = [];
});

async function webTab(storage) {
  const t = await openClientTab(browser.ctx, { storage });
  pages.push(t);
  await clearWebRecords(t);
  return t;
}

/** The options page (it makes no Jira call itself) with an `extension` client, storage emptied first. */
async function extensionPage() {
  await signOutExtension(browser.ctx, browser.id);
  const page = await browser.ctx.newPage();
  pages.push(page);
  await page.goto(`chrome-extension://${browser.id}/www/options.html`);
  await installClient(page, { storage: 'extension' });
  return page;
}

/** Completes `callback` twice at once in `page`: with its client twice, and (`twoClients`) with a second client. */
async function completeTwiceAtOnce(page, callback, { twoClients = false } = {}) {
  assert.match(callback, /#ticket=[^&]+&state=/, 'the broker redirects with a ticket in the fragment');
  const redemptions = watchRedemptions(page);
  const before = await stats();
  const results = await withinStep(page.evaluate(({ callback, twoClients }) => {
    const { client, newClient, settle } = globalThis.__e2e;
    const second = twoClients ? newClient() : client;
    return Promise.all([settle(client.completeSignIn(callback)), settle(second.completeSignIn(callback))]);
  }, { callback, twoClients }), 'two completeSignIn calls');
  const delta = grantsDelta(before, await stats());
  return {
    exchanges: redemptions.count,
    atlassianCodeGrants: delta.authorization_code,
    outcomes: results.map((r) => (r.ok ? r.value.state : r.code)),
  };
}

function assertOneExchange(t, observed) {
  const report = observedJson(observed);
  t.diagnostic(`observed: ${report}`);
  assert.equal(observed.exchanges, 1, `ticket redemptions: ${report}`);
  assert.equal(observed.atlassianCodeGrants, 0, `Atlassian's code was exchanged at the broker's callback, before: ${report}`);
  assert.ok(observed.outcomes.includes('signedIn'), `one call signed in: ${report}`);
  assert.ok(observed.outcomes.every((o) => o === 'signedIn' || o === 'unknown_state'), `the other resolved or got unknown_state: ${report}`);
}

test('web page (session storage): the same callback completed twice at once → one ticket redemption', async (t) => {
  await resetFake({ consent_mode: 'auto', consent_user: 'bob' });
  const page = await webTab('session');
  assertOneExchange(t, await completeTwiceAtOnce(page, await beginSignInIn(page, env.demoUrl)));
});

test('web page (local storage), two clients: the same callback completed by both at once → one ticket redemption', async (t) => {
  await resetFake({ consent_mode: 'auto', consent_user: 'bob' });
  const page = await webTab('local');
  assertOneExchange(t, await completeTwiceAtOnce(page, await beginSignInIn(page, env.demoUrl), { twoClients: true }));
});

test('extension page (chrome.storage): the same callback completed twice at once → one ticket redemption', async (t) => {
  await resetFake({ consent_mode: 'auto', consent_user: 'bob' });
  const page = await extensionPage();
  const callback = await beginSignInIn(page, `https://${env.extensionId}.chromiumapp.org/`);
  assertOneExchange(t, await completeTwiceAtOnce(page, callback));
});

const ATTACKER_TEXT = 'Call 555-0100';
/** What an attacker puts in a link to the callback page: `<b>Call+555-0100</b>` ('+' is a space). */
const FORGED_DESCRIPTION = '<b>Call+555-0100</b>';

/**
 * Begins a sign-in, then completes `forgedFragment` on the redirect URI (the broker's answer shape:
 * `#error=…&state=…`) before the real callback. Returns what both calls settled with and how many
 * tickets reached the broker's token endpoint.
 */
async function forgedThenReal(forgedFragment) {
  await resetFake({ consent_mode: 'auto', consent_user: 'bob' });
  const page = await webTab('session');
  const real = await beginSignInIn(page, env.demoUrl);
  const redemptions = watchRedemptions(page);
  const forged = await callIn(page, 'completeSignIn', `${env.demoUrl}#${forgedFragment}`);
  const afterForged = await callIn(page, 'completeSignIn', real);
  return { forged, real: afterForged, exchanges: redemptions.count };
}

function assertForgedHarmless(t, observed) {
  const report = observedJson(observed);
  t.diagnostic(`observed: ${report}`);
  assert.equal(observed.forged.ok, false, `the forged callback is refused: ${report}`);
  assert.ok(observed.real.ok && observed.real.value.state === 'signedIn', `the real callback afterwards still completes: ${report}`);
  assert.equal(observed.exchanges, 1, `the real ticket was redeemed once: ${report}`);
  const { message, details } = observed.forged;
  assert.ok(!message.includes(ATTACKER_TEXT) && !message.includes('555-0100'), `the forged rejection's message has none of the attacker's text: ${report}`);
  assert.ok(!/[<>]/.test(message), `no markup in the message: ${report}`);
  const description = details?.errorDescription;
  if (description !== undefined) {
    assert.equal(typeof description, 'string', report);
    assert.ok(description.length <= 300, `details.errorDescription is bounded (${description.length} chars): ${report}`);
    assert.ok(!/[<>]/.test(description), `details.errorDescription is plain text: ${report}`);
  }
}

test('a forged error callback WITHOUT state neither cancels the real sign-in nor shows its text', async (t) => {
  assertForgedHarmless(t, await forgedThenReal(`error=access_denied&error_description=${FORGED_DESCRIPTION}`));
});

test('a forged error callback with a WRONG state neither cancels the real sign-in nor shows its text', async (t) => {
  assertForgedHarmless(t, await forgedThenReal(`error=access_denied&error_description=${FORGED_DESCRIPTION}&state=forged-state`));
});

test('a forged error callback with a 2,000-character description: bounded, plain details, real sign-in intact', async (t) => {
  const long = `${FORGED_DESCRIPTION}${'+Please+call+us+now.'.repeat(100)}`;
  assertForgedHarmless(t, await forgedThenReal(`error=access_denied&error_description=${long}`));
});
