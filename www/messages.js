// The popup/options ↔ service-worker message protocol: {type: "signIn"} → {ok: true, status} | {ok: false, error}.
// Errors cross the message channel as plain objects, so they are rebuilt into Error objects on arrival.

/** A serializable copy of a JiraError (message channels only carry plain data). */
export function serializeError(err) {
  return {
    code: err?.code ?? 'unknown',
    message: err?.message ?? String(err),
    details: err?.details ?? {},
    needsReconnect: !!err?.needsReconnect,
  };
}

/** Rebuilds an Error with the JiraError fields from its serialized form. */
export function deserializeError(e) {
  const err = new Error(e?.message ?? 'Unknown error');
  err.name = 'JiraError';
  err.code = e?.code ?? 'unknown';
  err.details = e?.details ?? {};
  err.needsReconnect = !!e?.needsReconnect;
  return err;
}

/** Asks the service worker to run the sign-in (launchWebAuthFlow must not run in the popup: it closes). */
export async function requestSignIn({ interactive = true } = {}) {
  let res;
  try {
    res = await chrome.runtime.sendMessage({ type: 'signIn', interactive });
  } catch (e) {
    throw deserializeError({ code: 'unknown', message: `The extension's background worker is not answering (${e?.message ?? e}). Try again.` });
  }
  if (!res) throw deserializeError({ code: 'unknown', message: "The extension's background worker did not answer. Try again." });
  if (!res.ok) throw deserializeError(res.error);
  return res.status;
}
