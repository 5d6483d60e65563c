// The pause after a failed refresh, in a web page in headless Chromium against the real broker and fake
// Atlassian: the token endpoint fails once (a fault at the fake), the caller retries about every second,
// and once the first failure's cooldown (5 s) is over a call reaches the token endpoint again and
// succeeds; the errors returned meanwhile say how long to wait.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { admin, grantsDelta, launch, observedJson, openClientTab, requireEnv, resetFake, signInIn, stats, withinStep } from './helpers.mjs';

/** The module's refresh cooldown (SessionConfig's default). */
const COOLDOWN_MS = 5_000;
/** How long after the first failure a retry may still fail: the cooldown plus one retry interval and slack. */
const RECOVERED_BY_MS = COOLDOWN_MS + 1_500;
const RETRY_EVERY_MS = 1_000;

/** @type {Awaited<ReturnType<typeof launch>>} */
let browser;

before(async () => {
  requireEnv();
  browser = await launch({ withExtension: false });
});

after(async () => {
  await browser?.close();
});

for (const failure of [
  { name: '503 from the token endpoint', fault: { status: 503 } },
  { name: 'the token endpoint drops the connection', fault: 'drop' },
]) {
  test(`refresh cooldown (${failure.name}): calls retried every second still reach the token endpoint once the first failure's cooldown is over`, async (t) => {
    await resetFake({ consent_mode: 'auto', consent_user: 'bob' });
    const page = await openClientTab(browser.ctx, { storage: 'session' });
    await page.evaluate(() => sessionStorage.clear());
    await signInIn(page);

    await admin('clock', { advance_secs: 2 * 3600 }); // the access token is expired: the next call refreshes
    await admin('faults', { route: 'POST /oauth/token', count: 1, fault: failure.fault });
    const before = await stats();
    const run = await withinStep(page.evaluate(async ({ recoveredBy, every }) => {
      const { client, settle } = globalThis.__e2e;
      const first = await settle(client.myself());
      const failedAt = performance.now(); // the cooldown started before this
      const retries = [];
      while (performance.now() - failedAt <= recoveredBy) {
        await new Promise((r) => setTimeout(r, every));
        const r = await settle(client.myself());
        retries.push({ atMs: Math.round(performance.now() - failedAt), ok: r.ok, code: r.code ?? null, retryAfterMs: r.details?.retryAfterMs ?? null });
        if (r.ok) break;
      }
      return { first: { ok: first.ok, code: first.code, details: first.details }, retries };
    }, { recoveredBy: RECOVERED_BY_MS, every: RETRY_EVERY_MS }), 'the retries', RECOVERED_BY_MS + 10_000);
    const delta = grantsDelta(before, await stats());
    await page.close();

    const report = observedJson({ ...run, grants: delta });
    t.diagnostic(`observed: ${report}`);
    assert.equal(run.first.ok, false, `the first call fails with the token endpoint's failure: ${report}`);
    const recovered = run.retries.find((r) => r.ok);
    assert.ok(recovered, `a retry within ${RECOVERED_BY_MS} ms of the first failure succeeded: ${report}`);
    assert.equal(delta.token_requests, 2, `token requests: the failed one and the one after the cooldown: ${report}`);
    assert.equal(delta.refresh_token_ok, 1, `one refresh returned tokens: ${report}`);
    for (const r of run.retries.filter((x) => !x.ok)) {
      assert.ok(typeof r.retryAfterMs === 'number' && r.retryAfterMs > 0 && r.retryAfterMs <= COOLDOWN_MS,
        `an error during the cooldown carries details.retryAfterMs in (0, ${COOLDOWN_MS}]: ${report}`);
    }
  });
}
