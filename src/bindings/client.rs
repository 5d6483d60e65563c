//! `JiraClient`: sign-in, status, sites and sign-out for JavaScript. The Jira calls live in a
//! second `#[wasm_bindgen] impl JiraClient` block in `jira.rs`.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use tsify::Ts;
use wasm_bindgen::prelude::*;

use super::config::ClientConfig;
use super::error::to_js;
use super::types::{to_ts, Site, Status};
use crate::platform::{identity, BrowserPlatform, BrowserStore, FetchClient, Subscription};
use crate::session::Session;
use crate::Error;

/// A signed-in (or signing-in) connection to Jira Cloud for one app and one storage.
///
/// Every method that returns a promise rejects with a {@link JiraError}.
#[wasm_bindgen]
pub struct JiraClient {
    pub(crate) session: Session<BrowserPlatform>,
    store: BrowserStore,
    namespace: String,
    /// `onStatusChange` listeners; dropped (unregistered) with the client.
    subscriptions: RefCell<Vec<Subscription>>,
}

#[wasm_bindgen]
impl JiraClient {
    /// Creates a client; throws a `JiraError` with code `config` or `storage` when the
    /// configuration is unusable here. No network request is made.
    #[wasm_bindgen(constructor)]
    pub fn new(config: Ts<ClientConfig>) -> Result<JiraClient, JsValue> {
        let config: ClientConfig = config.to_rust().map_err(|e| {
            to_js(Error::Config {
                message: format!("invalid JiraClient config: {e}"),
            })
        })?;
        let resolved = config.resolve().map_err(to_js)?;
        let store = BrowserStore::open(resolved.storage).map_err(|e| to_js(e.into()))?;
        let mut platform = BrowserPlatform::new(store.clone());
        if let Some(timeout) = resolved.request_timeout_ms {
            platform = platform.with_http(FetchClient::new(timeout));
        }
        let namespace = resolved.session.namespace.clone();
        Ok(JiraClient {
            session: Session::new(resolved.session, platform),
            store,
            namespace,
            subscriptions: RefCell::new(Vec::new()),
        })
    }

    /// The current sign-in state, from storage only (no network request).
    pub async fn status(&self) -> Result<Ts<Status>, JsValue> {
        self.session
            .status()
            .await
            .map_err(to_js)
            .and_then(|s| to_ts(&Status::from(s)))
    }

    /// Starts a sign-in and resolves with the authorize URL to open (a web page does
    /// `location.assign(url)`). `redirectUri` must be registered for the app.
    #[wasm_bindgen(js_name = beginSignIn)]
    pub async fn begin_sign_in(
        &self,
        #[wasm_bindgen(js_name = redirectUri)] redirect_uri: String,
    ) -> Result<String, JsValue> {
        self.session
            .begin_sign_in(&redirect_uri)
            .await
            .map_err(to_js)
    }

    /// Finishes a sign-in from the URL the provider redirected to (a web page passes
    /// `location.href` on its callback page): validates it, exchanges the code through the
    /// broker and discovers the Jira sites.
    #[wasm_bindgen(js_name = completeSignIn)]
    pub async fn complete_sign_in(
        &self,
        #[wasm_bindgen(js_name = callbackUrl)] callback_url: String,
    ) -> Result<Ts<Status>, JsValue> {
        self.session
            .complete_sign_in(&callback_url)
            .await
            .map_err(to_js)
            .and_then(|s| to_ts(&Status::from(s)))
    }

    /// Extension only (run it in the service worker): the whole sign-in through
    /// `chrome.identity.launchWebAuthFlow`, redirecting to `chrome.identity.getRedirectURL()`.
    /// `interactive` defaults to true (show the Atlassian window).
    #[wasm_bindgen(js_name = signInWithExtension)]
    pub async fn sign_in_with_extension(
        &self,
        interactive: Option<bool>,
    ) -> Result<Ts<Status>, JsValue> {
        let run = async {
            let redirect_uri = identity::redirect_url()?;
            let authorize_url = self.session.begin_sign_in(&redirect_uri).await?;
            let callback_url =
                identity::launch_web_auth_flow(&authorize_url, interactive.unwrap_or(true)).await?;
            self.session.complete_sign_in(&callback_url).await
        };
        run.await
            .map_err(to_js)
            .and_then(|s| to_ts(&Status::from(s)))
    }

    /// The Jira sites of this sign-in (cached; discovered once if unknown).
    pub async fn sites(&self) -> Result<Vec<Ts<Site>>, JsValue> {
        let sites = self.session.sites().await.map_err(to_js)?;
        sites
            .into_iter()
            .map(|site| to_ts(&Site::from(site)))
            .collect()
    }

    /// Chooses the site Jira calls go to (one of `sites()`); remembered in storage.
    #[wasm_bindgen(js_name = chooseSite)]
    pub async fn choose_site(
        &self,
        #[wasm_bindgen(js_name = siteId)] site_id: String,
    ) -> Result<Ts<Status>, JsValue> {
        self.session
            .choose_site(&site_id)
            .await
            .map_err(to_js)
            .and_then(|s| to_ts(&Status::from(s)))
    }

    /// Forgets this client's tokens and site in every context sharing the storage.
    #[wasm_bindgen(js_name = signOut)]
    pub async fn sign_out(&self) -> Result<(), JsValue> {
        self.session.sign_out().await.map_err(to_js)
    }

    /// Calls `callback(status)` whenever this client's sign-in records change: a sign-in,
    /// sign-out, refresh or site choice in another context (popup, service worker, tab) or in
    /// this one. Writes arriving together are reported once. Listeners live as long as the
    /// client (`free()` removes them).
    #[wasm_bindgen(js_name = onStatusChange)]
    pub fn on_status_change(
        &self,
        #[wasm_bindgen(unchecked_param_type = "StatusChangeCallback")] callback: js_sys::Function,
    ) {
        let session = self.session.clone();
        let prefix = format!("jira3lo:{}:", self.namespace);
        let scheduled = Rc::new(Cell::new(false));
        let subscription = self.store.subscribe(move |key| {
            let ours = key.is_none_or(|key| {
                key.strip_prefix(&prefix)
                    .is_some_and(|record| matches!(record, "access" | "refresh" | "site"))
            });
            if !ours || scheduled.replace(true) {
                return;
            }
            let (session, callback, scheduled) =
                (session.clone(), callback.clone(), scheduled.clone());
            wasm_bindgen_futures::spawn_local(async move {
                // One macrotask: the other writes of the same sign-in/refresh land first.
                crate::platform::sleep(0).await;
                scheduled.set(false);
                if let Ok(status) = session
                    .status()
                    .await
                    .map_err(to_js)
                    .and_then(|s| to_ts(&Status::from(s)))
                {
                    // A throwing listener must not break the others.
                    let _ = callback.call1(&JsValue::NULL, &status.into());
                }
            });
        });
        self.subscriptions.borrow_mut().push(subscription);
    }
}
