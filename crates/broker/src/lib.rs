//! The jira-3lo token broker: the minimal backend that holds the Atlassian client secret.
//!
//! Atlassian 3LO needs `client_secret` for the code exchange and for every refresh, so the
//! secret cannot live in an extension or a web page. The broker accepts the token request
//! without client credentials, adds them, forwards it to the one configured token endpoint and
//! returns the answer unchanged. It keeps no state besides an in-memory rate limiter, so any
//! number of instances can run behind a load balancer. See the crate README for deployment.

mod config;
mod error;
mod grant;
mod rate_limit;
mod server;
mod upstream;

pub use config::{
    BrokerConfig, ClientSecret, ConfigError, DEFAULT_AUTH_BASE_URL, DEFAULT_LISTEN,
    DEFAULT_RATE_LIMIT_PER_MINUTE, DEFAULT_SCOPES, DEFAULT_UPSTREAM_TIMEOUT, MAX_BODY_BYTES,
};
pub use error::Refusal;

use std::future::Future;
use std::net::SocketAddr;

/// A broker serving in the background of the current tokio runtime.
#[derive(Debug, Clone)]
pub struct RunningBroker {
    /// `http://127.0.0.1:PORT`, no trailing slash.
    pub base_url: String,
}

/// A bound, not yet serving broker: lets the binary print its address before serving.
pub struct Server {
    listener: tokio::net::TcpListener,
    router: axum::Router,
}

impl Server {
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `shutdown` resolves, then finishes in-flight requests.
    pub async fn serve(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let service = self
            .router
            .into_make_service_with_connect_info::<SocketAddr>();
        axum::serve(self.listener, service)
            .with_graceful_shutdown(shutdown)
            .await
    }
}

/// Validates the config and binds its listen address. Invalid settings are `InvalidInput`.
pub async fn bind(config: BrokerConfig) -> std::io::Result<Server> {
    let validated = config
        .prepare()
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e.to_string()))?;
    let router = server::router(&config, validated)?;
    let listener = tokio::net::TcpListener::bind(config.listen).await?;
    Ok(Server { listener, router })
}

/// Binds, starts serving on `tokio::spawn`, and returns at once.
pub async fn spawn(config: BrokerConfig) -> std::io::Result<RunningBroker> {
    let server = bind(config).await?;
    let base_url = format!("http://{}", server.local_addr()?);
    tokio::spawn(async move {
        if let Err(error) = server.serve(std::future::pending()).await {
            tracing::error!(%error, "broker stopped");
        }
    });
    Ok(RunningBroker { base_url })
}
