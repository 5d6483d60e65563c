// The extension's service worker. Sign-in runs here because chrome.identity.launchWebAuthFlow opens a
// window, which closes the popup that asked for it; the popup waits for the answer to its message.
// Listeners are registered synchronously at the top level (MV3 wakes the worker for them); the wasm
// module and the client are created lazily on first use (module workers forbid top-level await).
import init, { JiraClient } from './pkg/jira_3lo.js';
import { loadConfig, loadDefaults, clientConfig, onOverridesChanged, saveGrantScopes, exposeTestHook } from './config.js';
import { serializeError } from './messages.js';

let setupPromise = null;
let signInPromise = null;

/** The worker's JiraClient (same chrome.storage as the popup's, so both see one session) and its config. */
function getSetup() {
  setupPromise ??= (async () => {
    await init();
    const config = await loadConfig();
    return { client: new JiraClient(clientConfig(config, 'extension')), config };
  })().catch((err) => {
    setupPromise = null; // let the next message retry (e.g. after the options page fixed the config)
    throw err;
  });
  return setupPromise;
}

const getClient = () => getSetup().then((s) => s.client);

/**
 * One sign-in at a time: a second Connect click while the Atlassian window is open joins the first.
 * On success the scopes asked for are recorded, so the popup can tell when Options asks for others.
 */
function signIn(interactive) {
  signInPromise ??= getSetup()
    .then(async ({ client, config }) => {
      const status = await client.signInWithExtension(interactive);
      await saveGrantScopes(config, 'extension').catch(() => {}); // a hint for the UI, never worth failing the sign-in
      return status;
    })
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
  setupPromise = null;
});

// Test hook, only in builds whose config.json asks for it: the end-to-end tests call Jira from this context too.
loadDefaults().then((defaults) => exposeTestHook(defaults, { getClient }));
