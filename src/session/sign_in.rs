//! Sign-in: the authorize URL (with a stored pending attempt) and the callback → tokens → sites.

use super::ports::{HttpRequest, Method};
use super::sites::Fetched;
use super::{Platform, Session, SiteChoice, Status};
use crate::core::authorize::{authorize_url, check_redirect_uri, AuthorizeParams, PendingSignIn};
use crate::core::callback::{consumes_pending, validate_callback};
use crate::core::gateway::retry_after_ms;
use crate::core::json;
use crate::core::records::{PendingRecord, SiteRecord};
use crate::core::secrets::State;
use crate::core::sites::{select, Selection};
use crate::core::token_response::{
    broker_client_id, classify_token_response, oauth_error, TokenOutcome,
};
use crate::core::tokens::TokenSet;
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
            state,
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
    pub async fn complete_sign_in(&self, callback_url: &str) -> Result<Status, Error> {
        let now = self.inner.platform.now_ms();
        let pending: Option<PendingSignIn> = self.inner.load_pending().await?.map(Into::into);
        let outcome = validate_callback(callback_url, pending.as_ref(), now);
        if consumes_pending(&outcome) {
            self.inner.remove_pending().await?;
        }
        let code = outcome?;
        let Some(pending) = pending else {
            return Err(Error::UnknownState);
        };

        let sent_at = self.inner.platform.now_ms();
        let resp = self
            .inner
            .post_token(json::string_object(&[
                ("grant_type", "authorization_code"),
                ("code", code.secret()),
                ("redirect_uri", &pending.redirect_uri),
            ]))
            .await?;
        let tokens = match classify_token_response(&resp, self.inner.platform.now_ms()) {
            TokenOutcome::Issued(t) => TokenSet::from_response(t, sent_at, None, &[]),
            TokenOutcome::Refused {
                status,
                error,
                description,
            } => {
                return Err(Error::Oauth {
                    status,
                    error,
                    description,
                })
            }
            TokenOutcome::Failed(e) => return Err(e),
        };
        // Sites lock first (a context asking for the sites meanwhile waits for this discovery
        // instead of repeating it), then the tokens are written under the refresh lock.
        let inner = &self.inner;
        inner
            .platform
            .run_exclusive(&inner.sites_lock(), async {
                let access = self.store_grant(tokens).await?;
                let previous_choice = inner.load_site().await?.and_then(|r| r.chosen);
                let sites = match self.fetch_jira_sites(&access).await? {
                    Fetched::Sites(sites) => sites,
                    Fetched::TokenRejected => {
                        return Err(self.reject_grant(&access.access_token).await)
                    }
                };
                self.settle_sign_in(sites, previous_choice).await
            })
            .await
    }

    /// The end of a sign-in, once its sites are known: none → everything is cleared and
    /// [`Error::NoJiraSite`]; one → chosen; several → the previous choice if still listed,
    /// else the list to choose from.
    async fn settle_sign_in(
        &self,
        sites: Vec<SiteChoice>,
        previous_choice: Option<String>,
    ) -> Result<Status, Error> {
        let inner = &self.inner;
        match select(&sites) {
            Selection::None => {
                inner
                    .platform
                    .run_exclusive(&inner.refresh_lock(), inner.clear_all())
                    .await?;
                Err(Error::NoJiraSite)
            }
            Selection::One(site) => {
                inner
                    .save_site(&SiteRecord::new(sites, Some(site.id.clone())))
                    .await?;
                Ok(Status::SignedIn { site })
            }
            Selection::Several(list) => {
                let chosen = previous_choice.filter(|id| list.iter().any(|s| &s.id == id));
                let record = SiteRecord::new(list.clone(), chosen);
                inner.save_site(&record).await?;
                Ok(match record.chosen_site() {
                    Some(site) => Status::SignedIn { site: site.clone() },
                    None => Status::SiteSelectionRequired { sites: list },
                })
            }
        }
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
