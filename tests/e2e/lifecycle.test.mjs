// The grant's yearly end (issue 14, "Token lifecycle"), in the real extension against the real broker and fake:
// Atlassian ends a grant 90 days after its last refresh and 365 days after the consent, whatever happens in
// between. The fake's clock stands for Atlassian's; the module dates the grant by it (the broker's `issued_at`), so
// moving it moves what status() says. From 14 days before the 365th day the popup asks to reconnect; a new consent
// starts a new year; past it Atlassian refuses the refresh and the popup's usual reconnect path takes over.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  admin, connectViaConsent, hasStoredRefreshToken, launch, openPopup, requireEnv, resetFake, signOutExtension,
  STEP_TIMEOUT_MS, waitForIssues,
} from './helpers.mjs';

const DAY_S = 86_400;
const DAY_MS = DAY_S * 1000;

let browser;
let ctx;
let id;

before(async () => {
  requireEnv();
  browser = await launch();
  ({ ctx, id } = browser);
});

after(async () => {
  await browser?.close();
});

async function closeAll() {
  for (const p of ctx.pages()) await p.close();
}

/** Signs in through the popup (consent page); returns the popup and the fake's clock (Unix s) at the consent. */
async function signedInPopup() {
  await resetFake({ consent_mode: 'page', consent_user: 'bob' });
  await signOutExtension(ctx, id);
  const popup = await openPopup(ctx, id);
  const { now: consentedAt } = await admin('clock');
  await connectViaConsent(ctx, popup);
  await waitForIssues(popup);
  return { popup, consentedAt };
}

/** status() of the popup's own client. */
const statusOf = (page) => page.evaluate(() => globalThis.__jira3lo.client.status());

/**
 * Waits until no request reached the fake for 500 ms (at most 5 s): the clock jumps months at once, which must not
 * happen under a request in flight (a refresh sent on one day and answered 80 days later is refused as idle).
 */
async function quiet() {
  const total = (s) => Object.values(s.requests ?? {}).reduce((a, b) => a + b, 0);
  let last = total(await admin('stats'));
  for (let waited = 0; waited < 5000; waited += 500) {
    await new Promise((r) => setTimeout(r, 500));
    const now = total(await admin('stats'));
    if (now === last) return;
    last = now;
  }
}

/**
 * Moves the fake's clock by `days` and lets the popup use the grant: its access token is dead at the fake, so the
 * list's call refreshes (one rotation). Resolves once the popup's status has the dates that rotation implies:
 * min(consent + 365 d, now + 90 d) by the fake's clock, told on this machine's clock.
 */
async function liveFor(popup, days, consentedAt) {
  await quiet();
  const { now } = await admin('clock', { advance_secs: days * DAY_S });
  const expected = Date.now() + (Math.min(consentedAt + 365 * DAY_S, now + 90 * DAY_S) - now) * 1000;
  await popup.click('#refresh', { timeout: 5000 }).catch(async (e) => {
    const notice = await popup.locator('#notice').textContent().catch(() => null);
    throw new Error(`no Refresh button (view: ${await popup.evaluate(() => globalThis.__jira3lo.app.view)}, notice: ${notice}, status: ${JSON.stringify(await statusOf(popup))}): ${e.message}`);
  });
  await popup.waitForFunction(async (want) => {
    const s = await globalThis.__jira3lo.client.status();
    return s.reconnect && Math.abs(s.reconnect.by - want) < 60_000;
  }, expected, { timeout: STEP_TIMEOUT_MS, polling: 100 });
  await waitForIssues(popup);
}

/** The reconnect date the fake implies, on this machine's clock: fake `limitAt` (Unix s) is `limitAt - fakeNow` from now. */
async function impliedBy(limitAt) {
  const { now } = await admin('clock');
  return Date.now() + (limitAt - now) * 1000;
}

const near = (actual, expected, what) =>
  assert.ok(Math.abs(actual - expected) < 60_000, `${what}: ${new Date(actual).toISOString()} vs ${new Date(expected).toISOString()}`);

/** Refreshed every 80 days up to day 320, then day 352: 13 days before the absolute limit. */
async function toDay352(popup, consentedAt) {
  for (let day = 80; day <= 320; day += 80) {
    await liveFor(popup, 80, consentedAt);
    const { reconnect } = await statusOf(popup);
    if (day < 275) {
      // Refreshed on `day`: the 90 days of inactivity come before the 365 days.
      assert.equal(reconnect.limit, 'inactivity', `day ${day}`);
      near(reconnect.by, await impliedBy(consentedAt + (day + 90) * DAY_S), `day ${day}`);
    } else {
      assert.equal(reconnect.limit, 'absolute', `day ${day}`);
    }
    assert.equal(reconnect.warn, false, `day ${day}`);
  }
  await liveFor(popup, 32, consentedAt);
}

test('status() dates the grant by the fake: 90 days after the last refresh, then 365 days after the consent', async () => {
  const { popup, consentedAt } = await signedInPopup();
  const first = await statusOf(popup);
  assert.equal(first.state, 'signedIn');
  assert.equal(first.reconnect?.limit, 'inactivity', JSON.stringify(first));
  near(first.reconnect.by, await impliedBy(consentedAt + 90 * DAY_S), 'after the consent');
  assert.equal(first.reconnect.warn, false);
  assert.equal(await popup.locator('#reconnect-soon').count(), 0);
  await toDay352(popup, consentedAt);
  const late = await statusOf(popup);
  assert.deepEqual([late.reconnect.limit, late.reconnect.warn], ['absolute', true]);
  near(late.reconnect.by, await impliedBy(consentedAt + 365 * DAY_S), 'day 352');
  await closeAll();
});

test('day 352: the popup warns; Reconnect → consent → a new year, the warning is gone', async () => {
  const { popup, consentedAt } = await signedInPopup();
  await toDay352(popup, consentedAt);
  const banner = popup.locator('#reconnect-soon');
  await banner.waitFor();
  assert.match(await banner.textContent(), /in 13 days/);
  assert.ok(await hasStoredRefreshToken(ctx, id), 'a warning removes nothing');
  // The issues are still there: the grant works until the 365th day.
  await waitForIssues(popup);

  const consentPromise = ctx.waitForEvent('page');
  await popup.click('#renew');
  const consent = await consentPromise;
  await consent.waitForLoadState('domcontentloaded');
  const { now: reconsentedAt } = await admin('clock');
  await consent.click('#accept');
  await banner.waitFor({ state: 'detached' });
  await waitForIssues(popup);
  const { reconnect } = await statusOf(popup);
  assert.deepEqual([reconnect.limit, reconnect.warn], ['inactivity', false]);
  near(reconnect.by, await impliedBy(reconsentedAt + 90 * DAY_S), 'after the new consent');
  // A popup opened now shows no warning either.
  const fresh = await openPopup(ctx, id);
  await waitForIssues(fresh);
  assert.equal(await fresh.locator('#reconnect-soon').count(), 0);
  assert.deepEqual([...popup.errors, ...fresh.errors], []);
  await closeAll();
});

test('past day 365 Atlassian refuses the refresh: the popup asks to reconnect and only then is the token removed', async () => {
  const { popup, consentedAt } = await signedInPopup();
  await toDay352(popup, consentedAt);
  await popup.locator('#reconnect-soon').waitFor();
  // Day 366: the last refresh was 14 days ago (fine for inactivity), but the consent is over a year old.
  assert.ok(await hasStoredRefreshToken(ctx, id));
  await quiet();
  await admin('clock', { advance_secs: 14 * DAY_S });
  const refused = await admin('stats');
  await popup.click('#refresh');
  await popup.locator('#reconnect').waitFor();
  assert.equal((await statusOf(popup)).state, 'signedOut');
  assert.equal(await popup.locator('#reconnect-soon').count(), 0, 'the signed-out view says it instead');
  assert.equal(await hasStoredRefreshToken(ctx, id), false, 'the refused grant is gone');
  const after = await admin('stats');
  assert.equal((after.grants.refresh_token ?? 0) - (refused.grants.refresh_token ?? 0), 1, 'one refused refresh, no retry');
  await closeAll();
});

test('a context reading status while another refreshes sees the old dates or the new ones, never a mix or none', async () => {
  const { popup, consentedAt } = await signedInPopup();
  // Day 240: the next refresh (day 320) moves the first limit from inactivity to the absolute one.
  for (let i = 0; i < 3; i += 1) await liveFor(popup, 80, consentedAt);
  const reader = await openPopup(ctx, id);
  const before = (await statusOf(reader)).reconnect;
  assert.equal(before.limit, 'inactivity');
  await quiet();
  await admin('clock', { advance_secs: 80 * DAY_S });
  // The reader polls status() as fast as it can while the popup refreshes (its list call meets a dead token).
  await reader.evaluate(() => {
    const seen = (globalThis.__seen = []);
    globalThis.__polling = true;
    (async () => {
      while (globalThis.__polling) seen.push(await globalThis.__jira3lo.client.status());
    })();
  });
  await popup.click('#refresh');
  await popup.waitForFunction(async () => (await globalThis.__jira3lo.client.status()).reconnect?.limit === 'absolute');
  await waitForIssues(popup);
  const after = (await statusOf(popup)).reconnect;
  const seen = await reader.evaluate(async () => {
    await new Promise((r) => setTimeout(r, 200));
    globalThis.__polling = false;
    return globalThis.__seen;
  });
  assert.ok(seen.length > 5, `${seen.length} reads`);
  // Absolute limit on day 365, seen from day 320: 45 days ahead, against the 90 days of inactivity before.
  near(after.by, before.by - 45 * DAY_MS, 'the new first limit');
  // The old record's dates exactly, or the new one's (the absolute limit, 45 days ahead); a mix (the new clock
  // offset with the old rotation, say) would be the inactivity limit some 80 days early.
  const consistent = (r) => (r?.by === before.by && r.limit === before.limit && r.warn === before.warn)
    || (r?.limit === 'absolute' && r.warn === false && Math.abs(r.by - after.by) < 60_000);
  for (const s of seen) {
    assert.equal(s.state, 'signedIn');
    assert.ok(consistent(s.reconnect), `${JSON.stringify(s.reconnect)} is neither ${JSON.stringify(before)} nor ${JSON.stringify(after)}`);
  }
  assert.ok(seen.some((s) => s.reconnect.limit === 'absolute'), 'the reader saw the new dates');
  await closeAll();
});
