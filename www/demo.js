// The demo web page: the shared JiraApp over a Web Storage client with the redirect flow.
// Connect → location.assign(authorize URL); back here with ?code&state (or ?error&state) → completeSignIn,
// then the code is dropped from the address bar so a reload or a shared link never carries it.
import init, { JiraClient, version } from './pkg/jira_3lo.js';
import { loadConfig, clientConfig, saveGrantScopes, exposeTestHook } from './config.js';
import { JiraApp } from './ui.js';

const CALLBACK_PARAMS = ['code', 'state', 'error', 'error_description', 'error_uri'];

const [, config] = await Promise.all([init(), loadConfig()]);
const client = new JiraClient(clientConfig(config, 'session'));
const redirectUri = location.origin + location.pathname;

let initialError;
const params = new URLSearchParams(location.search);
if ((params.has('code') || params.has('error')) && params.has('state')) {
  try {
    await client.completeSignIn(location.href);
    await saveGrantScopes(config, 'session');
  } catch (err) {
    initialError = err;
  }
  const clean = new URL(location.href);
  for (const p of CALLBACK_PARAMS) clean.searchParams.delete(p);
  history.replaceState(history.state, '', clean.pathname + clean.search + clean.hash);
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
