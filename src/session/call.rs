//! Executing Jira requests: `{api_base}/ex/jira/{cloudId}{path}?{query}` with the bearer token;
//! 401 → refresh once and retry once; scope mismatch → `MissingScope`; 429/503 `Retry-After` →
//! wait (at least 1 s) and retry idempotent requests within `max_retry_wait_ms`; site gone →
//! rediscover once.

use serde::de::DeserializeOwned;

use super::ports::{HttpRequest, HttpResponse};
use super::{Platform, Session, SiteChoice};
use crate::core::api_request::{encode_segment, JiraRequest};
use crate::core::gateway::{classify_api_response, ApiOutcome};
use crate::core::json::to_text;
use crate::core::records::{AccessRecord, SiteRecord};
use crate::core::sites::{select, Selection};
use crate::core::urls::push_query_pair;
use crate::Error;

/// Upper bound on round trips of one call (retries are also bounded by time and by "once").
const MAX_ATTEMPTS: u32 = 16;

impl<P: Platform> Session<P> {
    /// Sends a Jira request and returns the 2xx response; anything else is a typed error
    /// (a Jira `ErrorCollection` becomes [`Error::Jira`]).
    pub async fn send(&self, request: JiraRequest) -> Result<HttpResponse, Error> {
        let mut site = self.current_site().await?;
        let mut access = self.access().await?;
        let mut refreshed = false;
        let mut rediscovered = false;
        let mut waited_ms: u64 = 0;
        for _ in 0..MAX_ATTEMPTS {
            let http = self.build(&request, &site, &access);
            let resp = self.inner.http(http).await?;
            self.inner.observe_quota(&site.id, &resp).await;
            match classify_api_response(&resp, self.inner.platform.now_ms()) {
                ApiOutcome::Success => return Ok(resp),
                ApiOutcome::MissingScope { message } => {
                    return Err(Error::MissingScope { message })
                }
                // A 401 proves the request did nothing, so even a POST may be retried.
                ApiOutcome::TokenRejected if !refreshed => {
                    refreshed = true;
                    access = self.refresh(Some(access.access_token.clone())).await?;
                }
                // Refused again with a token fresh from the token endpoint: an error that ends
                // nothing (another context may hold a newer grant; only the token endpoint
                // ends one).
                ApiOutcome::TokenRejected => return Err(Error::gateway_refused_fresh_token()),
                ApiOutcome::SiteUnreachable if !rediscovered => {
                    rediscovered = true;
                    site = self.rediscover_after_site_gone(&site).await?;
                    // The rediscovery may have refreshed: never retry with the old token.
                    access = self.access().await?;
                }
                ApiOutcome::SiteUnreachable => return Err(Error::UnknownSite { site_id: site.id }),
                ApiOutcome::RetryAfter {
                    status,
                    retry_after_ms,
                } => {
                    // `retry_after_ms` is at least 1 s (see `gateway::MIN_RETRY_WAIT_MS`).
                    let within_budget = waited_ms.saturating_add(retry_after_ms)
                        <= self.inner.config.max_retry_wait_ms;
                    if !request.method.is_idempotent() || !within_budget {
                        return Err(Error::RateLimited {
                            status,
                            retry_after_ms,
                        });
                    }
                    self.inner.platform.sleep_ms(retry_after_ms).await;
                    waited_ms += retry_after_ms;
                    // Anything may have happened meanwhile (a sign-out, a refresh, a new
                    // site elsewhere): the retry goes out with what holds now.
                    site = self.current_site().await?;
                    access = self.access().await?;
                }
                ApiOutcome::Failed(e) => return Err(e),
            }
        }
        Err(Error::invalid_response(0, "too many retries for one call"))
    }

    /// [`Session::send`] and parse the JSON body (an empty body parses as `null`, so `()` and
    /// `Option<T>` work for 204). A body that does not match `T` is [`Error::InvalidResponse`].
    pub async fn send_json<T: DeserializeOwned>(&self, request: JiraRequest) -> Result<T, Error> {
        let resp = self.send(request).await?;
        let body = if resp.body.trim().is_empty() {
            "null"
        } else {
            resp.body.as_str()
        };
        serde_json::from_str(body).map_err(|e| Error::InvalidResponse {
            status: resp.status,
            detail: format!("the response does not match the expected shape: {e}"),
        })
    }

    fn build(
        &self,
        request: &JiraRequest,
        site: &SiteChoice,
        access: &AccessRecord,
    ) -> HttpRequest {
        let mut url = format!(
            "{}/ex/jira/{}{}",
            self.inner.config.api(),
            encode_segment(&site.id),
            request.path
        );
        if !request.query.is_empty() {
            let mut query = String::new();
            for (k, v) in &request.query {
                push_query_pair(&mut query, k, v);
            }
            url.push('?');
            url.push_str(&query);
        }
        let mut headers = super::gateway_headers(access);
        if request.body.is_some() {
            headers.push(("content-type".into(), "application/json".into()));
        }
        HttpRequest {
            method: request.method,
            url,
            headers,
            body: request.body.as_ref().map(to_text),
        }
    }

    /// The gateway says the chosen site is not reachable with this grant: rediscover once.
    /// Still listed → retry there. Gone → the choice is cleared (or the only remaining site is
    /// chosen) and the caller gets a typed error rather than a silent switch of site.
    async fn rediscover_after_site_gone(&self, site: &SiteChoice) -> Result<SiteChoice, Error> {
        let rec = self.discover().await?;
        if let Some(same) = rec.sites.iter().find(|s| s.id == site.id) {
            return Ok(same.clone());
        }
        match select(&rec.sites) {
            Selection::None => Err(Error::NoJiraSite),
            Selection::One(only) => {
                self.inner
                    .save_site_while_signed_in(&SiteRecord::new(rec.sites.clone(), Some(only.id)))
                    .await?;
                Err(Error::UnknownSite {
                    site_id: site.id.clone(),
                })
            }
            Selection::Several(sites) => {
                self.inner
                    .save_site_while_signed_in(&SiteRecord::new(sites.clone(), None))
                    .await?;
                Err(Error::SiteSelectionRequired { sites })
            }
        }
    }
}
