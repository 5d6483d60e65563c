//! Starts the real services on loopback: the fake Atlassian, the broker, and a small static
//! file server for the extension folder and the demo page. Each child is killed on drop, so
//! Ctrl-C or a failed stage never leaves a process behind.

use crate::tools::{root, run, stage};
use crate::Result;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;

pub const DEMO_BROKER_PORT: u16 = 8787;
pub const DEMO_FAKE_PORT: u16 = 8788;
pub const DEMO_STATIC_PORT: u16 = 8789;

/// The demo app registered in the fake Atlassian (public test credentials, not a secret).
pub const DEMO_CLIENT_ID: &str = "demo-client";
pub const DEMO_CLIENT_SECRET: &str = "demo-secret";

/// A started child process and the base URL it announced.
pub struct Service {
    pub base_url: String,
    child: Child,
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Builds the fake and the broker binaries (debug for tests and the demo, release for benches).
pub fn build_binaries(release: bool) -> Result {
    stage("build the fake Atlassian and the broker", || {
        let mut cmd = Command::new("cargo");
        cmd.args([
            "build",
            "--locked",
            "-p",
            "fake-atlassian",
            "-p",
            "jira-3lo-broker",
        ]);
        if release {
            cmd.arg("--release");
        }
        run(&mut cmd)
    })
}

fn binary(name: &str, release: bool) -> PathBuf {
    root()
        .join("target")
        .join(if release { "release" } else { "debug" })
        .join(name)
}

/// Logs of the services go to `target/xtask-logs/<name>.log` (never to the test output).
fn log_file(name: &str) -> Result<std::fs::File> {
    let dir = root().join("target/xtask-logs");
    std::fs::create_dir_all(&dir)?;
    Ok(std::fs::File::create(dir.join(format!("{name}.log")))?)
}

/// Spawns a service binary and waits for its first stdout line `listening on http://HOST:PORT`.
fn spawn(name: &'static str, mut cmd: Command) -> Result<Service> {
    cmd.stdout(Stdio::piped())
        .stderr(log_file(name)?)
        .stdin(Stdio::null());
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot start {name}: {e}"))?;
    let stdout = child.stdout.take().expect("piped stdout");
    let mut reader = BufReader::new(stdout);
    let mut first = String::new();
    reader.read_line(&mut first)?;
    let base_url = match first.trim().strip_prefix("listening on ") {
        Some(url) => url.trim_end_matches('/').to_string(),
        None => {
            let _ = child.kill();
            return Err(format!(
                "{name} did not announce its address (first line: {first:?}); see target/xtask-logs/{name}.log"
            )
            .into());
        }
    };
    // Keep draining stdout so the child never blocks on a full pipe.
    thread::spawn(move || {
        let mut sink = Vec::new();
        let _ = reader.read_to_end(&mut sink);
    });
    println!("{name}: {base_url}");
    Ok(Service { base_url, child })
}

/// A free loopback port, for services whose URL must be known before they start
/// (a redirect URI that points at the fake itself).
pub fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

pub struct FakeOptions {
    pub port: u16,
    pub consent_page: bool,
    /// The demo app's one callback URL: the broker's `/oauth/callback`.
    pub callback_url: String,
    pub release: bool,
}

pub fn start_fake(opts: &FakeOptions) -> Result<Service> {
    let mut cmd = Command::new(binary("fake-atlassian", opts.release));
    cmd.arg("--listen").arg(format!("127.0.0.1:{}", opts.port));
    cmd.arg("--consent")
        .arg(if opts.consent_page { "page" } else { "auto" });
    cmd.arg("--demo-callback-url").arg(&opts.callback_url);
    spawn("fake-atlassian", cmd)
}

pub struct BrokerOptions {
    pub port: u16,
    pub auth_base_url: String,
    pub allowed_origins: Vec<String>,
    /// Client redirects the broker's callback may send tickets to (not Atlassian callbacks).
    pub redirect_uris: Vec<String>,
    pub client_id: String,
    pub client_secret: String,
    pub release: bool,
}

pub fn start_broker(opts: &BrokerOptions) -> Result<Service> {
    let mut cmd = Command::new(binary("jira-3lo-broker", opts.release));
    cmd.arg("--listen").arg(format!("127.0.0.1:{}", opts.port));
    cmd.arg("--auth-base-url").arg(&opts.auth_base_url);
    for origin in &opts.allowed_origins {
        cmd.arg("--allowed-origin").arg(origin);
    }
    for uri in &opts.redirect_uris {
        cmd.arg("--allowed-redirect-uri").arg(uri);
    }
    // The credentials only ever travel through the environment.
    cmd.env("ATLASSIAN_CLIENT_ID", &opts.client_id);
    cmd.env("ATLASSIAN_CLIENT_SECRET", &opts.client_secret);
    cmd.env_remove("ATLASSIAN_CLIENT_SECRET_FILE");
    spawn("broker", cmd)
}

/// A minimal static file server (GET/HEAD) for the extension folder and the demo page.
pub struct StaticServer {
    pub base_url: String,
}

pub fn serve_static(dir: &Path, port: u16) -> Result<StaticServer> {
    let listener = TcpListener::bind(("127.0.0.1", port))?;
    let base_url = format!("http://{}", listener.local_addr()?);
    println!("static files: {base_url} ({})", dir.display());
    let dir = dir.to_path_buf();
    thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let dir = dir.clone();
            thread::spawn(move || {
                let _ = serve_one(stream, &dir);
            });
        }
    });
    Ok(StaticServer { base_url })
}

fn serve_one(mut stream: TcpStream, dir: &Path) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header)? == 0 || header == "\r\n" || header == "\n" {
            break;
        }
    }
    let mut parts = request_line.split_whitespace();
    let method = parts.next().unwrap_or("");
    let target = parts.next().unwrap_or("/");
    let path = target.split(['?', '#']).next().unwrap_or("/");
    let relative = path.trim_start_matches('/');
    let safe = !relative
        .split('/')
        .any(|seg| seg == ".." || seg.starts_with('.'));
    let mut file = dir.join(if relative.is_empty() {
        "www/demo.html"
    } else {
        relative
    });
    if file.is_dir() {
        file = file.join("index.html");
    }
    let (status, body, content_type) = match (method, safe, std::fs::read(&file)) {
        ("GET" | "HEAD", true, Ok(bytes)) => ("200 OK", bytes, content_type(&file)),
        ("GET" | "HEAD", _, _) => ("404 Not Found", b"not found".to_vec(), "text/plain"),
        _ => (
            "405 Method Not Allowed",
            b"method not allowed".to_vec(),
            "text/plain",
        ),
    };
    write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nCache-Control: no-store\r\nReferrer-Policy: no-referrer\r\nConnection: close\r\n\r\n",
        body.len()
    )?;
    if method != "HEAD" {
        stream.write_all(&body)?;
    }
    stream.flush()
}

fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()).unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" => "application/json",
        "wasm" => "application/wasm",
        "png" => "image/png",
        "svg" => "image/svg+xml",
        "ts" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// The full local stack the e2e tests and the demo use.
pub struct Stack {
    pub fake: Service,
    pub broker: Service,
    pub static_files: StaticServer,
    pub extension_id: String,
    pub demo_url: String,
}

/// Starts fake + broker + static server wired together for the extension and the demo page.
pub fn start_stack(
    fake_port: u16,
    broker_port: u16,
    static_port: u16,
    consent_page: bool,
    release: bool,
) -> Result<Stack> {
    let extension_id = crate::build::extension_id()?;
    let static_origin = format!("http://127.0.0.1:{static_port}");
    let demo_url = format!("{static_origin}/www/demo.html");
    let extension_redirect = format!("https://{extension_id}.chromiumapp.org/");
    // Firefox's redirect is fixed by the add-on id; its origin by the UUID pref the tests and
    // the demo set (a real installation's UUID is random).
    let redirect_uris = vec![
        extension_redirect,
        crate::build::firefox_redirect_uri()?,
        demo_url.clone(),
    ];
    // The broker's default public URL is http://127.0.0.1:{port}; its callback is the app's one.
    let fake = start_fake(&FakeOptions {
        port: fake_port,
        consent_page,
        callback_url: format!("http://127.0.0.1:{broker_port}/oauth/callback"),
        release,
    })?;
    let broker = start_broker(&BrokerOptions {
        port: broker_port,
        auth_base_url: fake.base_url.clone(),
        allowed_origins: vec![
            format!("chrome-extension://{extension_id}"),
            format!("moz-extension://{}", crate::build::FIREFOX_UUID),
            static_origin,
        ],
        redirect_uris,
        client_id: DEMO_CLIENT_ID.into(),
        client_secret: DEMO_CLIENT_SECRET.into(),
        release,
    })?;
    let static_files = serve_static(&crate::build::extension_dir(), static_port)?;
    Ok(Stack {
        fake,
        broker,
        static_files,
        extension_id,
        demo_url,
    })
}

impl Stack {
    /// The environment the Playwright scripts read: service URLs, the extension, the browser.
    pub fn export_env(&self, cmd: &mut Command) {
        cmd.env("JIRA3LO_FAKE_URL", &self.fake.base_url)
            .env("JIRA3LO_BROKER_URL", &self.broker.base_url)
            .env("JIRA3LO_STATIC_URL", &self.static_files.base_url)
            .env("JIRA3LO_DEMO_URL", &self.demo_url)
            .env("JIRA3LO_EXTENSION_DIR", crate::build::extension_dir())
            .env("JIRA3LO_EXTENSION_ID", &self.extension_id)
            .env("CHROMIUM", crate::tools::chromium())
            .env(
                "JIRA3LO_FIREFOX_EXTENSION_DIR",
                crate::build::extension_dir_for(crate::build::Browser::Firefox),
            )
            .env("JIRA3LO_FIREFOX_UUID", crate::build::FIREFOX_UUID)
            .env("FIREFOX", crate::tools::firefox())
            .env("GECKODRIVER", crate::tools::geckodriver());
    }
}

/// For the e2e tests and the popup benchmark: builds the extension (test hooks on) against
/// services on free loopback ports, then starts those services (auto-consent by default).
pub fn start_test_stack(release: bool) -> Result<Stack> {
    build_binaries(release)?;
    let (fake_port, broker_port, static_port) = (free_port()?, free_port()?, free_port()?);
    let config = crate::build::ExtensionConfig::for_fake(
        &format!("http://127.0.0.1:{broker_port}"),
        &format!("http://127.0.0.1:{fake_port}"),
    )
    .with_test_hooks();
    crate::build::build_extension(&config)?;
    start_stack(fake_port, broker_port, static_port, false, release)
}
