//! `cargo xtask bench [broker|scale|size|convert|popup|percall|all]`: measurements, not timed tests. Every
//! figure is reported next to a baseline measured in the same run.

use crate::build::build_pkg;
use crate::services::start_test_stack;
use crate::tools::{chromedriver, ensure_all, root, run as sh, stage};
use crate::Result;
use std::process::Command;

pub fn run(args: &[String]) -> Result {
    let what = args.first().map(String::as_str).unwrap_or("all");
    ensure_all()?;
    match what {
        "broker" => broker(),
        "scale" => scale(),
        "size" => size(),
        "convert" => convert(),
        "popup" => popup(),
        "percall" => percall(),
        "all" => broker()
            .and_then(|_| size())
            .and_then(|_| convert())
            .and_then(|_| popup())
            .and_then(|_| percall()),
        other => Err(format!(
            "unknown benchmark `{other}` (broker | scale | size | convert | popup | percall | all)"
        )
        .into()),
    }
}

/// Refreshes per second through the broker vs directly against the fake, and added latency;
/// then the scale-out figures (each runs even if the other fails).
fn broker() -> Result {
    let load = stage("bench broker (release)", || {
        sh(Command::new("cargo").args([
            "bench",
            "--locked",
            "-p",
            "jira-3lo-broker",
            "--bench",
            "load",
        ]))
    });
    let scale = scale();
    load.and(scale)
}

/// Redis-backed limits vs in-memory, and two instances behind nginx vs one direct
/// (`crates/broker/benches/scale.rs`, real redis-server and nginx).
fn scale() -> Result {
    stage("bench scale (Redis, nginx, two brokers; release)", || {
        sh(Command::new("cargo").args([
            "bench",
            "--locked",
            "-p",
            "jira-3lo-broker",
            "--bench",
            "scale",
        ]))
    })
}

/// The shipped module: wasm + JS glue, raw and gzip -9, its largest contributors, and the
/// budget (fails above it, as `cargo xtask test` does).
fn size() -> Result {
    let pkg = build_pkg()?;
    stage("bench size (shipped module, gzip -9)", || {
        crate::size::largest_contributors()?;
        crate::size::gate(&pkg)
    })
}

/// Converting a real 50-issue search body into what JavaScript receives, each way, against
/// `JSON.parse` of the same body (`tests/bench_convert.rs`, release build, headless Chromium).
fn convert() -> Result {
    stage(
        "bench convert (50-issue search body → JavaScript)",
        || {
            sh(Command::new("cargo")
                .args([
                    "test",
                    "--release",
                    "--locked",
                    "-p",
                    "jira-3lo",
                    "--target",
                    "wasm32-unknown-unknown",
                    "--test",
                    "bench_convert",
                    "--",
                    "--nocapture",
                ])
                .env("CHROMEDRIVER", chromedriver())
                .env(
                    "WASM_BINDGEN_TEST_WEBDRIVER_JSON",
                    root().join("webdriver.json"),
                ))
        },
    )
}

/// Popup open → first issues rendered (cached tokens) vs a plain-JS page doing the same fetch.
fn popup() -> Result {
    playwright_bench(
        "bench popup (Playwright, headless Chromium)",
        "bench-popup.mjs",
    )
}

/// Per-call cost: 1,000 sequential 50-issue `client.search` calls vs 1,000 raw `fetch` + `.json()`
/// of the same URL with the same token, in one page; fails above the 1.25× budget (medians).
fn percall() -> Result {
    playwright_bench(
        "bench percall (module search vs raw fetch, headless Chromium)",
        "bench-percall.mjs",
    )
}

/// Runs `tests/e2e/<script>` with node against the release test stack (fake + broker + static).
fn playwright_bench(name: &str, script: &str) -> Result {
    let stack = start_test_stack(true)?;
    stage(name, || {
        let path = root().join("tests/e2e").join(script);
        if !path.exists() {
            return Err(format!("tests/e2e/{script} is missing").into());
        }
        let mut cmd = Command::new("node");
        cmd.arg(path);
        stack.export_env(&mut cmd);
        sh(&mut cmd)
    })
}
