//! `cargo xtask demo`: builds the module and the unpacked extension, starts the fake Atlassian
//! (consent-page mode) and the broker on fixed loopback ports, serves the demo page and the
//! extension folder, prints what to open and what to load, and stops everything on Ctrl-C.
//!
//! With `ATLASSIAN_CLIENT_ID` and `ATLASSIAN_CLIENT_SECRET` (or `ATLASSIAN_CLIENT_SECRET_FILE`) set,
//! no fake is started: the broker talks to https://auth.atlassian.com and the module's defaults
//! point at the real Atlassian.

use crate::build::{
    build_extension, extension_dir, extension_dir_for, extension_id, firefox_redirect_uri,
    firefox_uuid_pref, Browser, ExtensionConfig, FIREFOX_UUID,
};
use crate::services::{
    build_binaries, free_port, serve_static, start_broker, start_stack, BrokerOptions,
    DEMO_BROKER_PORT, DEMO_FAKE_PORT, DEMO_STATIC_PORT,
};
use crate::tools::{ensure_all, ensure_firefox, firefox, node_bin, root};
use crate::Result;
use std::net::TcpListener;

const REAL_AUTH_BASE_URL: &str = "https://auth.atlassian.com";
const REAL_API_BASE_URL: &str = "https://api.atlassian.com";

pub fn run(args: &[String]) -> Result {
    let browser = match args {
        [] => None,
        [flag, name] if flag == "--browser" => Some(Browser::parse(name)?),
        _ => {
            return Err(format!(
                "cargo xtask demo takes no arguments or `--browser firefox|chrome` (got {args:?})"
            )
            .into())
        }
    };
    // Chromium is never started for you (load the folder by hand); Firefox is, with web-ext.
    let firefox = browser == Some(Browser::Firefox);
    ensure_all()?;
    if firefox {
        ensure_firefox()?;
    }
    build_binaries(false)?;
    // Ctrl-C only wakes this thread; returning drops the services, which kills their processes.
    let (stop_tx, stop_rx) = std::sync::mpsc::channel::<()>();
    ctrlc::set_handler(move || {
        let _ = stop_tx.send(());
    })?;
    match real_credentials()? {
        Some(creds) => run_real(creds, firefox, &stop_rx),
        None => run_fake(firefox, &stop_rx),
    }
}

/// What to do in Firefox by hand, and what `--browser firefox` does for you.
fn firefox_steps(first_page: &str) -> Result<String> {
    Ok(format!(
        "  Firefox:    `cargo xtask demo --browser firefox` starts Firefox ESR with the add-on
              (web-ext run, a fresh profile). By hand instead: about:config →
              extensions.webextensions.uuids = {pref}
              (so the origin moz-extension://{uuid} is the one the broker allows),
              then about:debugging#/runtime/this-firefox → Load Temporary Add-on… →
              {manifest}
              and open {first_page}
              (redirect URI allowed at the broker: {redirect})",
        pref = firefox_uuid_pref()?,
        uuid = FIREFOX_UUID,
        manifest = extension_dir_for(Browser::Firefox)
            .join("manifest.json")
            .display(),
        redirect = firefox_redirect_uri()?,
    ))
}

/// `web-ext run` of the Firefox folder in Firefox ESR, with the fixed add-on UUID; killed (with
/// Firefox) when dropped.
struct WebExtRun(std::process::Child);

impl Drop for WebExtRun {
    fn drop(&mut self) {
        // web-ext stops Firefox and removes its profile on SIGINT (it ignores SIGTERM); if it
        // has not exited within 10 s, its process group (Firefox included) is killed.
        let pid = self.0.id().to_string();
        let _ = std::process::Command::new("kill")
            .args(["-INT", &pid])
            .status();
        let started = std::time::Instant::now();
        while started.elapsed() < std::time::Duration::from_secs(10) {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        let _ = std::process::Command::new("kill")
            .args(["-KILL", "--", &format!("-{pid}")])
            .status();
        let _ = self.0.wait();
    }
}

fn start_firefox(start_url: &str) -> Result<WebExtRun> {
    use std::os::unix::process::CommandExt as _;
    if std::env::var_os("DISPLAY").is_none() && std::env::var_os("WAYLAND_DISPLAY").is_none() {
        println!("no DISPLAY: Firefox is started headless (follow the about:debugging steps below on a desktop)");
    }
    let mut cmd = std::process::Command::new(node_bin().join("web-ext"));
    cmd.arg("run")
        .arg("--source-dir")
        .arg(extension_dir_for(Browser::Firefox))
        .arg(format!("--firefox={}", firefox()))
        .arg("--pref")
        .arg(format!(
            "extensions.webextensions.uuids={}",
            firefox_uuid_pref()?
        ))
        .args([
            "--start-url",
            start_url,
            "--no-reload",
            "--no-input",
            "--no-config-discovery",
        ]);
    if std::env::var_os("DISPLAY").is_none() && std::env::var_os("WAYLAND_DISPLAY").is_none() {
        cmd.env("MOZ_HEADLESS", "1");
    }
    let log = std::fs::File::create(root().join("target/xtask-logs/web-ext.log"))?;
    cmd.stdout(log.try_clone()?).stderr(log).process_group(0);
    println!("$ {}", format!("{cmd:?}").replace('"', ""));
    let child = cmd
        .spawn()
        .map_err(|e| format!("cannot start web-ext: {e}"))?;
    println!("Firefox ESR: started with the add-on (log: target/xtask-logs/web-ext.log)");
    Ok(WebExtRun(child))
}

/// The preferred port when it is free (so bookmarks and the loaded extension keep working across
/// runs), else any free port.
fn port_or_free(preferred: u16) -> Result<u16> {
    match TcpListener::bind(("127.0.0.1", preferred)) {
        Ok(listener) => {
            drop(listener);
            Ok(preferred)
        }
        Err(_) => {
            let port = free_port()?;
            println!("port {preferred} is busy, using {port}");
            Ok(port)
        }
    }
}

fn run_fake(firefox: bool, stop: &std::sync::mpsc::Receiver<()>) -> Result {
    let fake_port = port_or_free(DEMO_FAKE_PORT)?;
    let broker_port = port_or_free(DEMO_BROKER_PORT)?;
    let static_port = port_or_free(DEMO_STATIC_PORT)?;
    let config = ExtensionConfig::for_fake(
        &format!("http://127.0.0.1:{broker_port}"),
        &format!("http://127.0.0.1:{fake_port}"),
    );
    let extension = build_extension(&config)?;
    let stack = start_stack(fake_port, broker_port, static_port, true, false)?;
    let fake = &stack.fake.base_url;
    let popup = format!("moz-extension://{FIREFOX_UUID}/www/popup.html");
    let web_ext = if firefox {
        Some(start_firefox(&popup)?)
    } else {
        None
    };
    println!(
        "
================================================================================
jira-3lo demo is running (fake Atlassian in consent-page mode)

  Web page:   open {demo}
  Extension:  chrome://extensions → Developer mode → Load unpacked →
              {ext}
              (id {id}; its popup is in the toolbar's puzzle menu)
{firefox_steps}

  Sign in as the seed user `alice` (two Jira sites: you get a site picker) or
  switch to `bob` (one site):
    curl -s -X POST {fake}/__admin/settings -H 'content-type: application/json' -d '{{\"consent_user\":\"bob\"}}'
  Expire the access token (the module refreshes it once, for every open context):
    curl -s -X POST {fake}/__admin/clock -H 'content-type: application/json' -d '{{\"advance_secs\":3700}}'
  Revoke every token (the popup offers Reconnect):   curl -s -X POST {fake}/__admin/revoke
  Requests served so far:                            curl -s {fake}/__admin/stats

  fake Atlassian {fake}   broker {broker}   static files {statics}
  Logs: target/xtask-logs/. Press Ctrl-C to stop everything.
================================================================================",
        demo = stack.demo_url,
        ext = extension.display(),
        id = stack.extension_id,
        firefox_steps = firefox_steps(&popup)?,
        broker = stack.broker.base_url,
        statics = stack.static_files.base_url,
    );
    wait_for_ctrl_c(stop);
    drop(web_ext);
    drop(stack);
    println!("stopped the fake Atlassian, the broker and the static server");
    Ok(())
}

struct Credentials {
    client_id: String,
    client_secret: String,
}

/// The real app's credentials from the environment (never from flags), if set.
fn real_credentials() -> Result<Option<Credentials>> {
    let id = std::env::var("ATLASSIAN_CLIENT_ID")
        .ok()
        .filter(|v| !v.trim().is_empty());
    let secret = match std::env::var("ATLASSIAN_CLIENT_SECRET")
        .ok()
        .filter(|v| !v.trim().is_empty())
    {
        Some(s) => Some(s),
        None => match std::env::var("ATLASSIAN_CLIENT_SECRET_FILE")
            .ok()
            .filter(|v| !v.trim().is_empty())
        {
            Some(path) => Some(
                std::fs::read_to_string(&path)
                    .map_err(|e| format!("cannot read ATLASSIAN_CLIENT_SECRET_FILE ({path}): {e}"))?
                    .trim()
                    .to_string(),
            ),
            None => None,
        },
    };
    match (id, secret) {
        (Some(client_id), Some(client_secret)) => Ok(Some(Credentials {
            client_id,
            client_secret,
        })),
        (None, None) => Ok(None),
        (Some(_), None) => {
            Err("ATLASSIAN_CLIENT_ID is set but ATLASSIAN_CLIENT_SECRET is not".into())
        }
        (None, Some(_)) => {
            Err("ATLASSIAN_CLIENT_SECRET is set but ATLASSIAN_CLIENT_ID is not".into())
        }
    }
}

fn run_real(creds: Credentials, firefox: bool, stop: &std::sync::mpsc::Receiver<()>) -> Result {
    let broker_port = port_or_free(DEMO_BROKER_PORT)?;
    let static_port = port_or_free(DEMO_STATIC_PORT)?;
    let broker_url = format!("http://127.0.0.1:{broker_port}");
    let config = ExtensionConfig {
        broker_url: broker_url.clone(),
        api_base_url: REAL_API_BASE_URL.into(),
        test_hooks: false,
    };
    let extension = build_extension(&config)?;
    let id = extension_id()?;
    let static_origin = format!("http://127.0.0.1:{static_port}");
    let demo_url = format!("{static_origin}/www/demo.html");
    let extension_redirect = format!("https://{id}.chromiumapp.org/");
    let firefox_redirect = firefox_redirect_uri()?;
    let broker = start_broker(&BrokerOptions {
        port: broker_port,
        auth_base_url: REAL_AUTH_BASE_URL.into(),
        allowed_origins: vec![
            format!("chrome-extension://{id}"),
            format!("moz-extension://{FIREFOX_UUID}"),
            static_origin,
        ],
        redirect_uris: vec![
            extension_redirect.clone(),
            firefox_redirect.clone(),
            demo_url.clone(),
        ],
        client_id: creds.client_id,
        client_secret: creds.client_secret,
        release: false,
    })?;
    let statics = serve_static(&extension_dir(), static_port)?;
    let popup = format!("moz-extension://{FIREFOX_UUID}/www/popup.html");
    let web_ext = if firefox {
        Some(start_firefox(&popup)?)
    } else {
        None
    };
    println!(
        "
================================================================================
jira-3lo demo is running against the REAL Atlassian (auth.atlassian.com)

  Register the broker's callback as your app's one callback URL in the Atlassian
  developer console (Authorization → OAuth 2.0 (3LO)); Atlassian matches it exactly:
    {broker_url}/oauth/callback
  The broker then sends each sign-in back to one of the redirects it allows:
    {extension_redirect}
    {firefox_redirect}
    {demo_url}

  Web page:   open {demo_url}
  Extension:  chrome://extensions → Developer mode → Load unpacked →
              {ext}   (id {id})
{firefox_steps}

  broker {broker}   static files {statics}
  Logs: target/xtask-logs/. Press Ctrl-C to stop everything.
================================================================================",
        ext = extension.display(),
        firefox_steps = firefox_steps(&popup)?,
        broker = broker.base_url,
        statics = statics.base_url,
    );
    wait_for_ctrl_c(stop);
    drop(web_ext);
    drop(broker);
    println!("stopped the broker and the static server");
    Ok(())
}

fn wait_for_ctrl_c(stop: &std::sync::mpsc::Receiver<()>) {
    // A closed channel (handler gone) also ends the wait.
    let _ = stop.recv();
    println!("\nCtrl-C: stopping…");
}
