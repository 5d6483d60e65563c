// @ts-check
// The toolbar popup: the shared JiraApp with an extension-storage client; sign-in runs in the service worker.
//
// First paint does not wait for the module: the last list of the current site (www/snapshot.js) is read in
// one chrome.storage.session call and painted while the wasm module compiles and the config is read (both
// started at once); then the real client revalidates the rows in place. `cargo xtask build` ships this file
// and everything it imports as one bundle.
import init, { JiraClient, version } from './pkg/jira_3lo.js';
import { loadConfig, clientConfig, onOverridesChanged, exposeTestHook, moduleInput } from './config.js';
import { requestSignIn } from './messages.js';
import { JiraApp, describeError, h } from './ui.js';
import { STATE_KEY, resetState } from './badge.js';
import { Snapshots, readSnapshots } from './snapshot.js';
import { loadViewsState, onViewsChanged } from './views.js';

const root = /** @type {HTMLElement} */ (document.getElementById('app'));
const openOptions = () => chrome.runtime.openOptionsPage();

// Started together: the snapshot read (the first paint's one storage call), the module, the config.
const snapshotsRead = readSnapshots();
const moduleReady = Promise.all([init(moduleInput()), loadConfig()]);

/** @type {(client: any) => void} */
let clientIsReady = () => {};
/** @type {(err: any) => void} */
let clientFailed = () => {};
const clientReady = new Promise((resolve, reject) => {
  clientIsReady = resolve;
  clientFailed = reject;
});
clientReady.catch(() => {});
/** Until the module is ready, a call the app makes (a click on a painted row) waits for the real client. */
const lateClient = new Proxy({}, { get: (_, name) => (/** @type {any[]} */ ...args) => clientReady.then((c) => c[name](...args)) });

const snapshots = new Snapshots(await snapshotsRead);
snapshots.watchSignOut();
// A sign-out the user asks for is not "reconnect needed": the badge forgets that before the records go,
// and the last lists go with the account.
const onSignOut = () => Promise.all([chrome.storage.session.set({ [STATE_KEY]: resetState() }), snapshots.clear()]);
// Saved filters follow the user (chrome.storage.sync); the options page edits them.
const viewsStore = { load: loadViewsState, onChange: onViewsChanged };
const app = new JiraApp({ root, client: lateClient, kind: 'extension', config: {}, version: '', signIn: () => requestSignIn(), openOptions, onSignOut, snapshots, viewsStore });
if (app.paintSnapshot(snapshots.current(), { first: true })) performance.mark('jira3lo:snapshot-painted');

const [, config] = await moduleReady;
// For `cargo xtask bench popup`'s breakdown and the e2e test of the first paint: how many rows were on screen.
performance.mark('jira3lo:module-ready', { detail: { rows: root.querySelectorAll('#issues .issue-row').length } });
// Options saved elsewhere while the popup is open: start over with the new settings.
onOverridesChanged(() => location.reload());

let client;
try {
  client = new JiraClient(clientConfig(config, 'extension'));
} catch (err) {
  clientFailed(err);
  // Unusable configuration (e.g. no broker URL): say so and offer the one fix.
  const { text } = describeError(err, { config });
  root.replaceChildren(
    h('main', { class: 'main' },
      h('section', { class: 'hero' },
        h('h1', {}, 'Almost there'),
        h('p', { class: 'muted', id: 'config-error' }, text),
        h('button', { type: 'button', class: 'btn btn-primary btn-block', 'data-autofocus': 'always', onclick: openOptions }, 'Open Options'),
      ),
    ),
    h('footer', { class: 'footer' }, h('span', {}, 'jira-3lo ', h('span', { id: 'version' }, version()))),
  );
  throw err;
}
clientIsReady(client);
app.client = client;
app.config = config;
app.setVersion(version());
// Test hook (e2e and bench builds only): lets end-to-end tests drive this context's client.
exposeTestHook(config, { client, app, config });
await app.start();
// Signed out (elsewhere, or the grant was refused): no account's rows are kept for the next popup.
if (app.status?.state === 'signedOut') snapshots.clear().catch(() => {});
