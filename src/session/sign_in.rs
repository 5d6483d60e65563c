//! Sign-in: the authorize URL from the broker (with a stored pending attempt), then the
//! callback → ticket → tokens → sites.

use super::{Inner, Platform, Session, Status};
use crate::core::authorize::{
    authorize_answer, check_redirect_uri, normalize_scopes, AuthorizeUrls, PendingSignIn,
};
use crate::core::callback::validate_callback;
use crate::core::json;
use crate::core::records::PendingRecord;
use crate::core::secrets::{State, Ticket};
use crate::Error;

impl<P: Platform> Session<P> {
    /// Asks the broker for the authorize URL to open (e.g. with
    /// `chrome.identity.launchWebAuthFlow`) and stores the pending attempt (`state`, redirect
    /// URI, time) in the persistent area. Starting again replaces an earlier attempt.
    ///
    /// The broker's `POST /v1/authorize` checks `redirect_uri` against its allow-list and seals
    /// Atlassian's `state` around this installation's key, the redirect and our `state`: the
    /// sign-in comes back through the broker's own callback, the one URL registered at
    /// Atlassian, which then redirects here with a ticket only this key can redeem.
    pub async fn begin_sign_in(&self, redirect_uri: &str) -> Result<String, Error> {
        Ok(self.begin_sign_in_urls(redirect_uri).await?.authorize)
    }

    /// [`Session::begin_sign_in`], with the broker's `start_url` too (what an extension opens
    /// in Firefox, whose `launchWebAuthFlow` refuses Atlassian's URL as the first one).
    pub async fn begin_sign_in_urls(&self, redirect_uri: &str) -> Result<AuthorizeUrls, Error> {
        check_redirect_uri(redirect_uri)?;
        let state = State::random()?;
        let scope = normalize_scopes(&self.inner.config.scopes).join(" ");
        let resp = self
            .inner
            .broker_post(
                "/v1/authorize",
                json::string_object(&[
                    ("redirect_uri", redirect_uri),
                    ("state", state.secret()),
                    ("scope", &scope),
                ]),
            )
            .await?;
        let urls = authorize_answer(&resp, self.inner.platform.now_ms())?;
        let pending = PendingSignIn {
            state: Some(state),
            redirect_uri: redirect_uri.to_string(),
            created_at_ms: self.inner.platform.now_ms(),
        };
        self.inner
            .save_pending(&PendingRecord::from(&pending))
            .await?;
        Ok(urls)
    }

    /// Validates the callback URL, redeems its ticket at the broker, stores the tokens and
    /// discovers the Jira sites (one accessible-resources call).
    ///
    /// The whole completion holds the sites lock: one context at a time reads and ends the
    /// pending attempt, so a callback completed twice (two tabs, or twice in one) sends its
    /// ticket to the token endpoint once and the other completion is [`Error::UnknownState`];
    /// and a context asking for the sites meanwhile waits for this discovery.
    pub async fn complete_sign_in(&self, callback_url: &str) -> Result<Status, Error> {
        let inner = &self.inner;
        inner
            .exclusive(&inner.sites_lock(), async {
                let ticket = inner.take_callback(callback_url).await?;
                let tokens = inner.redeem_ticket(&ticket).await?;
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
}

impl<P: Platform> Inner<P> {
    /// Checks a callback against the stored attempt and, when it carries the attempt's own
    /// state, ends the attempt (its redirect URI is kept, see [`PendingSignIn::state`]).
    /// Returns the ticket. Called inside the sites lock, so reading and ending the attempt is
    /// one step for every context.
    async fn take_callback(&self, callback_url: &str) -> Result<Ticket, Error> {
        let attempt: Option<PendingSignIn> = self.load_pending().await?.map(Into::into);
        let check = validate_callback(callback_url, attempt.as_ref(), self.platform.now_ms());
        if let (true, Some(attempt)) = (check.ends_attempt, &attempt) {
            self.save_pending(&PendingRecord::from(&attempt.clone().ended()))
                .await?;
        }
        check.outcome
    }
}
