// What a stolen copy of the browser's storage is worth, in headless Chromium against the real broker and
// fake: after a sign-in through the broker's hosted callback and a refresh, no storage area (nor IndexedDB,
// as far as script can read it) holds a refresh token Atlassian issued (the fake's admin record is the
// reference); the stored refresh blob is refused when presented with another key, before Atlassian is
// called; and the private key in IndexedDB cannot be exported.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { webcrypto } from 'node:crypto';
import {
  admin, clearWebRecords, connectViaConsent, env, launch, openClientTab, openPopup, requireEnv, resetFake, signInIn,
  signOutExtension, stats, waitForIssues,
} from './helpers.mjs';

let browser;

before(async () => {
  requireEnv();
  browser = await launch({ withExtension: true });
});

after(async () => {
  await browser?.close();
});

/**
 * Every value script in `page` can read: the Web Storage areas, chrome.storage (extension pages), and every
 * IndexedDB database of the origin (CryptoKeys as their public description).
 */
function dumpEverything(page) {
  return page.evaluate(async () => {
    const out = { localStorage: { ...localStorage }, sessionStorage: { ...sessionStorage }, indexedDB: {} };
    if (globalThis.chrome?.storage) {
      for (const area of ['local', 'session', 'sync']) out[`chrome.storage.${area}`] = await chrome.storage[area].get(null);
    }
    const describe = (v) => JSON.parse(JSON.stringify(v, (_, x) => (x instanceof CryptoKey
      ? { cryptoKey: true, type: x.type, extractable: x.extractable, algorithm: x.algorithm, usages: x.usages }
      : x)));
    for (const { name } of await indexedDB.databases()) {
      const db = await new Promise((resolve, reject) => {
        const r = indexedDB.open(name);
        r.onsuccess = () => resolve(r.result);
        r.onerror = () => reject(r.error);
      });
      out.indexedDB[name] = {};
      for (const store of db.objectStoreNames) {
        const [keys, values] = await Promise.all(['getAllKeys', 'getAll'].map((m) => new Promise((resolve, reject) => {
          const r = db.transaction(store).objectStore(store)[m]();
          r.onsuccess = () => resolve(r.result);
          r.onerror = () => reject(r.error);
        })));
        out.indexedDB[name][store] = keys.map((k, i) => ({ key: k, value: describe(values[i]) }));
      }
      db.close();
    }
    return out;
  });
}

async function assertNoRawRefreshToken(dump) {
  const issued = await admin('issued-refresh-tokens');
  assert.ok(issued.length >= 2, `the fake issued refresh tokens (a sign-in and a rotation): ${issued.length}`);
  const text = JSON.stringify(dump);
  assert.ok(/refresh_token/.test(text), 'the dump holds the sealed refresh record');
  for (const raw of issued) assert.ok(!text.includes(raw), 'a raw refresh token Atlassian issued is stored');
  const pairs = Object.values(dump.indexedDB['jira-3lo']?.keys ?? []);
  assert.equal(pairs.length, 1, `one proof key pair: ${JSON.stringify(dump.indexedDB)}`);
  const { privateKey, publicKey } = pairs[0].value;
  assert.deepEqual([privateKey.cryptoKey, privateKey.type, privateKey.extractable], [true, 'private', false]);
  assert.equal(publicKey.type, 'public');
}

/** A DPoP proof for `POST url` from a key that is not the browser's (an attacker's). */
async function foreignProof(url) {
  const { subtle } = webcrypto;
  const pair = await subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign']);
  const { kty, crv, x, y } = await subtle.exportKey('jwk', pair.publicKey);
  const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const input = `${b64({ typ: 'dpop+jwt', alg: 'ES256', jwk: { kty, crv, x, y } })}.${b64({
    htm: 'POST', htu: url, iat: Math.floor(Date.now() / 1000), jti: webcrypto.randomUUID(),
  })}`;
  const signature = await subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, pair.privateKey, Buffer.from(input));
  return `${input}.${Buffer.from(signature).toString('base64url')}`;
}

async function refreshWith(blob, proof) {
  const res = await fetch(`${env.broker}/oauth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(proof ? { dpop: proof } : {}) },
    body: JSON.stringify({ grant_type: 'refresh_token', refresh_token: blob }),
  });
  return { status: res.status, body: await res.json() };
}

test('extension: after sign-in and a refresh, no storage area or IndexedDB holds a raw refresh token; the blob is useless elsewhere', async () => {
  await resetFake({ consent_mode: 'page', consent_user: 'bob' });
  await signOutExtension(browser.ctx, browser.id);
  const popup = await openPopup(browser.ctx, browser.id);
  await connectViaConsent(browser.ctx, popup);
  await waitForIssues(popup);
  // A refresh (the fake's clock past the access token's hour): the broker seals the rotated token too.
  await admin('clock', { advance_secs: 2 * 3600 });
  const refreshed = (await stats()).grants_ok.refresh_token;
  await popup.evaluate(() => globalThis.__jira3lo.client.myself());
  assert.equal((await stats()).grants_ok.refresh_token, refreshed + 1, 'one refresh happened');

  const dump = await dumpEverything(popup);
  await assertNoRawRefreshToken(dump);

  // The sealed blob, copied out: refused without a proof, and with another key, before Atlassian is called.
  const record = Object.entries(dump['chrome.storage.local']).find(([k]) => /^jira3lo:.*:refresh$/.test(k))[1];
  const blob = JSON.parse(record).refresh_token;
  const before = (await stats()).grants.refresh_token;
  const bare = await refreshWith(blob, null);
  assert.deepEqual([bare.status, bare.body.error], [400, 'invalid_dpop_proof']);
  const stolen = await refreshWith(blob, await foreignProof(`${env.broker}/oauth/token`));
  assert.deepEqual([stolen.status, stolen.body.error], [400, 'invalid_grant']);
  assert.equal((await stats()).grants.refresh_token, before, 'Atlassian was not called');
  // The owner still refreshes with it.
  await admin('clock', { advance_secs: 2 * 3600 });
  await popup.evaluate(() => globalThis.__jira3lo.client.myself());
  assert.equal((await stats()).grants_ok.refresh_token, refreshed + 2);
  await popup.close();
});

test('web page (local storage): after sign-in and a refresh, nothing the page can read holds a raw refresh token', async () => {
  await resetFake({ consent_mode: 'auto', consent_user: 'bob' });
  const page = await openClientTab(browser.ctx, { storage: 'local' });
  await clearWebRecords(page);
  await signInIn(page);
  await admin('clock', { advance_secs: 2 * 3600 });
  await page.evaluate(() => globalThis.__e2e.client.myself());
  await assertNoRawRefreshToken(await dumpEverything(page));
  await page.close();
});
