// The demo web page: the shared JiraApp over a Web Storage client with the redirect flow.
// Connect → location.assign(authorize URL from the broker) → Atlassian → the broker's hosted callback →
// back here with #ticket&state (or #error&state) → completeSignIn, then the fragment is dropped from the
// address bar so a reload, the history or a shared link never carries the ticket.
import init, { JiraClient, version } from './pkg/jira_3lo.js';
import { loadConfig, clientConfig, saveGrantScopes, exposeTestHook, moduleInput } from './config.js';
import { JiraApp } from './ui.js';

const [, config] = await Promise.all([init(moduleInput()), loadConfig()]);
const client = new JiraClient(clientConfig(config, 'session'));
const redirectUri = location.origin + location.pathname;

let initialError;
const params = new URLSearchParams(location.hash.slice(1));
if (params.has('ticket') || params.has('error')) {
  const callbackUrl = location.href;
  // Out of the address bar (and the history entry) before anything else runs.
  history.replaceState(history.state, '', location.pathname + location.search);
  try {
    await client.completeSignIn(callbackUrl);
    await saveGrantScopes(config, 'session');
  } catch (err) {
    initialError = err;
  }
}

const app = new JiraApp({
  root: document.getElementById('app'),
  client,
  kind: 'web',
  config,
  version: version(),
  signIn: async () => {
    location.assign(await client.beginSignIn(redirectUri));
    return new Promise(() => {}); // the page is navigating away
  },
});
exposeTestHook(config, { client, app, config }); // e2e builds only
await app.start({ initialError });
