//! Site discovery (accessible-resources), the cached list and the user's choice.

use super::ports::{HttpRequest, Method};
use super::{Platform, Session, SiteChoice, Status};
use crate::core::gateway::{classify_api_response, ApiOutcome};
use crate::core::records::{AccessRecord, SiteRecord};
use crate::core::sites::{jira_sites, merge, parse_accessible_resources, select, Selection};
use crate::Error;

impl<P: Platform> Session<P> {
    /// The Jira sites of this grant: the cached list, or one discovery when none is cached.
    pub async fn sites(&self) -> Result<Vec<SiteChoice>, Error> {
        if let Some(rec) = self.inner.load_site().await? {
            return Ok(rec.sites);
        }
        Ok(self.discover().await?.sites)
    }

    /// Persists the user's choice among [`Session::sites`].
    pub async fn choose_site(&self, site_id: &str) -> Result<Status, Error> {
        let rec = match self.inner.load_site().await? {
            Some(rec) => rec,
            None => self.discover().await?,
        };
        let Some(site) = rec.sites.iter().find(|s| s.id == site_id).cloned() else {
            return Err(Error::UnknownSite {
                site_id: site_id.to_string(),
            });
        };
        self.inner
            .save_site(&SiteRecord::new(rec.sites, Some(site.id.clone())))
            .await?;
        Ok(Status::SignedIn { site })
    }

    /// The site a Jira call goes to.
    pub(super) async fn current_site(&self) -> Result<SiteChoice, Error> {
        let rec = match self.inner.load_site().await? {
            Some(rec) => rec,
            None => self.discover().await?,
        };
        if let Some(site) = rec.chosen_site() {
            return Ok(site.clone());
        }
        match select(&rec.sites) {
            Selection::One(site) => {
                self.inner
                    .save_site(&SiteRecord::new(rec.sites, Some(site.id.clone())))
                    .await?;
                Ok(site)
            }
            Selection::Several(sites) => Err(Error::SiteSelectionRequired { sites }),
            Selection::None => Err(Error::NoJiraSite),
        }
    }

    /// Calls accessible-resources (refreshing once on a 401) and stores the list, keeping the
    /// previous choice when it is still listed and choosing automatically when only one is.
    pub(super) async fn discover(&self) -> Result<SiteRecord, Error> {
        let mut access = self.access().await?;
        let mut refreshed = false;
        let sites = loop {
            match self.fetch_jira_sites(&access).await? {
                Fetched::Sites(sites) => break sites,
                Fetched::TokenRejected if !refreshed => {
                    refreshed = true;
                    access = self.refresh(Some(access.access_token)).await?;
                }
                Fetched::TokenRejected => return Err(rejected_after_refresh()),
            }
        };
        let previous = self.inner.load_site().await?.and_then(|r| r.chosen);
        let chosen = match select(&sites) {
            Selection::One(site) => Some(site.id),
            _ => previous.filter(|id| sites.iter().any(|s| &s.id == id)),
        };
        let rec = SiteRecord::new(sites, chosen);
        self.inner.save_site(&rec).await?;
        Ok(rec)
    }

    /// One `GET /oauth/token/accessible-resources`: merged, Jira only.
    pub(super) async fn fetch_jira_sites(&self, access: &AccessRecord) -> Result<Fetched, Error> {
        let resp = self
            .inner
            .platform
            .send(HttpRequest {
                method: Method::Get,
                url: format!(
                    "{}/oauth/token/accessible-resources",
                    self.inner.config.api()
                ),
                headers: vec![
                    (
                        "authorization".into(),
                        format!("Bearer {}", access.access_token.secret()),
                    ),
                    ("accept".into(), "application/json".into()),
                ],
                body: None,
            })
            .await?;
        match classify_api_response(&resp, self.inner.platform.now_ms()) {
            ApiOutcome::Success => Ok(Fetched::Sites(jira_sites(&merge(
                parse_accessible_resources(&resp)?,
            )))),
            ApiOutcome::TokenRejected | ApiOutcome::SiteUnreachable => Ok(Fetched::TokenRejected),
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

/// The gateway refused a token that was just refreshed: the grant is gone in practice.
pub(super) fn rejected_after_refresh() -> Error {
    Error::ReauthRequired {
        error: "unauthorized".into(),
        description: Some("the gateway rejected a freshly refreshed access token".into()),
    }
}
