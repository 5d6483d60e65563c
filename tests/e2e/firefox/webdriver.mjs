// A small WebDriver client (fetch over geckodriver's HTTP API) for the Firefox end-to-end tests:
// Playwright's patched Firefox cannot be downloaded here, and Debian's Firefox ESR speaks WebDriver
// through geckodriver (installed by `cargo xtask test` from the crate registry).
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { mkdirSync, openSync } from 'node:fs';
import { join } from 'node:path';

/** A free loopback port (closed again before geckodriver takes it). */
function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

async function waitForDriver(base, child, ms = 20_000) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`geckodriver exited with ${child.exitCode}`);
    try {
      const res = await fetch(`${base}/status`);
      if (res.ok && (await res.json()).value?.ready !== undefined) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`geckodriver did not answer at ${base} within ${ms} ms`);
}

export class WebDriverError extends Error {}

/** One geckodriver process with one Firefox session. */
export class FirefoxSession {
  /**
   * Starts geckodriver and a headless Firefox with `prefs` (e.g. the add-on UUID pref).
   * `logDir`: where geckodriver's (and Firefox's) output goes.
   */
  static async start({ geckodriver, firefox, prefs = {}, logDir, headless = true }) {
    const port = await freePort();
    let stdio = 'ignore';
    if (logDir) {
      mkdirSync(logDir, { recursive: true });
      const log = openSync(join(logDir, 'geckodriver.log'), 'w');
      stdio = ['ignore', log, log];
    }
    // --allow-system-access: the chrome context, to open moz-extension:// pages (see openExtensionTab).
    const child = spawn(geckodriver, ['--host', '127.0.0.1', '--port', String(port), '--log', 'info', '--allow-system-access'], { stdio });
    const base = `http://127.0.0.1:${port}`;
    try {
      await waitForDriver(base, child);
      const session = new FirefoxSession(base, child);
      const created = await session.send('POST', '/session', {
        capabilities: {
          alwaysMatch: {
            browserName: 'firefox',
            acceptInsecureCerts: false,
            'moz:firefoxOptions': {
              binary: firefox,
              args: headless ? ['-headless'] : [],
              prefs: {
                // No updates, telemetry, captive-portal or safe-browsing traffic into the closed network.
                'app.update.enabled': false,
                'network.captive-portal-service.enabled': false,
                'network.connectivity-service.enabled': false,
                'browser.safebrowsing.update.enabled': false,
                'extensions.getAddons.cache.enabled': false,
                'datareporting.policy.dataSubmissionEnabled': false,
                ...prefs,
              },
            },
          },
        },
      }, 60_000);
      session.id = created.sessionId;
      session.capabilities = created.capabilities;
      await session.cmd('POST', '/timeouts', { script: 60_000, pageLoad: 30_000, implicit: 0 });
      return session;
    } catch (err) {
      child.kill('SIGKILL');
      throw err;
    }
  }

  constructor(base, child) {
    this.base = base;
    this.child = child;
    this.id = null;
  }

  async send(method, path, body, ms = 90_000) {
    const res = await fetch(`${this.base}${path}`, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json; charset=utf-8' },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(ms),
    });
    const json = await res.json().catch(() => ({}));
    if (!res.ok) {
      const v = json.value ?? {};
      throw new WebDriverError(`${method} ${path}: ${res.status} ${v.error ?? ''}: ${v.message ?? JSON.stringify(json)}`);
    }
    return json.value;
  }

  /** A command of this session: `/session/{id}${path}`. */
  cmd(method, path, body, ms) {
    return this.send(method, `/session/${this.id}${path}`, body, ms);
  }

  /** Installs an unpacked extension folder as a temporary add-on; returns its add-on id. */
  installTemporaryAddon(dir) {
    return this.cmd('POST', '/moz/addon/install', { path: dir, temporary: true });
  }

  navigate(url) {
    return this.cmd('POST', '/url', { url });
  }

  url() {
    return this.cmd('GET', '/url');
  }

  /**
   * Runs `fn(...args)` in the current tab and returns its (awaited) result. `fn` is sent as source:
   * it sees only its arguments (JSON values).
   */
  evaluate(fn, ...args) {
    return this.cmd('POST', '/execute/sync', { script: `return (${fn}).apply(null, arguments);`, args });
  }

  /** Opens a new tab, switches to it, returns its handle. */
  async newTab() {
    const { handle } = await this.cmd('POST', '/window/new', { type: 'tab' });
    await this.switchTo(handle);
    return handle;
  }

  /**
   * Opens `url` (a moz-extension:// page) in a new tab, switches to it, returns its handle.
   * WebDriver's Navigate refuses moz-extension:// URLs ("not allowed in this context"), so the tab is
   * opened from the chrome context (geckodriver --allow-system-access) with the system principal, as
   * the browser's own UI opens an extension page.
   */
  async openExtensionTab(url) {
    const before = new Set(await this.handles());
    await this.cmd('POST', '/moz/context', { context: 'chrome' });
    try {
      await this.evaluate((u) => {
        const win = Services.wm.getMostRecentWindow('navigator:browser');
        const tab = win.gBrowser.addTab(u, { triggeringPrincipal: Services.scriptSecurityManager.getSystemPrincipal() });
        win.gBrowser.selectedTab = tab;
        return true;
      }, url);
    } finally {
      await this.cmd('POST', '/moz/context', { context: 'content' });
    }
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      const added = (await this.handles()).filter((h) => !before.has(h));
      if (added.length) {
        await this.switchTo(added[0]);
        await this.waitFor(`${url} loads`, (u) => location.href === u && document.readyState === 'complete', { args: [url] });
        return added[0];
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`no tab appeared for ${url}`);
  }

  switchTo(handle) {
    return this.cmd('POST', '/window', { handle });
  }

  handles() {
    return this.cmd('GET', '/window/handles');
  }

  /** Closes the current tab; returns the remaining handles. */
  closeTab() {
    return this.cmd('DELETE', '/window');
  }

  /** A PNG of the current tab, base64. */
  screenshot() {
    return this.cmd('GET', '/screenshot');
  }

  /** Polls `fn(...args)` in the current tab until it returns a truthy value. */
  async waitFor(what, fn, { ms = 15_000, args = [] } = {}) {
    const deadline = Date.now() + ms;
    let last;
    while (Date.now() < deadline) {
      try {
        last = await this.evaluate(fn, ...args);
        if (last) return last;
      } catch (err) {
        last = err;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`${what}: not within ${ms} ms (last: ${last instanceof Error ? last.message : JSON.stringify(last)})`);
  }

  async quit() {
    try {
      if (this.id) await this.send('DELETE', `/session/${this.id}`, undefined, 20_000);
    } catch {
      // The browser is gone already: the driver is killed below either way.
    } finally {
      this.child.kill('SIGTERM');
    }
  }
}
