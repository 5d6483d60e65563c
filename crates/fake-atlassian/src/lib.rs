//! A faithful local stand-in for auth.atlassian.com and api.atlassian.com (Jira Cloud 3LO).
//!
//! One listener serves both hosts' paths: the OAuth 2.0 (3LO) authorization server
//! (`/authorize`, `/oauth/token`), the API gateway (`/oauth/token/accessible-resources`,
//! `/me`, `/ex/jira/{cloudId}/rest/api/3/...`), and a loopback-only admin API under
//! `/__admin/` for tests and benchmarks (counters, clock, settings, faults, revocation).
//! It models the unpleasant parts on purpose: rotating refresh tokens with a reuse leeway and
//! family revocation, companion access-token revocation, duplicate cloud ids in
//! accessible-resources, gateway 401 bodies, Jira ErrorCollection bodies, 429 with Retry-After.
//! See the crate README for every route, admin call and the seed data.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use fake_atlassian::{spawn, FakeConfig};
//! let fake = spawn(FakeConfig::default().callback_url("demo-client", "http://127.0.0.1:9/cb")).await?;
//! println!("auth and API base URL: {}", fake.base_url);
//! # Ok(()) }
//! ```

// Handlers short-circuit with a ready `Response` as the error; boxing it would only add an
// allocation to every error path of a test double.
#![allow(clippy::result_large_err)]

mod admin;
mod api;
mod auth;
mod config;
mod faults;
mod grants;
mod jql;
mod quota;
mod seed;
mod server;
mod state;
mod token;
mod util;

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::sync::oneshot;

pub use config::{
    AppConfig, ConfigError, ConsentMode, FakeConfig, Secret, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET,
    DEMO_SCOPES,
};
pub use state::{Settings, SettingsPatch, Stats};

/// Cloud ids and user keys of the seed data (documented in the README).
pub mod ids {
    /// alice's first site; Jira and Confluence under the same cloud id; >= 250 issues.
    pub const ACME: &str = crate::seed::ACME;
    /// alice's second site (Jira only).
    pub const INITECH: &str = crate::seed::INITECH;
    /// bob's only site (Jira only).
    pub const GLOBEX: &str = crate::seed::GLOBEX;
    /// Account ids by user key.
    pub const ALICE_ACCOUNT_ID: &str = crate::seed::ALICE_ACCOUNT;
    pub const BOB_ACCOUNT_ID: &str = crate::seed::BOB_ACCOUNT;
    pub const CAROL_ACCOUNT_ID: &str = crate::seed::CAROL_ACCOUNT;
    pub const DAVE_ACCOUNT_ID: &str = crate::seed::DAVE_ACCOUNT;
}

/// A fake serving on a background task. Dropping it stops the listener.
pub struct RunningFake {
    /// `http://127.0.0.1:PORT`, no trailing slash; both the auth and the API base URL.
    pub base_url: String,
    addr: SocketAddr,
    shared: Arc<state::Shared>,
    shutdown: Option<oneshot::Sender<()>>,
}

impl RunningFake {
    /// The bound socket address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Same as `POST /__admin/clock {"advance_secs": secs}`; returns the fake's new now.
    pub fn advance_clock(&self, secs: u64) -> u64 {
        let mut st = self.shared.lock();
        st.clock_offset += secs;
        st.now()
    }

    /// Same as `POST /__admin/reset`.
    pub fn reset(&self) {
        self.shared.reset();
    }

    /// Same as `GET /__admin/stats`.
    pub fn stats(&self) -> Stats {
        self.shared.lock().stats.clone()
    }

    /// Stops accepting connections (also done on drop).
    pub fn shutdown(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

impl Drop for RunningFake {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

impl std::fmt::Debug for RunningFake {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunningFake")
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

/// Binds `config.listen`, starts serving on a `tokio::spawn`ed task and returns at once.
pub async fn spawn(config: FakeConfig) -> std::io::Result<RunningFake> {
    config.validate()?;
    let listener = server::FakeListener::bind(config.listen).await?;
    let addr = axum::serve::Listener::local_addr(&listener)?;
    let base_url = format!("http://{addr}");
    let shared = Arc::new(state::Shared::new(&config, base_url.clone()));
    let app = server::router(shared.clone());
    let (tx, rx) = oneshot::channel::<()>();
    tokio::spawn(async move {
        let service = app.into_make_service_with_connect_info::<server::ConnInfo>();
        let result = axum::serve(listener, service)
            .with_graceful_shutdown(async {
                let _ = rx.await;
            })
            .await;
        if let Err(e) = result {
            tracing::error!("fake-atlassian server stopped: {e}");
        }
    });
    Ok(RunningFake {
        base_url,
        addr,
        shared,
        shutdown: Some(tx),
    })
}
