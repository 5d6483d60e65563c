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
            match self.fetch_jira_sites(&access).await {
                Err(Error::Jira { status: 401, .. }) if !refreshed => {
                    refreshed = true;
                    access = self.refresh(Some(access.access_token)).await?;
                }
                other => break other?,
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

    /// One `GET /oauth/token/accessible-resources`: merged, Jira only. A rejected token is
    /// reported as `Error::Jira { status: 401 }` so that [`Session::discover`] can refresh.
    pub(super) async fn fetch_jira_sites(
        &self,
        access: &AccessRecord,
    ) -> Result<Vec<SiteChoice>, Error> {
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
            ApiOutcome::Success => Ok(jira_sites(&merge(parse_accessible_resources(&resp)?))),
            ApiOutcome::TokenRejected | ApiOutcome::SiteUnreachable => Err(Error::Jira {
                status: 401,
                error_messages: vec!["the access token was rejected".into()],
                errors: Default::default(),
            }),
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
