// Several tabs of one web origin with `storage: 'local'` (the records in the origin's IndexedDB, shared by
// every tab of the origin), in headless Chromium against the real broker and fake Atlassian.
// The tabs must behave as one session: a new tab reuses the origin's access token, a refresh storm across
// tabs costs one refresh grant, a sign-out in one tab signs out all of them, and one callback URL completed
// in two tabs at once is exchanged once.
import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import {
  admin, beginSignInIn, clearWebRecords, watchRedemptions, callIn, env, grantsDelta, launch, openClientTab, requireEnv, resetFake, signInIn,
  observedJson, SIGNED_OUT_CODES, stats, webRecords, withinStep,
} from './helpers.mjs';

/** @type {Awaited<ReturnType<typeof launch>>} */
let browser;
/** @type {import('playwright-core').Page[]} */
let tabs = [];

before(async () => {
  requireEnv();
  browser = await launch({ withExtension: false });
});

after(async () => {
  await browser?.close();
});

afterEach(async () => {
  for (const t of tabs) await t.close().catch(() => {});
  tabs = [];
});

/** A new tab of the origin with a `local` client (tabs opened this way share nothing but the origin). */
async function tab() {
  const t = await openClientTab(browser.ctx, { storage: 'local' });
  tabs.push(t);
  return t;
}

/** Resets the fake (auto consent, bob: one site) and empties the origin's records. */
async function freshStart() {
  await resetFake({ consent_mode: 'auto', consent_user: 'bob' });
  await clearWebRecords(await tab());
}

/** Puts the origin back the way an earlier version left it: the records in localStorage, none in IndexedDB. */
function asAnEarlierVersionLeftIt(page) {
  return page.evaluate(async () => {
    const [keys, values] = [await globalThis.__e2eRecords('getAllKeys'), await globalThis.__e2eRecords('getAll')];
    keys.forEach((k, i) => localStorage.setItem(k, values[i]));
    await globalThis.__e2eRecords('clear');
  });
}

/** A fresh fake, tab A signed in, tab B opened after it and warmed up with one call. */
async function twoSignedInTabs() {
  await freshStart();
  const a = await tab();
  await signInIn(a);
  const b = await tab();
  const warm = await callIn(b, 'myself');
  assert.ok(warm.ok, `tab B's first call: ${JSON.stringify(warm)}`);
  return [a, b];
}

test('local storage: a new tab\'s first Jira call reuses the origin\'s access token (no token request)', async (t) => {
  await freshStart();
  const a = await tab();
  assert.equal((await signInIn(a)).state, 'signedIn');

  const before = await stats();
  const b = await tab();
  const first = await callIn(b, 'myself');
  const delta = grantsDelta(before, await stats());
  t.diagnostic(`observed: ${observedJson({ firstCall: first.ok ? 'resolved' : first.code, grants: delta })}`);
  assert.ok(first.ok, `the new tab's first call: ${JSON.stringify(first)}`);
  assert.equal(delta.token_requests, 0, `token requests for the new tab's first call (${JSON.stringify(delta)})`);
});

test('local storage: an expired token in two tabs, five calls each at once → exactly one refresh grant, round after round', async (t) => {
  // Each round the tab that takes the refresh lock second must read the tokens the first one just stored.
  // With the records in localStorage that failed now and then (Chromium hands one renderer's writes to
  // the others later), so the storm is repeated.
  const [a, b] = await twoSignedInTabs();
  const storm = (page) => page.evaluate(() =>
    Promise.all(Array.from({ length: 5 }, () => globalThis.__e2e.settle(globalThis.__e2e.client.myself()))));
  const rounds = [];
  for (let round = 0; round < 12; round++) {
    await admin('clock', { advance_secs: 2 * 3600 }); // every access token the tabs hold is now expired
    const before = await stats();
    const results = (await withinStep(Promise.all([storm(a), storm(b)]), `storm ${round + 1}`)).flat();
    const delta = grantsDelta(before, await stats());
    rounds.push({ failedCalls: results.filter((r) => !r.ok).map((r) => r.code), refreshGrants: delta.refresh_token });
  }
  const report = observedJson(rounds);
  t.diagnostic(`observed: ${report}`);
  for (const r of rounds) {
    assert.deepEqual(r.failedCalls, [], `every call got its answer: ${report}`);
    assert.equal(r.refreshGrants, 1, `refresh grants per storm across two tabs: ${report}`);
  }
});

test('local storage: signOut in one tab signs out the others; nothing is written back', async (t) => {
  const [a, b] = await twoSignedInTabs();

  const out = await callIn(a, 'signOut');
  assert.ok(out.ok, `signOut: ${JSON.stringify(out)}`);
  const before = await stats();
  const later = [
    await callIn(b, 'myself'),
    await callIn(b, 'search', { jql: 'assignee = currentUser()', maxResults: 1 }),
    await callIn(b, 'myself'),
  ];
  const afterCalls = await stats();
  const observed = {
    laterCalls: later.map((r) => (r.ok ? 'resolved' : r.code)),
    records: { a: await webRecords(a), b: await webRecords(b) },
    apiRequestsAfterSignOut: Object.entries(afterCalls.requests ?? {})
      .filter(([route]) => !route.startsWith('POST /oauth/token'))
      .reduce((n, [route, c]) => n + c - (before.requests?.[route] ?? 0), 0),
  };
  const report = observedJson(observed);
  t.diagnostic(`observed: ${report}`);
  for (const [i, r] of later.entries()) {
    assert.ok(!r.ok && SIGNED_OUT_CODES.includes(r.code), `call ${i + 1} in tab B after the sign-out in tab A: ${report}`);
  }
  const none = { localStorage: [], sessionStorage: [], indexedDB: [] };
  assert.deepEqual(observed.records, { a: none, b: none }, `no session record in any tab: ${report}`);
  const status = await callIn(b, 'status');
  assert.equal(status.value?.state, 'signedOut', `tab B's status: ${JSON.stringify(status)}`);
});

test('local storage: one callback URL completed in two tabs at once → one ticket redemption, the other tab gets unknown_state', async (t) => {
  // The pending sign-in lives in localStorage; both tabs (separate renderer processes) read it at the same
  // moment (a start time both wait for). A few rounds: it is a race between two processes.
  const rounds = [];
  for (let round = 0; round < 3; round++) {
    await freshStart();
    const a = await tab();
    const b = await tab();
    const callback = await beginSignInIn(a, env.demoUrl);
    // As an app does on load: both tabs read their status (signed out) first.
    for (const t of [a, b]) assert.equal((await callIn(t, 'status')).value?.state, 'signedOut');
    const redemptions = [watchRedemptions(a), watchRedemptions(b)];
    const startAt = Date.now() + 300;
    const complete = (page) => page.evaluate(async ({ callback, startAt }) => {
      await new Promise((r) => setTimeout(r, Math.max(0, startAt - Date.now() - 20)));
      while (Date.now() < startAt) { /* both tabs start within a millisecond */ }
      return globalThis.__e2e.settle(globalThis.__e2e.client.completeSignIn(callback));
    }, { callback, startAt });
    const results = await withinStep(Promise.all([complete(a), complete(b)]), 'both completeSignIn calls');
    rounds.push({ exchanges: redemptions[0].count + redemptions[1].count, outcomes: results.map((r) => (r.ok ? r.value.state : r.code)) });
    for (const t of [a, b]) await t.close();
    tabs = tabs.filter((t) => t !== a && t !== b);
  }
  const report = observedJson(rounds);
  t.diagnostic(`observed: ${report}`);
  for (const r of rounds) {
    assert.equal(r.exchanges, 1, `ticket redemptions per round: ${report}`);
    assert.ok(r.outcomes.includes('signedIn'), `one tab signed in: ${report}`);
    assert.ok(r.outcomes.every((o) => o === 'signedIn' || o === 'unknown_state'), `the other resolved or got unknown_state: ${report}`);
  }
});

test('local storage: records an earlier version kept in localStorage move to IndexedDB; the user stays signed in', async (t) => {
  await freshStart();
  const a = await tab();
  await signInIn(a);
  await asAnEarlierVersionLeftIt(a);
  const legacy = await webRecords(a);
  assert.deepEqual(legacy.indexedDB, [], `set-up: nothing left in IndexedDB (${JSON.stringify(legacy)})`);
  assert.ok(legacy.localStorage.length >= 2, `set-up: the records are in localStorage (${JSON.stringify(legacy)})`);

  const before = await stats();
  const b = await tab(); // a new context of the upgraded module
  const status = await callIn(b, 'status');
  const call = await callIn(b, 'myself');
  const delta = grantsDelta(before, await stats());
  const records = await webRecords(b);
  const report = observedJson({ status: status.value?.state ?? status.code, call: call.ok ? 'resolved' : call.code, grants: delta, records });
  t.diagnostic(`observed: ${report}`);
  assert.equal(status.value?.state, 'signedIn', report);
  assert.ok(call.ok, report);
  assert.equal(delta.token_requests, 0, `the migrated access token serves: ${report}`);
  assert.deepEqual(records.localStorage, [], `localStorage is emptied: ${report}`);
  assert.deepEqual(records.indexedDB, legacy.localStorage, `the same records, now in IndexedDB: ${report}`);
});

test('local storage: a sign-out right after the upgrade leaves nothing an earlier version stored to come back', async (t) => {
  await freshStart();
  const a = await tab();
  await signInIn(a);
  await asAnEarlierVersionLeftIt(a);
  const b = await tab();
  // status() moves the refresh token and the site over, not the access token: that one stays in localStorage...
  assert.equal((await callIn(b, 'status')).value?.state, 'signedIn');
  // ...until the sign-out, which must not leave it there for the next read to move back.
  assert.ok((await callIn(b, 'signOut')).ok);
  const later = await callIn(b, 'status');
  const records = await webRecords(b);
  const report = observedJson({ later: later.value?.state ?? later.code, records });
  t.diagnostic(`observed: ${report}`);
  assert.equal(later.value?.state, 'signedOut', report);
  assert.deepEqual(records, { localStorage: [], sessionStorage: [], indexedDB: [] }, report);
});
