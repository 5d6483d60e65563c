// `cargo xtask bench percall`: the per-call cost of the module. N sequential `client.search` calls (a 50-issue
// page each) through the module, against N sequential raw `fetch(sameUrl, {headers}).then((r) => r.json())` of
// the same URL with the same bearer token, in the same page of the static server, against the local fake.
//
// The URL and the token are the ones the module itself sent (its first search, seen by the browser), and the
// token is checked against the module's storage record `jira3lo:default:access`. The calls run in blocks that
// alternate between the two ways (ROUNDS × BLOCK each, order swapped every round) so that drift (other builds on
// the machine, the fake's allocator, GC) hits both equally. Access tokens live a day (fake setting), and the fake's
// stats must show 0 token requests and exactly 1 Jira request per call, in every block.
//
// Budget (issue): module/raw ≤ 1.25× (median-based; exit 1 above it), goal ≤ 1.05× (printed, never fails).
// Env: as the e2e tests (JIRA3LO_*), plus JIRA3LO_BENCH_CALLS (default 1000 per way), JIRA3LO_BENCH_ROUNDS
// (default 10) and JIRA3LO_BENCH_WARMUP (default 50 per way).
import assert from 'node:assert/strict';
import {
  callIn, countMatching, launch, openClientTab, requireEnv, resetFake, signInIn, stats, TOKEN, count, withinStep,
} from './helpers.mjs';

const CALLS = Number(process.env.JIRA3LO_BENCH_CALLS ?? 1000);
const ROUNDS = Number(process.env.JIRA3LO_BENCH_ROUNDS ?? 10);
const WARMUP = Number(process.env.JIRA3LO_BENCH_WARMUP ?? 50);
const BLOCK = Math.ceil(CALLS / ROUNDS);
const BUDGET = 1.25;
const GOAL = 1.05;
const ACME = 'a5c0f6d2-3b1e-4c8a-9f7d-2e6b1a0c4d8e';
// Alice on acme: 97 issues match (README of the fake), so every page holds 50 issues.
const PARAMS = { jql: 'assignee = currentUser() AND statusCategory != Done ORDER BY updated DESC', maxResults: 50 };
const SEARCH = '/rest/api/3/search/jql';
const BLOCK_TIMEOUT_MS = 120_000;

requireEnv();
const browser = await launch({ withExtension: false });
let failed = false;

try {
  // 1. A fresh fake whose access tokens outlive the run, and one sign-in in a bare client page (default
  //    storage of a page: sessionStorage), on acme.
  await resetFake({ consent_mode: 'auto', consent_user: 'alice', access_token_lifetime_secs: 86_400 });
  const page = await openClientTab(browser.ctx);
  let status = await signInIn(page);
  if (status.state === 'siteSelectionRequired') {
    const chosen = await callIn(page, 'chooseSite', ACME);
    assert.ok(chosen.ok, `chooseSite: ${JSON.stringify(chosen)}`);
    status = chosen.value;
  }
  assert.equal(status.state, 'signedIn', `status after sign-in: ${JSON.stringify(status)}`);

  // 2. The exact request the module sends for this search: URL (with its query) and bearer token.
  const seen = [];
  const onRequest = (req) => {
    if (req.url().includes(SEARCH) && req.method() === 'GET') seen.push({ url: req.url(), headers: req.headers() });
  };
  page.on('request', onRequest);
  const first = await callIn(page, 'search', PARAMS);
  page.off('request', onRequest);
  assert.ok(first.ok, `the module's first search: ${JSON.stringify(first)}`);
  assert.equal(seen.length, 1, `GET search requests seen for one module search: ${seen.length}`);
  const { url, headers } = seen[0];
  const token = headers.authorization?.replace(/^Bearer /, '');
  assert.ok(token, 'the module sent a bearer token');
  const stored = await page.evaluate(() => {
    const raw = sessionStorage.getItem('jira3lo:default:access') ?? localStorage.getItem('jira3lo:default:access');
    return raw ? JSON.parse(raw).access_token ?? null : null;
  });
  assert.equal(stored, token, 'the token the module sent is the one in its storage record jira3lo:default:access');
  console.log(`URL the module sends (both ways fetch it): ${url.replace(/^https?:\/\/[^/]+/, '')}`);
  console.log(`module request headers: ${Object.keys(headers).sort().join(', ')}`);

  // 3. The two ways, installed once in the page; a block returns each call's duration and the block's wall time.
  await page.evaluate(({ url, token, params }) => {
    const client = globalThis.__e2e.client;
    const init = { headers: { authorization: `Bearer ${token}`, accept: 'application/json' } };
    const block = async (n, call) => {
      const times = new Array(n);
      let issues = 0;
      const start = performance.now();
      for (let i = 0; i < n; i++) {
        const t0 = performance.now();
        const page = await call();
        times[i] = performance.now() - t0;
        issues += page.issues.length;
      }
      return { times, wall: performance.now() - start, issues };
    };
    globalThis.__bench = {
      module: (n) => block(n, () => client.search(params)),
      raw: (n) => block(n, () => fetch(url, init).then((r) => r.json())),
      // Both ways answer the same page: the same issues in the same order, and every field the raw body
      // has is in the module's issue too (the module's typed models add the fields Jira left out, as null).
      shapes: async () => {
        const a = await client.search(params);
        const b = await fetch(url, init).then((r) => r.json());
        const missing = b.issues.flatMap((issue, i) => Object.keys(issue.fields ?? {})
          .filter((f) => !(f in (a.issues[i]?.fields ?? {}))).map((f) => `${issue.key}.${f}`));
        return { module: a.issues.map((i) => i.key), raw: b.issues.map((i) => i.key), missing };
      },
    };
  }, { url, token, params: PARAMS });

  const shapes = await page.evaluate(() => globalThis.__bench.shapes());
  assert.equal(shapes.module.length, 50, `issues per page: ${shapes.module.length} (a 50-issue search expected)`);
  assert.deepEqual(shapes.module, shapes.raw, 'the module and the raw fetch got the same issues');
  assert.deepEqual(shapes.missing, [], 'fields of the raw body missing from the module\'s issues');

  const runBlock = (way, n) => withinStep(page.evaluate(({ way, n }) => globalThis.__bench[way](n), { way, n }),
    `${n} ${way} calls`, BLOCK_TIMEOUT_MS);

  // 4. Warm-up (JIT, connection pool, CORS preflight cache), then the measured rounds.
  await runBlock('module', WARMUP);
  await runBlock('raw', WARMUP);

  const results = { module: { times: [], wall: 0, issues: 0, jira: 0, preflights: 0, tokens: 0, other: 0 },
    raw: { times: [], wall: 0, issues: 0, jira: 0, preflights: 0, tokens: 0, other: 0 } };
  const roundRatios = [];
  const started = Date.now();
  for (let round = 0; round < ROUNDS; round++) {
    const n = Math.min(BLOCK, CALLS - round * BLOCK);
    if (n <= 0) break;
    const medians = {};
    for (const way of round % 2 === 0 ? ['module', 'raw'] : ['raw', 'module']) {
      const before = await stats();
      const out = await runBlock(way, n);
      const after = await stats();
      const r = results[way];
      r.times.push(...out.times);
      r.wall += out.wall;
      r.issues += out.issues;
      r.jira += countMatching(after, SEARCH) - countMatching(before, SEARCH);
      r.tokens += count(after, TOKEN) - count(before, TOKEN);
      r.other += totalRequests(after) - totalRequests(before) - (countMatching(after, SEARCH) - countMatching(before, SEARCH));
      r.preflights += totalPreflights(after) - totalPreflights(before);
      medians[way] = summary(out.times).median;
    }
    roundRatios.push(medians.module / medians.raw);
  }
  const elapsed = (Date.now() - started) / 1000;

  // 5. Report.
  const m = summary(results.module.times);
  const b = summary(results.raw.times);
  const line = (name, s, r) => console.log(
    `${name} median ${s.median.toFixed(3)} ms  p95 ${s.p95.toFixed(3)} ms  min ${s.min.toFixed(3)} ms  ` +
    `total ${(r.wall / 1000).toFixed(2)} s  (n=${s.n}, ${r.issues / s.n} issues/call)`);
  console.log(`\n${CALLS} sequential 50-issue searches each way, ${ROUNDS} alternating rounds of ${BLOCK}, after ${WARMUP} warm-up calls each (${elapsed.toFixed(1)} s):`);
  line('module  client.search(...)      ', m, results.module);
  line('raw     fetch(url).then(json)   ', b, results.raw);
  const ratioMedian = m.median / b.median;
  const ratioTotal = results.module.wall / results.raw.wall;
  console.log(`ratio module/raw: ${ratioMedian.toFixed(3)}× (medians), ${ratioTotal.toFixed(3)}× (totals); ` +
    `added by the module: ${(m.median - b.median).toFixed(3)} ms per call (medians)`);
  const spread = summary(roundRatios);
  console.log(`per-round ratio of medians: ${roundRatios.map((x) => x.toFixed(2)).join(' ')} ` +
    `(median ${spread.median.toFixed(3)}×, range ${spread.min.toFixed(2)}–${Math.max(...roundRatios).toFixed(2)})`);
  console.log(`budget ≤ ${BUDGET}×: ${ratioMedian <= BUDGET ? 'met' : 'EXCEEDED'} (medians), ${ratioTotal <= BUDGET ? 'met' : 'exceeded'} (totals)`);
  console.log(`goal   ≤ ${GOAL}×: ${ratioMedian <= GOAL ? 'met' : 'not met'} (medians), ${ratioTotal <= GOAL ? 'met' : 'not met'} (totals)`);
  for (const way of ['module', 'raw']) {
    const r = results[way];
    const n = r.times.length;
    console.log(`${way.padEnd(6)} requests per call at the fake: Jira search ${(r.jira / n).toFixed(3)}, token ${r.tokens}, ` +
      `other ${r.other}, CORS preflights ${r.preflights}`);
  }

  // The measurement only stands if both ways did exactly one Jira request per call and nothing else.
  for (const way of ['module', 'raw']) {
    const r = results[way];
    assert.equal(r.tokens, 0, `${way}: token requests during the run`);
    assert.equal(r.jira, r.times.length, `${way}: Jira search requests (${r.jira}) for ${r.times.length} calls`);
    assert.equal(r.other, 0, `${way}: other requests at the fake during the run`);
    assert.equal(r.issues, 50 * r.times.length, `${way}: 50 issues per call`);
  }
  if (ratioMedian > BUDGET) {
    console.error(`module/raw ${ratioMedian.toFixed(3)}× (medians) is above the budget of ${BUDGET}×`);
    failed = true;
  }
} finally {
  await browser.close();
}
if (failed) process.exit(1);

function totalRequests(s) {
  return Object.values(s.requests ?? {}).reduce((a, c) => a + c, 0);
}

function totalPreflights(s) {
  return Object.values(s.preflights ?? {}).reduce((a, c) => a + c, 0);
}

function summary(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p) => s[Math.min(s.length - 1, Math.ceil(p * s.length) - 1)];
  const median = s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
  return { n: s.length, median, p95: q(0.95), min: s[0] };
}
