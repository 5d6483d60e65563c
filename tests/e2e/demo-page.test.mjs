// The demo web page (same wasm module, redirect flow, sessionStorage) against the real broker and fake:
// Connect → the fake's consent page in the same tab → Accept → back with ?code&state → issues shown,
// the code dropped from the address bar; a reload stays signed in without a token request.
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

test('demo page: Connect → Accept → my open issues, code removed from the URL, reload keeps the session', async () => {
  await resetFake({ consent_mode: 'page', consent_user: 'bob' });
  const page = await openDemo();
  assert.ok((await page.locator('#version').textContent()).trim().length > 0, 'wasm initialised');
  await page.click('#connect');
  await page.locator('#accept').waitFor(); // the consent page, same tab
  await page.click('#accept');
  await waitForIssues(page);
  const url = new URL(page.url());
  assert.equal(url.origin + url.pathname, env.demoUrl);
  assert.equal(url.searchParams.get('code'), null, 'the code is not left in the address bar');
  assert.equal(url.searchParams.get('state'), null);
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
  assert.equal(new URL(page.url()).searchParams.get('error'), null, 'the error parameters are removed too');
  await page.locator('#connect').waitFor();
  await page.close();
});
