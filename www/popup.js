// The toolbar popup: the shared JiraApp with an extension-storage client; sign-in runs in the service worker.
import init, { JiraClient, version } from './pkg/jira_3lo.js';
import { loadConfig, clientConfig, onOverridesChanged, exposeTestHook } from './config.js';
import { requestSignIn } from './messages.js';
import { JiraApp, describeError, h } from './ui.js';
import { STATE_KEY, resetState } from './badge.js';
import { loadViewsState, onViewsChanged } from './views.js';

const root = document.getElementById('app');
const openOptions = () => chrome.runtime.openOptionsPage();

const [, config] = await Promise.all([init(), loadConfig()]);
performance.mark('jira3lo:module-ready'); // for `cargo xtask bench popup`'s breakdown
// Options saved elsewhere while the popup is open: start over with the new settings.
onOverridesChanged(() => location.reload());

let client;
try {
  client = new JiraClient(clientConfig(config, 'extension'));
} catch (err) {
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

// A sign-out the user asks for is not "reconnect needed": the badge forgets that before the records go.
const onSignOut = () => chrome.storage.session.set({ [STATE_KEY]: resetState() });
// Saved filters follow the user (chrome.storage.sync); the options page edits them.
const viewsStore = { load: loadViewsState, onChange: onViewsChanged };
const app = new JiraApp({ root, client, kind: 'extension', config, version: version(), signIn: () => requestSignIn(), openOptions, onSignOut, viewsStore });
// Test hook (e2e and bench builds only): lets end-to-end tests drive this context's client.
exposeTestHook(config, { client, app, config });
await app.start();
