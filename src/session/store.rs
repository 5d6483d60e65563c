//! Typed access to the four records; unreadable records are reported and removed.

use super::cache::Cached;
use super::ports::Area;
use super::{Inner, Platform, StorageReport};
use crate::core::records::{
    self, keys, AccessRecord, Decoded, PendingRecord, QuotaRecord, Record, RefreshRecord,
    SiteRecord,
};
use crate::Error;

impl<P: Platform> Inner<P> {
    fn ns(&self) -> &str {
        &self.config.namespace
    }

    async fn load<T: Record>(&self, area: Area, key: String) -> Result<Option<T>, Error> {
        let raw = self.platform.get(area, &key).await?;
        match records::decode::<T>(raw.as_deref()) {
            Decoded::Missing => Ok(None),
            Decoded::Ok(t) => Ok(Some(t)),
            Decoded::Unreadable { reason } => {
                self.reports.borrow_mut().push(StorageReport {
                    key: key.clone(),
                    reason,
                });
                // Discard it: a broken record must not break every later call. A failing
                // remove is not worth failing the caller for either.
                let _ = self.platform.remove(area, &key).await;
                Ok(None)
            }
        }
    }

    async fn save<T: Record>(&self, area: Area, key: String, record: &T) -> Result<(), Error> {
        Ok(self
            .platform
            .set(area, &key, &records::encode(record))
            .await?)
    }

    /// A change event from some context: drop the copies of the records it touched.
    pub(super) fn changed(&self, key: Option<&str>) {
        let ns = self.ns();
        if key.is_none_or(|k| k == keys::access(ns)) {
            self.access.forget();
        }
        if key.is_none_or(|k| k == keys::site(ns)) {
            self.site.forget();
        }
    }

    /// A record as storage holds it now, with its in-memory copy refreshed from the read.
    async fn load_copied<T: Record + Clone>(
        &self,
        copy: &Cached<T>,
        area: Area,
        key: String,
    ) -> Result<Option<T>, Error> {
        let read_at = copy.generation();
        let record = self.load(area, key).await?;
        copy.fill(read_at, record.clone(), self.platform.now_ms());
        Ok(record)
    }

    pub(super) async fn load_access(&self) -> Result<Option<AccessRecord>, Error> {
        self.load_copied(&self.access, Area::Session, keys::access(self.ns()))
            .await
    }

    /// The access record from the in-memory copy, else from storage: the per-call path.
    pub(super) async fn cached_access(&self) -> Result<Option<AccessRecord>, Error> {
        match self.access.get(self.platform.now_ms()) {
            Some(record) => Ok(record),
            None => self.load_access().await,
        }
    }

    pub(super) async fn save_access(&self, r: &AccessRecord) -> Result<(), Error> {
        self.save(Area::Session, keys::access(self.ns()), r).await?;
        self.access.set(Some(r.clone()), self.platform.now_ms());
        Ok(())
    }

    pub(super) async fn load_refresh(&self) -> Result<Option<RefreshRecord>, Error> {
        self.load(Area::Persistent, keys::refresh(self.ns())).await
    }

    pub(super) async fn save_refresh(&self, r: &RefreshRecord) -> Result<(), Error> {
        self.save(Area::Persistent, keys::refresh(self.ns()), r)
            .await
    }

    pub(super) async fn load_site(&self) -> Result<Option<SiteRecord>, Error> {
        self.load_copied(&self.site, Area::Persistent, keys::site(self.ns()))
            .await
    }

    /// The site record from the in-memory copy, else from storage: the per-call path.
    pub(super) async fn cached_site(&self) -> Result<Option<SiteRecord>, Error> {
        match self.site.get(self.platform.now_ms()) {
            Some(record) => Ok(record),
            None => self.load_site().await,
        }
    }

    pub(super) async fn save_site(&self, r: &SiteRecord) -> Result<(), Error> {
        self.save(Area::Persistent, keys::site(self.ns()), r)
            .await?;
        self.site.set(Some(r.clone()), self.platform.now_ms());
        Ok(())
    }

    pub(super) async fn remove_site(&self) -> Result<(), Error> {
        self.platform
            .remove(Area::Persistent, &keys::site(self.ns()))
            .await?;
        self.site.set(None, self.platform.now_ms());
        Ok(())
    }

    pub(super) async fn load_pending(&self) -> Result<Option<PendingRecord>, Error> {
        self.load(Area::Persistent, keys::pending(self.ns())).await
    }

    pub(super) async fn save_pending(&self, r: &PendingRecord) -> Result<(), Error> {
        self.save(Area::Persistent, keys::pending(self.ns()), r)
            .await
    }

    pub(super) async fn remove_pending(&self) -> Result<(), Error> {
        Ok(self
            .platform
            .remove(Area::Persistent, &keys::pending(self.ns()))
            .await?)
    }

    pub(super) async fn load_quota(&self) -> Result<Option<QuotaRecord>, Error> {
        self.load(Area::Session, keys::quota(self.ns())).await
    }

    pub(super) async fn save_quota(&self, r: &QuotaRecord) -> Result<(), Error> {
        self.save(Area::Session, keys::quota(self.ns()), r).await
    }

    /// Drops both tokens (after a permanent refusal); the site choice survives a reconnect.
    pub(super) async fn clear_tokens(&self) -> Result<(), Error> {
        self.platform
            .remove(Area::Session, &keys::access(self.ns()))
            .await?;
        self.access.set(None, self.platform.now_ms());
        self.platform
            .remove(Area::Persistent, &keys::refresh(self.ns()))
            .await?;
        Ok(())
    }

    pub(super) async fn clear_all(&self) -> Result<(), Error> {
        self.clear_tokens().await?;
        self.remove_site().await?;
        self.forget_quota().await?;
        self.remove_pending().await
    }

    /// The quota belongs to the signed-in app on its site: a sign-out forgets it everywhere.
    async fn forget_quota(&self) -> Result<(), Error> {
        self.quota.borrow_mut().take();
        self.quota_published.borrow_mut().take();
        Ok(self
            .platform
            .remove(Area::Session, &keys::quota(self.ns()))
            .await?)
    }
}
