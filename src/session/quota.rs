//! The latest rate-limit quota of the chosen site ([`crate::core::rate_limit`]): every Jira
//! response (2xx, error, 429) updates this context's copy; a copy worth telling the others is
//! also written to `jira3lo:{ns}:quota` in the session area (see
//! [`crate::core::rate_limit::worth_publishing`]: on a change that matters, else at most every
//! 30 s), so the per-call path writes nothing in the steady state.

use super::ports::HttpResponse;
use super::{Inner, Platform, Session};
use crate::core::rate_limit::{quota_of, worth_publishing, Quota};
use crate::core::records::{QuotaRecord, SCHEMA_VERSION};
use crate::Error;

impl<P: Platform> Inner<P> {
    /// Takes in what `resp` (from `site_id`) says about the quota. Never fails the call: a
    /// storage error only leaves the other contexts with an older quota.
    pub(super) async fn observe_quota(&self, site_id: &str, resp: &HttpResponse) {
        let Some(quota) = quota_of(resp, self.platform.now_ms()) else {
            return;
        };
        let quota = match &*self.quota.borrow() {
            Some((site, older)) if site == site_id => quota.or_from(older),
            _ => quota,
        };
        *self.quota.borrow_mut() = Some((site_id.to_string(), quota.clone()));
        let publish = {
            let published = self.quota_published.borrow();
            let same_site = published.as_ref().filter(|(site, _)| site == site_id);
            worth_publishing(same_site.map(|(_, q)| q), &quota)
        };
        if publish {
            // Noted before the write: a concurrent call of this context does not write too.
            *self.quota_published.borrow_mut() = Some((site_id.to_string(), quota.clone()));
            let record = QuotaRecord {
                v: SCHEMA_VERSION,
                site_id: site_id.to_string(),
                quota,
            };
            let _ = self.save_quota(&record).await;
        }
    }
}

impl<P: Platform> Session<P> {
    /// The latest quota of the chosen site that this context or any context sharing the
    /// session area saw (the newer of the two), or `None` (no site chosen, no Jira response
    /// with rate-limit headers yet). Costs one storage read, no request.
    pub async fn quota(&self) -> Result<Option<Quota>, Error> {
        let Some(site) = self.inner.cached_site().await? else {
            return Ok(None);
        };
        let Some(site_id) = site.chosen_site().map(|s| s.id.clone()) else {
            return Ok(None);
        };
        let here = self
            .inner
            .quota
            .borrow()
            .as_ref()
            .filter(|(site, _)| *site == site_id)
            .map(|(_, q)| q.clone());
        let stored = self
            .inner
            .load_quota()
            .await?
            .filter(|r| r.site_id == site_id)
            .map(|r| r.quota);
        Ok(match (here, stored) {
            (Some(a), Some(b)) => Some(if b.observed_at > a.observed_at { b } else { a }),
            (a, b) => a.or(b),
        })
    }
}
