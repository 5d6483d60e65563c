//! `jira-3lo-broker`: see `--help` and the crate README.

mod cli;

use clap::Parser;
use cli::{Cli, LogFormat};
use std::io::{IsTerminal, Write};
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let file = match cli.file() {
        Ok(file) => file,
        Err(error) => return fail(&error),
    };
    init_logging(cli.log_format(&file));
    let config = match cli.settings(file, &|name| std::env::var(name).ok()) {
        Ok(config) => config,
        Err(error) => return fail(&error),
    };
    if let Err(error) = config.validate() {
        return fail(&error);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => return fail(&error),
    };
    match runtime.block_on(run(config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => fail(&error),
    }
}

async fn run(config: jira_3lo_broker::BrokerConfig) -> std::io::Result<()> {
    if config.allowed_redirect_uris.is_empty() {
        tracing::warn!("no allowed redirect URIs: every sign-in will be refused");
    }
    if config.allowed_origins.is_empty() {
        tracing::warn!("no allowed origins: browsers cannot call the broker (requests without Origin still can)");
    }
    tracing::info!(
        auth_base_url = %config.auth_base_url,
        client_id = %config.client_id,
        allowed_origins = ?config.allowed_origins,
        allowed_redirect_uris = ?config.allowed_redirect_uris,
        upstream_timeout_secs = config.upstream_timeout.as_secs_f64(),
        rate_limit_per_minute = config.rate_limit_per_minute,
        client_ip_header = ?config.client_ip_header,
        sealing_key_ids = ?config.sealing_keys.iter().map(|k| k.kid()).collect::<Vec<_>>(),
        shared_state = config.redis_url.as_ref().map(|u| u.redacted()).unwrap_or_else(|| "memory".into()),
        redis_prefix = config.redis_url.as_ref().map(|_| config.redis_prefix.as_str()),
        metrics_listen = ?config.metrics_listen,
        "starting"
    );
    let server = jira_3lo_broker::bind(config).await?;
    let addr = server.local_addr()?;
    tracing::info!(
        public_url = server.public_url(),
        callback_url = %server.callback_url(),
        "register the callback URL as the app's callback at Atlassian"
    );
    // The first stdout line is the contract with whoever started us (tests, xtask, scripts).
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "listening on http://{addr}")?;
    stdout.flush()?;
    drop(stdout);
    if let Some(metrics) = server.metrics_addr() {
        tracing::info!(addr = %metrics?, "metrics listening");
    }
    tracing::info!(%addr, "listening");
    server.serve(shutdown_signal()).await?;
    tracing::info!("stopped");
    Ok(())
}

/// Ctrl-C or SIGTERM (what container runtimes send) stops accepting and drains requests.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
}

/// Logs go to stderr (stdout carries only the address line). Level from RUST_LOG, default info.
fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .init(),
        LogFormat::Text => builder.with_ansi(std::io::stderr().is_terminal()).init(),
    }
}

fn fail(error: &dyn std::fmt::Display) -> ExitCode {
    eprintln!("jira-3lo-broker: {error}");
    ExitCode::from(2)
}
