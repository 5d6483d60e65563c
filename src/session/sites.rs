//! Site discovery (accessible-resources), the cached list and the user's choice.

use super::ports::{HttpRequest, Method};
use super::{Inner, Platform, Session, SiteChoice, Status};
use crate::core::gateway::{classify_api_response, ApiOutcome};
use crate::core::records::{AccessRecord, SiteRecord};
use crate::core::sites::{jira_sites, merge, parse_accessible_resources, select, Selection};
use crate::Error;

impl<P: Platform> Session<P> {
    /// The Jira sites of this grant: the stored list, or one discovery when none is stored
    /// (status `SiteSelectionRequired` with an empty list: discovery pending). If another
    /// context is discovering right now (a sign-in), its result is awaited, not repeated.
    /// A grant that reaches no Jira site is [`Error::NoJiraSite`].
    pub async fn sites(&self) -> Result<Vec<SiteChoice>, Error> {
        Ok(self.site_record().await?.sites)
    }

    /// Persists the user's choice among [`Session::sites`].
    pub async fn choose_site(&self, site_id: &str) -> Result<Status, Error> {
        let rec = self.site_record().await?;
        let Some(site) = rec.sites.iter().find(|s| s.id == site_id).cloned() else {
            return Err(Error::UnknownSite {
                site_id: site_id.to_string(),
            });
        };
        self.inner
            .save_site_while_signed_in(&SiteRecord::new(rec.sites, Some(site.id.clone())))
            .await?;
        Ok(Status::SignedIn { site })
    }

    /// The site a Jira call goes to.
    pub(super) async fn current_site(&self) -> Result<SiteChoice, Error> {
        let rec = self.site_record().await?;
        if let Some(site) = rec.chosen_site() {
            return Ok(site.clone());
        }
        match select(&rec.sites) {
            Selection::One(site) => {
                self.inner
                    .save_site_while_signed_in(&SiteRecord::new(rec.sites, Some(site.id.clone())))
                    .await?;
                Ok(site)
            }
            Selection::Several(sites) => Err(Error::SiteSelectionRequired { sites }),
            Selection::None => Err(Error::NoJiraSite),
        }
    }

    /// The stored site record (with at least one site), or one discovery. The discovery runs
    /// inside the sites lock after re-reading storage, so it is skipped when another context
    /// (a sign-in) stored the sites while we waited.
    async fn site_record(&self) -> Result<SiteRecord, Error> {
        let known = |rec: Option<SiteRecord>| rec.filter(|r| !r.sites.is_empty());
        if let Some(rec) = known(self.inner.cached_site().await?) {
            return Ok(rec);
        }
        let inner = &self.inner;
        inner
            .exclusive(&inner.sites_lock(), async {
                match known(inner.load_site().await?) {
                    Some(rec) => Ok(rec),
                    None => self.discover_locked().await,
                }
            })
            .await
    }

    /// Calls accessible-resources (see [`Session::discover_locked`]) inside the sites lock.
    pub(super) async fn discover(&self) -> Result<SiteRecord, Error> {
        let inner = &self.inner;
        inner
            .exclusive(&inner.sites_lock(), self.discover_locked())
            .await
    }

    /// Calls accessible-resources (refreshing once on a 401) and stores the list, keeping the
    /// previous choice when it is still listed and choosing automatically when only one is.
    /// A second 401, for a token fresh from the token endpoint, is an error that ends
    /// nothing: only the token endpoint ends a grant.
    /// No Jira site at all: the stored list is dropped (status: discovery pending, so a later
    /// [`Session::sites`] asks again; the tokens stay) and the result is [`Error::NoJiraSite`].
    pub(super) async fn discover_locked(&self) -> Result<SiteRecord, Error> {
        let mut access = self.access().await?;
        let mut refreshed = false;
        let sites = loop {
            match self.fetch_jira_sites(&access).await? {
                Fetched::Sites(sites) => break sites,
                Fetched::TokenRejected if !refreshed => {
                    refreshed = true;
                    access = self.refresh(Some(access.access_token)).await?;
                }
                Fetched::TokenRejected => return Err(Error::gateway_refused_fresh_token()),
            }
        };
        let previous = self.inner.load_site().await?.and_then(|r| r.chosen);
        let chosen = match select(&sites) {
            Selection::None => {
                self.inner.remove_site().await?;
                return Err(Error::NoJiraSite);
            }
            Selection::One(site) => Some(site.id),
            Selection::Several(_) => previous.filter(|id| sites.iter().any(|s| &s.id == id)),
        };
        let rec = SiteRecord::new(sites, chosen);
        self.inner.save_site_while_signed_in(&rec).await?;
        Ok(rec)
    }

    /// One `GET /oauth/token/accessible-resources`: merged, Jira only.
    pub(super) async fn fetch_jira_sites(&self, access: &AccessRecord) -> Result<Fetched, Error> {
        let resp = self
            .inner
            .http(HttpRequest {
                method: Method::Get,
                url: format!(
                    "{}/oauth/token/accessible-resources",
                    self.inner.config.api()
                ),
                headers: super::gateway_headers(access),
                body: None,
            })
            .await?;
        match classify_api_response(&resp, self.inner.platform.now_ms()) {
            ApiOutcome::Success => Ok(Fetched::Sites(jira_sites(&merge(
                parse_accessible_resources(&resp)?,
            )))),
            ApiOutcome::TokenRejected => Ok(Fetched::TokenRejected),
            // Not about a site here: the endpoint itself is missing (a wrong API base URL).
            // Neither a refresh nor clearing the grant would help.
            ApiOutcome::SiteUnreachable => Err(Error::invalid_response(
                resp.status,
                "accessible-resources answered 404 Not Found",
            )),
            ApiOutcome::MissingScope { message } => Err(Error::MissingScope { message }),
            ApiOutcome::RetryAfter {
                status,
                retry_after_ms,
            } => Err(Error::RateLimited {
                status,
                retry_after_ms,
            }),
            ApiOutcome::Failed(e) => Err(e),
        }
    }
}

/// What one accessible-resources call yielded.
pub(super) enum Fetched {
    Sites(Vec<SiteChoice>),
    /// 401: refresh and try once more.
    TokenRejected,
}

impl<P: Platform> Inner<P> {
    /// Writes the site record only while the namespace is signed in, inside the refresh lock,
    /// so that a discovery or a choice finishing after a sign-out in any context cannot write
    /// the record back: it is [`Error::NotSignedIn`] instead.
    pub(super) async fn save_site_while_signed_in(&self, record: &SiteRecord) -> Result<(), Error> {
        self.with_tokens_locked(async {
            if self.load_refresh().await?.is_none() && self.load_access().await?.is_none() {
                return Err(Error::NotSignedIn);
            }
            self.save_site(record).await
        })
        .await
    }
}
