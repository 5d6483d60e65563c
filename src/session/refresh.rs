//! Single-flight refresh: one shared future per context, and the cross-context lock
//! `jira-3lo:refresh:{namespace}` held for the whole round trip. Inside the lock storage is
//! re-read first, so a context never presents a refresh token another context already rotated.

use std::rc::Rc;

use futures_util::FutureExt;

use super::{Inner, Platform, Session};
use crate::core::json;
use crate::core::records::{AccessRecord, RefreshRecord, SCHEMA_VERSION};
use crate::core::refresh::{decide, Cooldown, RefreshDecision};
use crate::core::secrets::AccessToken;
use crate::core::token_response::{classify_token_response, TokenOutcome};
use crate::core::tokens::{is_fresh, TokenSet};
use crate::Error;

impl<P: Platform> Session<P> {
    /// A usable access token: the stored one while fresh, otherwise the result of a refresh.
    pub(crate) async fn access(&self) -> Result<AccessRecord, Error> {
        let now = self.inner.platform.now_ms();
        if let Some(a) = self.inner.cached_access().await? {
            if is_fresh(a.expires_at_ms, now, self.inner.config.refresh_skew_ms) {
                return Ok(a);
            }
        }
        self.refresh(None).await
    }

    /// Refreshes (or joins the refresh in flight). `rejected` is the access token the gateway
    /// refused, so that a token refreshed meanwhile by someone else is used instead.
    pub(crate) async fn refresh(
        &self,
        rejected: Option<AccessToken>,
    ) -> Result<AccessRecord, Error> {
        let in_flight = self.inner.refresh_flight.borrow().clone();
        if let Some(flight) = in_flight {
            return flight.await;
        }
        let inner = Rc::clone(&self.inner);
        let flight = async move {
            let result = inner
                .exclusive(&inner.refresh_lock(), inner.refresh_locked(rejected))
                .await;
            // Later callers start a new flight (which re-reads storage first).
            inner.refresh_flight.borrow_mut().take();
            result
        }
        .boxed_local()
        .shared();
        *self.inner.refresh_flight.borrow_mut() = Some(flight.clone());
        flight.await
    }
}

impl<P: Platform> Inner<P> {
    /// Waits for this context's refresh in flight, if any, whatever its outcome. Called before
    /// taking the refresh lock elsewhere: the flight holds that lock, and a flight whose
    /// callers were all dropped is only driven by whoever awaits it.
    async fn settle_refresh(&self) {
        let in_flight = self.refresh_flight.borrow().clone();
        if let Some(flight) = in_flight {
            let _ = flight.await;
        }
    }

    /// Runs `critical` holding the refresh lock, after this context's refresh in flight has
    /// settled: every write of the tokens outside a refresh goes through here.
    pub(super) async fn with_tokens_locked<T>(
        &self,
        critical: impl std::future::Future<Output = Result<T, Error>>,
    ) -> Result<T, Error> {
        self.settle_refresh().await;
        self.exclusive(&self.refresh_lock(), critical).await
    }

    /// Stores the tokens of a new grant, replacing the old grant entirely (never mix two
    /// refresh-token families), inside the refresh lock.
    pub(super) async fn store_grant(&self, tokens: TokenSet) -> Result<AccessRecord, Error> {
        self.with_tokens_locked(async {
            self.clear_tokens().await?;
            self.cooldown.borrow_mut().take();
            self.store_tokens(tokens).await
        })
        .await
    }

    /// The refresh round trip; runs while holding the cross-context lock.
    async fn refresh_locked(&self, rejected: Option<AccessToken>) -> Result<AccessRecord, Error> {
        let mut reread_after_refusal = false;
        loop {
            let now = self.platform.now_ms();
            let access = self.load_access().await?;
            let refresh = self.load_refresh().await?;
            if refresh.as_ref().is_some_and(|r| !r.sealed) {
                return Err(self.drop_unsealed_locked().await);
            }
            let decision = decide(
                rejected.as_ref(),
                access.as_ref(),
                refresh.as_ref().map(|r| &r.refresh_token),
                now,
                self.config.refresh_skew_ms,
            );
            let refresh_token = match decision {
                RefreshDecision::UseStored(a) => return Ok(a),
                RefreshDecision::NotSignedIn => return Err(Error::NotSignedIn),
                RefreshDecision::Refresh(rt) => rt,
            };
            if let Some(paused) = self.cooldown.borrow().as_ref().and_then(|c| c.active(now)) {
                return Err(paused);
            }
            let body = json::string_object(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh_token.secret()),
            ]);
            let resp = match self.post_token(body).await {
                Ok(resp) => resp,
                Err(e) => return Err(self.pause_refreshing(e)),
            };
            match classify_token_response(&resp, self.platform.now_ms()) {
                TokenOutcome::Issued(t) => {
                    self.cooldown.borrow_mut().take();
                    let previous_scopes = access.map(|a| a.scopes).unwrap_or_default();
                    let set =
                        TokenSet::from_response(t, now, Some(refresh_token), &previous_scopes);
                    return self.store_tokens(set).await;
                }
                TokenOutcome::Refused {
                    error, description, ..
                } => {
                    // A sibling may have rotated the token while we were refused: re-read once.
                    let stored = self.load_refresh().await?;
                    let rotated = stored.is_some_and(|r| r.refresh_token != refresh_token);
                    if rotated && !reread_after_refusal {
                        reread_after_refusal = true;
                        continue;
                    }
                    self.clear_tokens().await?;
                    return Err(Error::ReauthRequired { error, description });
                }
                TokenOutcome::Failed(e) => return Err(self.pause_refreshing(e)),
            }
        }
    }

    /// Removes the raw refresh token an older version stored (the broker redeems only sealed
    /// ones now) with its access token, inside the refresh lock, and returns the error that
    /// sends the user back to consent once.
    pub(super) async fn drop_unsealed_locked(&self) -> Error {
        if let Err(e) = self.clear_tokens().await {
            return e;
        }
        Error::ReauthRequired {
            error: crate::error::UNSEALED_REFRESH_TOKEN.into(),
            description: None,
        }
    }

    /// A token request was sent and failed without ending the grant: the token endpoint is
    /// left alone for a while (see [`Cooldown`]). Returns the failure for the caller.
    fn pause_refreshing(&self, error: Error) -> Error {
        let now = self.platform.now_ms();
        let cooldown = Cooldown::after_failure(error.clone(), now, self.config.refresh_cooldown_ms);
        *self.cooldown.borrow_mut() = Some(cooldown);
        error
    }

    /// Persists a token set: the refresh token first (it is the one that must never be lost).
    pub(super) async fn store_tokens(&self, set: TokenSet) -> Result<AccessRecord, Error> {
        if let Some(rt) = set.refresh_token {
            self.save_refresh(&RefreshRecord {
                v: SCHEMA_VERSION,
                refresh_token: rt,
                sealed: true,
            })
            .await?;
        }
        let access = AccessRecord {
            v: SCHEMA_VERSION,
            access_token: set.access_token,
            expires_at_ms: set.expires_at_ms,
            scopes: set.scopes,
        };
        self.save_access(&access).await?;
        Ok(access)
    }
}
