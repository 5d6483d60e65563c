//! The jira-3lo token broker: the minimal backend that holds the Atlassian client secret.
//!
//! Atlassian 3LO needs `client_secret` for the code exchange and for every refresh, so the
//! secret cannot live in an extension or a web page. The broker hosts the app's one callback
//! URL, exchanges the code itself, and hands the browser a one-time sealed ticket; refresh
//! tokens only ever leave it sealed and bound to the browser's DPoP key (RFC 9449), so a copied
//! token is useless without the non-extractable private key. Everything it hands out is sealed
//! instead of stored: besides the rate limiter and the replay cache it keeps no state. See the
//! crate README for the flow and deployment.

mod config;
mod dpop;
mod error;
mod flow;
mod grant;
mod metrics;
mod rate_limit;
mod redis_store;
mod replay;
mod seal;
mod server;
mod upstream;

pub use config::{
    BrokerConfig, ClientSecret, ConfigError, RedisUrl, SharedReplayCache, WallClock,
    DEFAULT_AUTH_BASE_URL, DEFAULT_LISTEN, DEFAULT_RATE_LIMIT_PER_MINUTE, DEFAULT_SCOPES,
    DEFAULT_UPSTREAM_TIMEOUT, MAX_BODY_BYTES,
};
pub use error::Refusal;
pub use grant::TICKET_GRANT;
pub use redis_store::{DEFAULT_REDIS_PREFIX, DEFAULT_REDIS_TIMEOUT};
pub use replay::{
    MemoryReplayCache, ReplayCache, ReplayFuture, ReplayUnavailable, DEFAULT_REPLAY_CAPACITY,
};
pub use seal::SealingKey;

/// Parses `BROKER_SEALING_KEYS` (`kid:base64key,kid2:base64key`, 32-byte keys in standard
/// base64). The error is a fixed text: it never contains key material.
pub fn parse_sealing_keys(text: &str) -> Result<Vec<SealingKey>, ConfigError> {
    seal::parse_keys(text).map_err(ConfigError::SealingKeys)
}

use std::future::Future;
use std::net::SocketAddr;

/// A broker serving in the background of the current tokio runtime.
#[derive(Debug, Clone)]
pub struct RunningBroker {
    /// `http://127.0.0.1:PORT`, no trailing slash.
    pub base_url: String,
    /// `{public_url}/oauth/callback`: the callback URL to register at Atlassian.
    pub callback_url: String,
    /// `http://ADDR/metrics`: on the separate metrics listener, or on the main one.
    pub metrics_url: String,
}

/// A bound, not yet serving broker: lets the binary print its address before serving.
pub struct Server {
    listener: tokio::net::TcpListener,
    router: axum::Router,
    /// `GET /metrics` on a listener of its own (`metrics_listen`).
    metrics: Option<(tokio::net::TcpListener, axum::Router)>,
    public_url: String,
}

impl Server {
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// The address of the separate metrics listener, when configured.
    pub fn metrics_addr(&self) -> Option<std::io::Result<SocketAddr>> {
        self.metrics.as_ref().map(|(l, _)| l.local_addr())
    }

    /// The configured public URL, or `http://{bound address}`; no trailing slash.
    pub fn public_url(&self) -> &str {
        &self.public_url
    }

    /// `{public_url}/oauth/callback`: the app's one callback URL at Atlassian.
    pub fn callback_url(&self) -> String {
        format!("{}{}", self.public_url, server::CALLBACK_PATH)
    }

    /// Serves until `shutdown` resolves, then stops accepting and finishes the requests in
    /// flight (the metrics listener stops with it).
    pub async fn serve(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            shutdown.await;
            let _ = stop_tx.send(true);
        });
        let stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
            let _ = rx.wait_for(|stop| *stop).await;
        };
        let metrics = self.metrics.map(|(listener, router)| {
            let rx = stop_rx.clone();
            tokio::spawn(async move {
                axum::serve(listener, router)
                    .with_graceful_shutdown(stopped(rx))
                    .await
            })
        });
        let service = self
            .router
            .into_make_service_with_connect_info::<SocketAddr>();
        let main = axum::serve(self.listener, service)
            .with_graceful_shutdown(stopped(stop_rx))
            .await;
        if let Some(task) = metrics {
            task.await.map_err(std::io::Error::other)??;
        }
        main
    }
}

/// Validates the config and binds its listen address(es). Invalid settings are `InvalidInput`.
pub async fn bind(config: BrokerConfig) -> std::io::Result<Server> {
    let validated = config
        .prepare()
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e.to_string()))?;
    let listener = tokio::net::TcpListener::bind(config.listen).await?;
    let metrics_listener = match config.metrics_listen {
        Some(addr) => Some(tokio::net::TcpListener::bind(addr).await?),
        None => None,
    };
    let public_url = match &validated.public_url {
        Some(url) => url.clone(),
        None => format!("http://{}", listener.local_addr()?),
    };
    let routers = server::router(&config, validated, &public_url)?;
    Ok(Server {
        listener,
        router: routers.main,
        metrics: metrics_listener.zip(routers.metrics),
        public_url,
    })
}

/// Binds, starts serving on `tokio::spawn`, and returns at once.
pub async fn spawn(config: BrokerConfig) -> std::io::Result<RunningBroker> {
    let server = bind(config).await?;
    let base_url = format!("http://{}", server.local_addr()?);
    let callback_url = server.callback_url();
    let metrics_url = match server.metrics_addr() {
        Some(addr) => format!("http://{}/metrics", addr?),
        None => format!("{base_url}/metrics"),
    };
    tokio::spawn(async move {
        if let Err(error) = server.serve(std::future::pending()).await {
            tracing::error!(%error, "broker stopped");
        }
    });
    Ok(RunningBroker {
        base_url,
        callback_url,
        metrics_url,
    })
}

/// Entry points for fuzzing (cargo-fuzz targets call these). None may panic on any input.
#[doc(hidden)]
pub mod fuzz {
    use crate::seal::{Purpose, Sealer, SealingKey};

    /// Fixed inputs, so a fuzzer explores only the bytes it controls.
    const HTU: &str = "http://127.0.0.1:8787/oauth/token";
    const NOW: u64 = 1_800_000_000;

    /// The token request body parser. `true` if the body is an acceptable grant.
    pub fn grant_body(content_type: Option<&str>, body: &[u8]) -> bool {
        crate::grant::parse(content_type, body).is_ok()
    }

    /// Parses and verifies one `DPoP` header value against `POST {HTU}` at a fixed time.
    pub fn dpop_proof(header_value: &[u8]) -> bool {
        let Ok(htu) = url::Url::parse(HTU) else {
            return false;
        };
        crate::dpop::verify(std::iter::once(header_value), "POST", &htu, NOW).is_ok()
    }

    /// Tries to open `text` as every kind of sealed string under a fixed test key.
    pub fn open_sealed(text: &[u8]) -> bool {
        let Some(key) = SealingKey::new("fuzz", [0x42; 32]) else {
            return false;
        };
        let sealer = Sealer::new(&[key]);
        let Ok(text) = std::str::from_utf8(text) else {
            return false;
        };
        let mut opened = false;
        for purpose in Purpose::ALL {
            opened |= sealer.open(purpose, text).is_ok();
        }
        opened |=
            crate::flow::open_json::<crate::flow::StatePayload>(&sealer, Purpose::State, text)
                .is_some();
        opened |=
            crate::flow::open_json::<crate::flow::TicketPayload>(&sealer, Purpose::Ticket, text)
                .is_some();
        opened |=
            crate::flow::open_json::<crate::flow::RefreshPayload>(&sealer, Purpose::Refresh, text)
                .is_some();
        opened
    }
}
