//! `fake-atlassian`: serves the fake auth.atlassian.com + api.atlassian.com on one listener.
//! The first stdout line is `listening on http://HOST:PORT`; logs go to stderr.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use fake_atlassian::{ConsentMode, FakeConfig, DEMO_CLIENT_ID, DEMO_SCOPES};

#[derive(Parser)]
#[command(
    name = "fake-atlassian",
    version,
    about = "A local stand-in for auth.atlassian.com and api.atlassian.com (Jira Cloud 3LO)"
)]
struct Cli {
    /// Address to listen on (port 0 picks a free port) [default: 127.0.0.1:0].
    #[arg(long)]
    listen: Option<SocketAddr>,
    /// Register an app with this client id (needs --client-secret).
    #[arg(long, requires = "client_secret")]
    client_id: Option<String>,
    /// The registered app's client secret.
    #[arg(long, requires = "client_id")]
    client_secret: Option<String>,
    /// The --client-id app's one callback URL (exact match; given once, as an Atlassian app has
    /// one). `{base}` = the fake's URL.
    #[arg(long = "callback-url", alias = "redirect-uri", requires = "client_id")]
    callback_url: Option<String>,
    /// Scope the --client-id app may request (repeatable; default: the demo app's scopes).
    #[arg(long = "scope", requires = "client_id")]
    scopes: Vec<String>,
    /// The built-in demo-client's one callback URL (given once). `{base}` = the fake's URL.
    #[arg(long = "demo-callback-url", alias = "demo-redirect-uri")]
    demo_callback_url: Option<String>,
    /// `auto` redirects at once; `page` shows a consent page with Accept / Cancel.
    #[arg(long, value_parser = ["auto", "page"])]
    consent: Option<String>,
    /// Seed user who consents: alice (two sites, default), bob (one site), carol, dave.
    #[arg(long)]
    consent_user: Option<String>,
    /// JSON config file (apps, demo_callback_url, settings, listen); flags win over it.
    #[arg(long)]
    config: Option<PathBuf>,
}

fn build_config(cli: &Cli) -> Result<FakeConfig, fake_atlassian::ConfigError> {
    let mut config = FakeConfig::default();
    if let Some(path) = &cli.config {
        config = config.merge_file(path)?;
    }
    if let Some(addr) = cli.listen {
        config = config.listen(addr);
    }
    if let (Some(id), Some(secret)) = (&cli.client_id, &cli.client_secret) {
        let scopes: Vec<&str> = if cli.scopes.is_empty() {
            DEMO_SCOPES.to_vec()
        } else {
            cli.scopes.iter().map(String::as_str).collect()
        };
        config = config.with_app(id, secret, cli.callback_url.as_deref(), &scopes);
    }
    if let Some(uri) = &cli.demo_callback_url {
        config = config.callback_url(DEMO_CLIENT_ID, uri);
    }
    if let Some(mode) = &cli.consent {
        config = config.consent_mode(mode.parse::<ConsentMode>()?);
    }
    if let Some(user) = &cli.consent_user {
        config = config.consent_user(user);
    }
    Ok(config)
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        // Colour codes only for a terminal; files and pipes (CI logs) get plain text.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let cli = Cli::parse();
    let config = match build_config(&cli) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("fake-atlassian: {e}");
            return ExitCode::from(2);
        }
    };
    let fake = match fake_atlassian::spawn(config).await {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::InvalidInput => {
            eprintln!("fake-atlassian: {e}");
            return ExitCode::from(2);
        }
        Err(e) => {
            eprintln!("fake-atlassian: cannot start: {e}");
            return ExitCode::from(1);
        }
    };
    {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "listening on {}", fake.base_url);
        let _ = out.flush();
    }
    tracing::info!(base_url = %fake.base_url, "fake Atlassian ready");
    wait_for_shutdown().await;
    tracing::info!("shutting down");
    fake.shutdown();
    ExitCode::SUCCESS
}

async fn wait_for_shutdown() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(t) => t,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
