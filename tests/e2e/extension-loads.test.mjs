// Foundation: the unpacked extension loads in headless Chromium (fixed key → stable id), its
// popup page instantiates the wasm module under the MV3 CSP, and wasm renders its version.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const dir = process.env.JIRA3LO_EXTENSION_DIR;
const expectedId = process.env.JIRA3LO_EXTENSION_ID;

test('the popup initialises the wasm module and renders its version', async () => {
  assert.ok(dir, 'run through `cargo xtask test` (JIRA3LO_EXTENSION_DIR)');
  const profile = mkdtempSync(join(tmpdir(), 'jira3lo-foundation-'));
  const ctx = await chromium.launchPersistentContext(profile, {
    headless: true,
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
      '--disable-sync', '--no-first-run', '--disable-quic',
      `--disable-extensions-except=${dir}`, `--load-extension=${dir}`],
  });
  try {
    const worker = ctx.serviceWorkers()[0] ?? await ctx.waitForEvent('serviceworker');
    const id = new URL(worker.url()).host;
    assert.equal(id, expectedId, 'the manifest key fixes the extension id');
    const page = await ctx.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    await page.goto(`chrome-extension://${id}/www/popup.html`);
    const version = page.locator('#version');
    await version.waitFor({ state: 'attached' });
    await page.waitForFunction(() => (document.querySelector('#version')?.textContent ?? '').trim().length > 0);
    const cargoVersion = /^version = "(.*)"$/m.exec(readFileSync(new URL('../../Cargo.toml', import.meta.url), 'utf8'))[1];
    assert.match((await version.textContent()).trim(), new RegExp(cargoVersion.replaceAll('.', '\\.')));
    assert.deepEqual(errors.filter((e) => /WebAssembly|CompileError|Content Security Policy/i.test(e)), []);
  } finally {
    await ctx.close();
    rmSync(profile, { recursive: true, force: true });
  }
});
