// The extension's service worker. Sign-in runs here because chrome.identity.launchWebAuthFlow opens a
// window, which closes the popup that asked for it; the popup waits for the answer to its message.
// Listeners are registered synchronously at the top level (MV3 wakes the worker for them); the wasm
// module and the client are created lazily on first use (module workers forbid top-level await).
import init, { JiraClient } from './pkg/jira_3lo.js';
import { loadConfig, clientConfig, onOverridesChanged } from './config.js';
import { serializeError } from './messages.js';

let clientPromise = null;
let signInPromise = null;

/** The worker's JiraClient (same chrome.storage as the popup's, so both see one session). */
function getClient() {
  clientPromise ??= (async () => {
    await init();
    const config = await loadConfig();
    return new JiraClient(clientConfig(config, 'extension'));
  })().catch((err) => {
    clientPromise = null; // let the next message retry (e.g. after the options page fixed the config)
    throw err;
  });
  return clientPromise;
}

/** One sign-in at a time: a second Connect click while the Atlassian window is open joins the first. */
function signIn(interactive) {
  signInPromise ??= getClient()
    .then((client) => client.signInWithExtension(interactive))
    .finally(() => {
      signInPromise = null;
    });
  return signInPromise;
}

chrome.runtime.onMessage.addListener((message, sender, sendResponse) => {
  if (sender.id !== chrome.runtime.id || message?.type !== 'signIn') return false;
  signIn(message.interactive !== false).then(
    (status) => sendResponse({ ok: true, status }),
    (err) => sendResponse({ ok: false, error: serializeError(err) }),
  );
  return true; // the response is sent asynchronously
});

// The options page changed the broker or scopes: the next use builds a client with them.
onOverridesChanged(() => {
  clientPromise = null;
});

// Test and debugging hook (end-to-end tests call Jira from this context too).
globalThis.__jira3lo = { getClient };
