//! Sign-in: the authorize URL (with a stored pending attempt) and the callback → tokens → sites.

use super::ports::{HttpRequest, Method};
use super::{Inner, Platform, Session, Status};
use crate::core::authorize::{authorize_url, check_redirect_uri, AuthorizeParams, PendingSignIn};
use crate::core::callback::validate_callback;
use crate::core::gateway::retry_after_ms;
use crate::core::records::PendingRecord;
use crate::core::secrets::{AuthorizationCode, State};
use crate::core::token_response::{broker_client_id, oauth_error};
use crate::Error;

impl<P: Platform> Session<P> {
    /// Returns the authorize URL to open (e.g. with `chrome.identity.launchWebAuthFlow`) and
    /// stores the pending attempt (`state`, redirect URI, time) in the persistent area.
    /// Starting again replaces an earlier attempt.
    pub async fn begin_sign_in(&self, redirect_uri: &str) -> Result<String, Error> {
        check_redirect_uri(redirect_uri)?;
        let client_id = self.client_id().await?;
        let state = State::random()?;
        let url = authorize_url(&AuthorizeParams {
            auth_base_url: &self.inner.config.auth_base_url,
            client_id: &client_id,
            scopes: &self.inner.config.scopes,
            redirect_uri,
            state: &state,
        })?;
        let pending = PendingSignIn {
            state: Some(state),
            redirect_uri: redirect_uri.to_string(),
            created_at_ms: self.inner.platform.now_ms(),
        };
        self.inner
            .save_pending(&PendingRecord::from(&pending))
            .await?;
        Ok(url)
    }

    /// Validates the callback URL, exchanges the code through the broker, stores the tokens
    /// and discovers the Jira sites (one accessible-resources call).
    ///
    /// The whole completion holds the sites lock: one context at a time reads and ends the
    /// pending attempt, so a callback completed twice (two tabs, or twice in one) sends its
    /// code to the token endpoint once and the other completion is [`Error::UnknownState`];
    /// and a context asking for the sites meanwhile waits for this discovery.
    pub async fn complete_sign_in(&self, callback_url: &str) -> Result<Status, Error> {
        let inner = &self.inner;
        inner
            .exclusive(&inner.sites_lock(), async {
                let (code, redirect_uri) = inner.take_callback(callback_url).await?;
                let tokens = inner.exchange_code(&code, &redirect_uri).await?;
                inner.store_grant(tokens).await?;
                match self.discover_locked().await {
                    Ok(record) => Ok(Status::of_sites(record)),
                    // A grant that reaches no Jira site is of no use: leave nothing stored.
                    Err(Error::NoJiraSite) => {
                        inner.with_tokens_locked(inner.clear_all()).await?;
                        Err(Error::NoJiraSite)
                    }
                    Err(e) => Err(e),
                }
            })
            .await
    }

    /// The OAuth client id: configured, or fetched once from the broker's `GET /v1/client`.
    async fn client_id(&self) -> Result<String, Error> {
        if let Some(id) = self.inner.client_id.borrow().clone() {
            return Ok(id);
        }
        let resp = self
            .inner
            .http(HttpRequest {
                method: Method::Get,
                url: format!("{}/v1/client", self.inner.config.broker()),
                headers: vec![("accept".into(), "application/json".into())],
                body: None,
            })
            .await?;
        if !(200..300).contains(&resp.status) {
            return Err(match oauth_error(&resp.body) {
                Some((error, description)) => Error::Broker {
                    status: resp.status,
                    error,
                    description,
                    retry_after_ms: retry_after_ms(&resp, self.inner.platform.now_ms()),
                },
                None => Error::invalid_response(
                    resp.status,
                    "the broker's /v1/client answered without a JSON error",
                ),
            });
        }
        // `GET {broker}/v1/client` answers `{"client_id": "..."}`.
        let client_id = broker_client_id(&resp.body).ok_or_else(|| {
            Error::invalid_response(resp.status, "the broker's /v1/client has no client_id")
        })?;
        *self.inner.client_id.borrow_mut() = Some(client_id.clone());
        Ok(client_id)
    }
}

impl<P: Platform> Inner<P> {
    /// Checks a callback against the stored attempt and, when it carries the attempt's own
    /// state, ends the attempt (its redirect URI is kept, see [`PendingSignIn::state`]).
    /// Returns the code and the redirect URI it must be exchanged with. Called inside the
    /// sites lock, so reading and ending the attempt is one step for every context.
    async fn take_callback(
        &self,
        callback_url: &str,
    ) -> Result<(AuthorizationCode, String), Error> {
        let attempt: Option<PendingSignIn> = self.load_pending().await?.map(Into::into);
        let check = validate_callback(callback_url, attempt.as_ref(), self.platform.now_ms());
        if let (true, Some(attempt)) = (check.ends_attempt, &attempt) {
            self.save_pending(&PendingRecord::from(&attempt.clone().ended()))
                .await?;
        }
        let code = check.outcome?;
        // A code only ever comes with the attempt it belongs to.
        let redirect_uri = attempt.map(|a| a.redirect_uri).ok_or(Error::NotACallback)?;
        Ok((code, redirect_uri))
    }
}
