// The demo web page (same wasm module, redirect flow, sessionStorage) against the real broker and fake:
// Connect → the fake's consent page in the same tab → Accept → the broker's hosted callback → back with
// #ticket&state → issues shown, the ticket dropped from the address bar; a reload stays signed in without a
// token request. Also: a ticket in the address never leaves the page, and the page exposes no test hook
// unless config.json asks for one.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { count, env, launch, noticeText, requireEnv, resetFake, shot, stats, TOKEN, waitForIssues } from './helpers.mjs';

let browser;

before(async () => {
  requireEnv();
  browser = await launch({ withExtension: false });
});

after(async () => {
  await browser?.close();
});

async function openDemo() {
  const page = await browser.ctx.newPage();
  await page.setViewportSize({ width: 900, height: 720 });
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.errors = errors;
  await page.goto(env.demoUrl);
  await page.locator('#connect').waitFor();
  return page;
}

test('demo page: Connect → Accept → my open issues through the broker-hosted callback, ticket removed from the URL, reload keeps the session', async () => {
  await resetFake({ consent_mode: 'page', consent_user: 'bob' });
  const page = await openDemo();
  assert.ok((await page.locator('#version').textContent()).trim().length > 0, 'wasm initialised');
  await page.click('#connect');
  await page.locator('#accept').waitFor(); // the consent page, same tab
  await page.click('#accept');
  await waitForIssues(page);
  const url = new URL(page.url());
  assert.equal(url.origin + url.pathname, env.demoUrl);
  assert.equal(url.hash, '', 'the ticket is not left in the address bar');
  assert.equal(url.search, '');
  await shot(page, 'demo-page');

  const signedIn = await stats();
  assert.equal(signedIn.grants.authorization_code, 1);
  await page.reload();
  await waitForIssues(page);
  assert.equal(count(await stats(), TOKEN), count(signedIn, TOKEN), 'a reload reuses the stored tokens');
  assert.deepEqual(page.errors, []);
  await page.close();
});

test('demo page: Cancel on the consent page shows a clear message', async () => {
  await resetFake({ consent_mode: 'page', consent_user: 'bob' });
  const page = await openDemo();
  await page.click('#connect');
  await page.locator('#cancel').waitFor();
  await page.click('#cancel');
  await page.locator('#notice[data-code="access_denied"]').waitFor();
  assert.match(await noticeText(page), /cancelled/i);
  assert.equal(new URL(page.url()).hash, '', 'the error parameters are removed too');
  await page.locator('#connect').waitFor();
  await page.close();
});

test('demo page: a ticket in the address never leaves the page (no request, URL or Referer, carries it)', async () => {
  const page = await browser.ctx.newPage();
  const sent = [];
  page.on('request', (req) => {
    sent.push(req.headerValue('referer').then((r) => ({ url: req.url(), referer: r, body: req.postData() })));
  });
  await page.goto(`${env.demoUrl}#ticket=leak-check-ticket&state=leak-check-state`);
  await page.locator('#notice').waitFor(); // no sign-in was begun here: the callback is refused
  assert.equal(new URL(page.url()).hash, '', 'the ticket is dropped from the address bar');
  const seen = await Promise.all(sent);
  const sameOrigin = seen.filter((r) => r.url.startsWith(new URL(env.demoUrl).origin));
  assert.ok(sameOrigin.length >= 4, `the page loaded its scripts, styles and wasm (${sameOrigin.length} requests)`);
  const leaks = seen.filter((r) => [r.url, r.referer, r.body].some((v) => v?.includes('leak-check')));
  assert.deepEqual(leaks, [], 'no request carries the ticket');
  await page.close();
});

test('demo page: the test hook exists only when config.json sets testHooks', async () => {
  const withHooks = await openDemo();
  assert.equal(await withHooks.evaluate(() => typeof globalThis.__jira3lo?.client), 'object', 'this e2e build sets testHooks');
  await withHooks.close();

  const page = await browser.ctx.newPage();
  await page.route((url) => url.pathname.endsWith('/www/config.json'), async (route) => {
    const response = await route.fetch();
    const config = await response.json();
    delete config.testHooks; // what a demo or release build ships
    await route.fulfill({ response, json: config });
  });
  await page.goto(env.demoUrl);
  await page.locator('#connect').waitFor();
  assert.equal(await page.evaluate(() => typeof globalThis.__jira3lo), 'undefined');
  await page.close();
});
