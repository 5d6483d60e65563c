//! `cargo xtask test`: every check and every test level, each stage named and timed.

use crate::build::build_pkg;
use crate::build::Browser;
use crate::services::{
    build_binaries, free_port, start_broker, start_fake, start_test_stack, BrokerOptions,
    FakeOptions, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET,
};
use crate::tools::{
    chromedriver, ensure_all, ensure_firefox, geckodriver, root, run as sh, run_with_deadline,
    stage,
};
use crate::Result;
use std::process::Command;
use std::time::Duration;
use std::time::Instant;

pub fn run_all() -> Result {
    ensure_all()?;
    ensure_firefox()?;
    stage("cargo fmt --check", || {
        sh(Command::new("cargo").args(["fmt", "--all", "--", "--check"]))
    })?;
    stage("clippy -D warnings (native)", || {
        sh(Command::new("cargo").args([
            "clippy",
            "--workspace",
            "--all-targets",
            "--locked",
            "--",
            "-D",
            "warnings",
        ]))
    })?;
    stage("clippy -D warnings (wasm32)", || {
        sh(Command::new("cargo").args([
            "clippy",
            "-p",
            "jira-3lo",
            "--target",
            "wasm32-unknown-unknown",
            "--all-targets",
            "--locked",
            "--",
            "-D",
            "warnings",
        ]))
    })?;
    stage("native tests (cargo test --workspace)", || {
        // The scale-out tests run in the next stage, where their services are required.
        sh(Command::new("cargo").args([
            "test",
            "--workspace",
            "--locked",
            "--",
            "--skip",
            "scale_out_",
        ]))
    })?;
    stage(
        "broker scale-out (real redis-server + nginx, two brokers)",
        scale_tests,
    )?;
    // fuzz/ is a workspace of its own (fuzz/Cargo.toml); its plain test target/ is the root's.
    stage(
        "fuzz smoke (every fuzz target: seeds + 20,000 mutations)",
        || {
            sh(Command::new("cargo")
                .args(["test", "--locked", "--manifest-path", "fuzz/Cargo.toml"])
                .args(["--target-dir", "target"]))
        },
    )?;
    stage("JavaScript unit tests (node --test tests/js)", || {
        sh(Command::new("node").args(["--test", "tests/js/"]))
    })?;
    let pkg = build_pkg()?;
    stage(
        &format!(
            "module size (wasm + minified glue, gzip -9) <= {} B",
            crate::size::BUDGET_BYTES
        ),
        || crate::size::gate(&pkg),
    )?;
    stage(
        "wasm-bindgen tests in headless Chromium (page + service worker)",
        || wasm_tests(Browser::Chrome),
    )?;
    stage(
        "wasm-bindgen tests in headless Firefox ESR (page + service worker)",
        || wasm_tests(Browser::Firefox),
    )?;
    let files = e2e_files()?;
    stage(
        "Playwright end-to-end tests (real extension + demo page)",
        || e2e_tests(&files),
    )?;
    firefox_e2e_stage()?;
    stage(
        "web-ext lint (the Firefox build)",
        crate::build::lint_firefox,
    )?;
    Ok(())
}

/// The real Firefox e2e: the extension as a temporary add-on, driven over WebDriver.
fn firefox_e2e_stage() -> Result {
    stage(
        "Firefox end-to-end tests (temporary add-on in Firefox ESR, geckodriver)",
        || e2e_tests(&firefox_e2e_files()?),
    )
}

/// `cargo xtask test` runs every stage; `cargo xtask test wasm [chrome|firefox]` only the wasm-bindgen stages;
/// `cargo xtask test e2e [FILE...]` only the Playwright stage (after the tool installs), for the
/// given `tests/e2e/*.test.mjs` files or all.
pub fn run(args: &[String]) -> Result {
    let started = Instant::now();
    match args.split_first() {
        None => run_all()?,
        Some((stage_name, files)) if stage_name == "e2e" => {
            ensure_all()?;
            let files = if files.is_empty() {
                e2e_files()?
            } else {
                files.to_vec()
            };
            stage(
                "Playwright end-to-end tests (real extension + demo page)",
                || e2e_tests(&files),
            )?;
        }
        Some((stage_name, rest)) if stage_name == "scale" && rest.is_empty() => {
            ensure_all()?;
            stage(
                "broker scale-out (real redis-server + nginx, two brokers)",
                scale_tests,
            )?;
        }
        Some((stage_name, rest)) if stage_name == "wasm" && rest.len() <= 1 => {
            let browsers = match rest.first() {
                Some(name) => vec![Browser::parse(name)?],
                None => Browser::ALL.to_vec(),
            };
            ensure_all()?;
            if browsers.contains(&Browser::Firefox) {
                ensure_firefox()?;
            }
            if browsers.contains(&Browser::Chrome) {
                stage(
                    "wasm-bindgen tests in headless Chromium (page + service worker)",
                    || wasm_tests(Browser::Chrome),
                )?;
            }
            if browsers.contains(&Browser::Firefox) {
                stage("wasm-bindgen tests in headless Firefox ESR (page + service worker)", || {
                    wasm_tests(Browser::Firefox)
                })?;
            }
        }
        Some((stage_name, rest)) if stage_name == "firefox" && rest.is_empty() => {
            ensure_all()?;
            ensure_firefox()?;
            firefox_e2e_stage()?;
            stage("web-ext lint (the Firefox build)", crate::build::lint_firefox)?;
        }
        Some(_) => {
            return Err(format!(
                "cargo xtask test takes no arguments, `wasm [chrome|firefox]`, `scale`, `firefox`, or `e2e [FILE...]` (got {args:?})"
            )
            .into())
        }
    }
    println!(
        "\nall stages passed in {:.0} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// crates/broker/tests/scale.rs: it starts redis-server and nginx (deploy/nginx.conf) on free
/// loopback ports itself; here their absence is a failure, not a skip.
fn scale_tests() -> Result {
    let mut cmd = Command::new("cargo");
    cmd.args([
        "test",
        "--locked",
        "-p",
        "jira-3lo-broker",
        "--test",
        "scale",
        "--",
        "--nocapture",
    ])
    .env("JIRA3LO_REQUIRE_SCALE", "1")
    .env(
        "PATH",
        format!(
            "{}:/usr/sbin:/usr/bin",
            std::env::var("PATH").unwrap_or_default()
        ),
    );
    run_with_deadline(&mut cmd, Duration::from_secs(10 * 60))
}

/// The wasm test files: `tests/wasm_*.rs` (pages and service workers, in both browsers).
fn wasm_test_targets() -> Result<Vec<String>> {
    let mut names: Vec<String> = std::fs::read_dir(root().join("tests"))?
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| n.starts_with("wasm_") && n.ends_with(".rs"))
        .map(|n| n.trim_end_matches(".rs").to_string())
        .collect();
    names.sort();
    Ok(names)
}

/// Starts the real fake + broker, then runs the wasm-bindgen tests against them in headless
/// Chromium (chromedriver) or Firefox ESR (geckodriver). The test page's address is fixed per
/// run so the broker can allow exactly that origin.
fn wasm_tests(browser: Browser) -> Result {
    build_binaries(false)?;
    let fake_port = free_port()?;
    let page_port = free_port()?;
    let broker_port = free_port()?;
    let fake_url = format!("http://127.0.0.1:{fake_port}");
    // The fake's page is the client redirect; the broker's callback is the app's one callback.
    let callback = format!("{fake_url}/__test/callback");
    let fake = start_fake(&FakeOptions {
        port: fake_port,
        consent_page: false,
        callback_url: format!("http://127.0.0.1:{broker_port}/oauth/callback"),
        release: false,
    })?;
    let broker = start_broker(&BrokerOptions {
        port: broker_port,
        auth_base_url: fake.base_url.clone(),
        allowed_origins: vec![format!("http://127.0.0.1:{page_port}")],
        // Any context can ask for the fake's page; a frame of the test page can read back
        // where its own-origin one ended (the fragment with the ticket).
        redirect_uris: vec![
            callback,
            format!("http://127.0.0.1:{page_port}/jira3lo-test-callback"),
        ],
        client_id: DEMO_CLIENT_ID.into(),
        client_secret: DEMO_CLIENT_SECRET.into(),
        release: false,
    })?;
    let mut cmd = Command::new("cargo");
    cmd.args([
        "test",
        "--locked",
        "-p",
        "jira-3lo",
        "--target",
        "wasm32-unknown-unknown",
    ]);
    for t in wasm_test_targets()? {
        cmd.args(["--test", &t]);
    }
    // The runner takes the first of GECKODRIVER, …, CHROMEDRIVER that is set.
    match browser {
        Browser::Chrome => cmd
            .env_remove("GECKODRIVER")
            .env("CHROMEDRIVER", chromedriver())
            .env(
                "WASM_BINDGEN_TEST_WEBDRIVER_JSON",
                root().join("webdriver.json"),
            ),
        // Firefox has no credentialless frames: under the runner's default COEP
        // `require-corp` the sign-in frame could not load the fake's and the broker's pages
        // (they send no CORP header). No page test needs cross-origin isolation.
        Browser::Firefox => cmd
            .env("GECKODRIVER", geckodriver())
            .env(
                "WASM_BINDGEN_TEST_WEBDRIVER_JSON",
                root().join("webdriver-firefox.json"),
            )
            .env("WASM_BINDGEN_TEST_NO_ORIGIN_ISOLATION", "1"),
    };
    cmd.env(
        "WASM_BINDGEN_TEST_ADDRESS",
        format!("127.0.0.1:{page_port}"),
    )
    .env("WASM_BINDGEN_TEST_TIMEOUT", "60")
    .env("JIRA3LO_TEST_FAKE_URL", &fake.base_url)
    .env("JIRA3LO_TEST_BROKER_URL", &broker.base_url);
    run_with_deadline(&mut cmd, Duration::from_secs(20 * 60))
}

/// Builds the extension against freshly started services and runs `node --test tests/e2e/`.
fn e2e_tests(files: &[String]) -> Result {
    let stack = start_test_stack(false)?;
    let artifacts = root().join("target/e2e-artifacts");
    std::fs::create_dir_all(&artifacts)?;
    let mut cmd = Command::new("node");
    // One test may take at most 3 minutes; the whole stage at most 15.
    cmd.args(["--test", "--test-concurrency=1", "--test-timeout=180000"])
        .args(files)
        .env("JIRA3LO_ARTIFACTS", &artifacts);
    stack.export_env(&mut cmd);
    run_with_deadline(&mut cmd, Duration::from_secs(15 * 60))
}

/// `tests/e2e/firefox/*.test.mjs`, sorted.
fn firefox_e2e_files() -> Result<Vec<String>> {
    let mut files: Vec<String> = std::fs::read_dir(root().join("tests/e2e/firefox"))?
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| n.ends_with(".test.mjs"))
        .map(|n| format!("tests/e2e/firefox/{n}"))
        .collect();
    files.sort();
    if files.is_empty() {
        return Err("no tests/e2e/firefox/*.test.mjs found".into());
    }
    Ok(files)
}

/// `tests/e2e/*.test.mjs`, sorted.
fn e2e_files() -> Result<Vec<String>> {
    let mut files: Vec<String> = std::fs::read_dir(root().join("tests/e2e"))?
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| n.ends_with(".test.mjs"))
        .map(|n| format!("tests/e2e/{n}"))
        .collect();
    files.sort();
    if files.is_empty() {
        return Err("no tests/e2e/*.test.mjs found".into());
    }
    Ok(files)
}
