//! `JiraClient`: sign-in, status, sites and sign-out for JavaScript. The Jira calls live in a
//! second `#[wasm_bindgen] impl JiraClient` block in `jira.rs`.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use tsify::Ts;
use wasm_bindgen::prelude::*;

use super::config::ClientConfig;
use super::error::to_js;
use super::jira::promise;
use super::js::to_js as model_js;
use super::types::{site_js, sites_js, status_js, Site, Status};
use crate::core::rate_limit::Quota;
use crate::platform::{
    identity, BrowserPlatform, BrowserStore, FetchClient, Subscription, WebLock,
};
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

/// The Rust side of the operations the `wasm-bindgen` tests call directly (the JavaScript
/// methods below are the API; these exist only where a test needs typed results).
impl JiraClient {
    /// The current sign-in state, from storage only (no network request).
    pub async fn status(&self) -> Result<Ts<Status>, JsValue> {
        let status = self.session.status().await.map_err(to_js)?;
        Ok(Ts::new_unchecked(status_js(&status)))
    }

    /// Starts a sign-in and resolves with the authorize URL to open.
    pub async fn begin_sign_in(&self, redirect_uri: String) -> Result<String, JsValue> {
        self.session
            .begin_sign_in(&redirect_uri)
            .await
            .map_err(to_js)
    }

    /// Finishes a sign-in from the URL the provider redirected to.
    pub async fn complete_sign_in(&self, callback_url: String) -> Result<Ts<Status>, JsValue> {
        let status = self
            .session
            .complete_sign_in(&callback_url)
            .await
            .map_err(to_js)?;
        Ok(Ts::new_unchecked(status_js(&status)))
    }

    /// The Jira sites of this sign-in (cached; discovered once if unknown).
    pub async fn sites(&self) -> Result<Vec<Ts<Site>>, JsValue> {
        let sites = self.session.sites().await.map_err(to_js)?;
        Ok(sites
            .iter()
            .map(|site| Ts::new_unchecked(site_js(site)))
            .collect())
    }

    /// Chooses the site Jira calls go to (one of `sites()`); remembered in storage.
    pub async fn choose_site(&self, site_id: String) -> Result<Ts<Status>, JsValue> {
        let status = self.session.choose_site(&site_id).await.map_err(to_js)?;
        Ok(Ts::new_unchecked(status_js(&status)))
    }

    /// Forgets this client's tokens and site in every context sharing the storage.
    pub async fn sign_out(&self) -> Result<(), JsValue> {
        self.session.sign_out().await.map_err(to_js)
    }

    /// The latest rate-limit quota of the chosen site (see `quota()` below).
    pub async fn quota(&self) -> Result<Option<Ts<Quota>>, JsValue> {
        let quota = self.session.quota().await.map_err(to_js)?;
        Ok(quota.map(|q| Ts::new_unchecked(model_js(&q))))
    }
}

#[wasm_bindgen]
impl JiraClient {
    /// Creates a client; throws a `JiraError` with code `config` or `storage` when the
    /// configuration is unusable here. No network request is made.
    #[wasm_bindgen(constructor)]
    pub fn new(config: Ts<ClientConfig>) -> Result<JiraClient, JsValue> {
        let config = ClientConfig::read(&config.js_value()).map_err(|e| {
            to_js(Error::Config {
                message: format!("invalid JiraClient config: {e}"),
            })
        })?;
        let resolved = config.resolve().map_err(to_js)?;
        let store = BrowserStore::open(resolved.storage).map_err(|e| to_js(e.into()))?;
        let mut platform = BrowserPlatform::new(store.clone());
        if !resolved.web_locks {
            platform = platform.with_lock(WebLock::in_context());
        }
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
    #[wasm_bindgen(js_name = status, unchecked_return_type = "Promise<Status>")]
    pub fn status_js(&self) -> js_sys::Promise {
        let session = self.session.clone();
        promise(Box::pin(
            async move { Ok(status_js(&session.status().await?)) },
        ))
    }

    /// Starts a sign-in and resolves with the authorize URL to open (a web page does
    /// `location.assign(url)`). `redirectUri` must be registered for the app.
    #[wasm_bindgen(js_name = beginSignIn, unchecked_return_type = "Promise<string>")]
    pub fn begin_sign_in_js(
        &self,
        #[wasm_bindgen(js_name = redirectUri)] redirect_uri: String,
    ) -> js_sys::Promise {
        let session = self.session.clone();
        promise(Box::pin(async move {
            let url = session.begin_sign_in(&redirect_uri).await?;
            Ok(JsValue::from_str(&url))
        }))
    }

    /// Finishes a sign-in from the URL the provider redirected to (a web page passes
    /// `location.href` on its callback page): validates it, exchanges the code through the
    /// broker and discovers the Jira sites.
    #[wasm_bindgen(js_name = completeSignIn, unchecked_return_type = "Promise<Status>")]
    pub fn complete_sign_in_js(
        &self,
        #[wasm_bindgen(js_name = callbackUrl)] callback_url: String,
    ) -> js_sys::Promise {
        let session = self.session.clone();
        promise(Box::pin(async move {
            Ok(status_js(&session.complete_sign_in(&callback_url).await?))
        }))
    }

    /// Extension only (run it in the service worker): the whole sign-in through
    /// `chrome.identity.launchWebAuthFlow`, redirecting to `chrome.identity.getRedirectURL()`.
    /// `interactive` defaults to true (show the Atlassian window).
    #[wasm_bindgen(js_name = signInWithExtension, unchecked_return_type = "Promise<Status>")]
    pub fn sign_in_with_extension_js(&self, interactive: Option<bool>) -> js_sys::Promise {
        let session = self.session.clone();
        promise(Box::pin(async move {
            let redirect_uri = identity::redirect_url()?;
            let urls = session.begin_sign_in_urls(&redirect_uri).await?;
            let launch = identity::launch_url(&redirect_uri, &urls);
            let callback_url =
                identity::launch_web_auth_flow(launch, interactive.unwrap_or(true)).await?;
            Ok(status_js(&session.complete_sign_in(&callback_url).await?))
        }))
    }

    /// The Jira sites of this sign-in (cached; discovered once if unknown).
    #[wasm_bindgen(js_name = sites, unchecked_return_type = "Promise<Site[]>")]
    pub fn sites_js(&self) -> js_sys::Promise {
        let session = self.session.clone();
        promise(Box::pin(
            async move { Ok(sites_js(&session.sites().await?)) },
        ))
    }

    /// Chooses the site Jira calls go to (one of `sites()`); remembered in storage.
    #[wasm_bindgen(js_name = chooseSite, unchecked_return_type = "Promise<Status>")]
    pub fn choose_site_js(
        &self,
        #[wasm_bindgen(js_name = siteId)] site_id: String,
    ) -> js_sys::Promise {
        let session = self.session.clone();
        promise(Box::pin(async move {
            Ok(status_js(&session.choose_site(&site_id).await?))
        }))
    }

    /// Forgets this client's tokens and site in every context sharing the storage.
    #[wasm_bindgen(js_name = signOut, unchecked_return_type = "Promise<void>")]
    pub fn sign_out_js(&self) -> js_sys::Promise {
        let session = self.session.clone();
        promise(Box::pin(async move {
            session.sign_out().await?;
            Ok(JsValue::UNDEFINED)
        }))
    }

    /// The latest rate-limit quota of the chosen site that any context sharing this storage
    /// saw on a Jira response (`remaining`, `limit`, `resetsAt`, `nearLimit`, `reason`, each
    /// `null` when no header said it), or `null` before any. No request: one storage read.
    /// Another context's quota is up to 30 s old unless something that matters changed
    /// (near the limit, exhausted, the reason, a new window).
    #[wasm_bindgen(js_name = quota, unchecked_return_type = "Promise<Quota | null>")]
    pub fn quota_js(&self) -> js_sys::Promise {
        let session = self.session.clone();
        promise(Box::pin(async move {
            Ok(match session.quota().await? {
                Some(quota) => model_js(&quota),
                None => JsValue::NULL,
            })
        }))
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
                if let Ok(status) = session.status().await {
                    // A throwing listener must not break the others.
                    let _ = callback.call1(&JsValue::NULL, &status_js(&status));
                }
            });
        });
        self.subscriptions.borrow_mut().push(subscription);
    }
}
