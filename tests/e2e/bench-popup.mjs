// `cargo xtask bench popup`: popup open → first issues rendered, with cached tokens, against the local fake,
// compared with a hand-written plain-JavaScript page (www/bench/plain.html) that makes the same single search
// request with a bearer token and renders the same rows, measured in the same browser in the same run.
//
// Both pages set performance.mark('jira3lo:first-issues') when the rows are in the DOM; the figure is that
// mark's time since the page's navigation start (what a person waits for after clicking the toolbar icon,
// minus the browser's popup-window chrome, which is the same for both). Runs alternate between the two pages.
// Env: as the e2e tests (JIRA3LO_*), plus JIRA3LO_BENCH_RUNS (default 25) and JIRA3LO_BENCH_WARMUP (default 3).
import assert from 'node:assert/strict';
import { count, env, launch, requireEnv, resetFake, stats, TOKEN, waitForIssues } from './helpers.mjs';

const RUNS = Number(process.env.JIRA3LO_BENCH_RUNS ?? 25);
const WARMUP = Number(process.env.JIRA3LO_BENCH_WARMUP ?? 3);
const MARK = 'jira3lo:first-issues';

requireEnv();
const browser = await launch();
const { ctx, id } = browser;

try {
  // 1. Sign the extension in once (auto-consent) so every measured popup open has cached tokens.
  await resetFake({ consent_mode: 'auto', consent_user: 'bob' });
  const setup = await ctx.newPage();
  await setup.goto(`chrome-extension://${id}/www/popup.html`);
  await setup.locator('#connect').click();
  await waitForIssues(setup);
  await setup.close();

  // 2. A bearer token for the plain page, obtained the way any web app would (authorize → broker exchange).
  const plain = await plainPageCredentials();

  const measure = async (kind) => {
    const page = await ctx.newPage();
    await page.setViewportSize({ width: 380, height: 600 });
    if (kind === 'plain') await page.addInitScript((b) => { globalThis.__bench = b; }, plain);
    const url = kind === 'popup' ? `chrome-extension://${id}/www/popup.html` : `chrome-extension://${id}/www/bench/plain.html`;
    await page.goto(url);
    const ms = await page.waitForFunction((mark) => performance.getEntriesByName(mark)[0]?.startTime, MARK).then((h) => h.jsonValue());
    const rows = await page.locator('.issue-row').count();
    if (kind === 'popup') {
      // Where the popup's time goes: scripts + wasm compiled and config read, then the session read from storage.
      const marks = await page.evaluate(() => Object.fromEntries(performance.getEntriesByType('mark').map((m) => [m.name, m.startTime])));
      phases.moduleReady.push(marks['jira3lo:module-ready']);
      phases.statusRead.push(marks['jira3lo:status-read'] - marks['jira3lo:module-ready']);
      phases.search.push(marks[MARK] - marks['jira3lo:status-read']);
    }
    await page.close();
    assert.ok(rows > 0, `${kind}: rows rendered`);
    return ms;
  };
  const phases = { moduleReady: [], statusRead: [], search: [] };

  const before = await stats();
  const results = { popup: [], plain: [] };
  for (let i = 0; i < WARMUP + RUNS; i++) {
    const order = i % 2 === 0 ? ['popup', 'plain'] : ['plain', 'popup'];
    for (const kind of order) {
      const ms = await measure(kind);
      if (i >= WARMUP) results[kind].push(ms);
    }
  }
  const after = await stats();

  const popup = summary(results.popup);
  const base = summary(results.plain);
  console.log(`popup open → first issues rendered (cached tokens): median ${popup.median.toFixed(1)} ms  p90 ${popup.p90.toFixed(1)} ms  min ${popup.min.toFixed(1)} ms  (n=${popup.n})`);
  console.log(`plain-JS page, same single fetch:                  median ${base.median.toFixed(1)} ms  p90 ${base.p90.toFixed(1)} ms  min ${base.min.toFixed(1)} ms  (n=${base.n})`);
  const med = (xs) => summary(xs.slice(-RUNS)).median.toFixed(1);
  console.log(`  popup breakdown (medians): page + JS + wasm init + config ${med(phases.moduleReady)} ms, session read ${med(phases.statusRead)} ms, search + render ${med(phases.search)} ms`);
  console.log(`ratio popup/plain (medians): ${(popup.median / base.median).toFixed(2)}x; added by the module: ${(popup.median - base.median).toFixed(1)} ms`);
  console.log(`token requests during the measured runs: ${count(after, TOKEN) - count(before, TOKEN)} (cached tokens: expected 0)`);
} finally {
  await browser.close();
}

function summary(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p) => s[Math.min(s.length - 1, Math.floor(p * s.length))];
  const median = s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
  return { n: s.length, median, p90: q(0.9), min: s[0] };
}

/**
 * An access token for the plain-JS baseline page, taken straight from the fake with the demo app's
 * credentials (the baseline stands for a page that already holds a token; how it got one is not timed).
 */
async function plainPageCredentials() {
  const client = await (await fetch(`${env.broker}/v1/client`)).json();
  const redirectUri = `${env.broker}/oauth/callback`; // the app's one registered callback URL
  const authorize = new URL(`${env.fake}/authorize`);
  for (const [k, v] of Object.entries({
    audience: 'api.atlassian.com', client_id: client.client_id, scope: client.scopes.join(' '),
    redirect_uri: redirectUri, state: 'bench', response_type: 'code', prompt: 'consent',
  })) authorize.searchParams.set(k, v);
  const res = await fetch(authorize, { redirect: 'manual' });
  const code = new URL(res.headers.get('location')).searchParams.get('code');
  assert.ok(code, `authorize answered ${res.status} without a code`);
  const token = await (await fetch(`${env.fake}/oauth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      grant_type: 'authorization_code', code, redirect_uri: redirectUri, client_id: client.client_id, client_secret: 'demo-secret',
    }),
  })).json();
  assert.ok(token.access_token, 'the fake exchanged the code');
  const resources = await (await fetch(`${env.fake}/oauth/token/accessible-resources`, {
    headers: { authorization: `Bearer ${token.access_token}` },
  })).json();
  return { apiBaseUrl: env.fake, cloudId: resources[0].id, accessToken: token.access_token };
}
