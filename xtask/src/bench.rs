//! `cargo xtask bench [broker|size|popup|all]`: measurements, not timed tests. Every figure
//! is reported next to a baseline measured in the same run.

use crate::build::build_pkg;
use crate::services::start_test_stack;
use crate::tools::{ensure_all, root, run as sh, stage};
use crate::Result;
use std::process::Command;

pub fn run(args: &[String]) -> Result {
    let what = args.first().map(String::as_str).unwrap_or("all");
    ensure_all()?;
    match what {
        "broker" => broker(),
        "size" => size(),
        "popup" => popup(),
        "all" => broker().and_then(|_| size()).and_then(|_| popup()),
        other => Err(format!("unknown benchmark `{other}` (broker | size | popup | all)").into()),
    }
}

/// Refreshes per second through the broker vs directly against the fake, and added latency.
fn broker() -> Result {
    stage("bench broker (release)", || {
        sh(Command::new("cargo").args([
            "bench",
            "--locked",
            "-p",
            "jira-3lo-broker",
            "--bench",
            "load",
        ]))
    })
}

/// The shipped module: wasm + JS glue, raw and gzip -9.
fn size() -> Result {
    let pkg = build_pkg()?;
    stage("bench size (shipped module, gzip -9)", || {
        let mut total_raw = 0;
        let mut total_gz = 0;
        for name in ["jira_3lo_bg.wasm", "jira_3lo.js"] {
            let bytes = std::fs::read(pkg.join(name))?;
            let gz = gzip9_len(&pkg.join(name))?;
            println!("{name:<20} {:>8} B raw {:>8} B gzip -9", bytes.len(), gz);
            total_raw += bytes.len();
            total_gz += gz;
        }
        println!("{:<20} {total_raw:>8} B raw {total_gz:>8} B gzip -9 (budget 100 KB = 102400 B: {:.0}% used)", "total", total_gz as f64 * 100.0 / 102_400.0);
        Ok(())
    })
}

fn gzip9_len(path: &std::path::Path) -> Result<usize> {
    let out = Command::new("gzip")
        .arg("-9")
        .arg("-c")
        .arg(path)
        .output()?;
    if !out.status.success() {
        return Err("gzip failed".into());
    }
    Ok(out.stdout.len())
}

/// Popup open → first issues rendered (cached tokens) vs a plain-JS page doing the same fetch.
fn popup() -> Result {
    let stack = start_test_stack(true)?;
    stage("bench popup (Playwright, headless Chromium)", || {
        let script = root().join("tests/e2e/bench-popup.mjs");
        if !script.exists() {
            return Err("tests/e2e/bench-popup.mjs is missing".into());
        }
        let mut cmd = Command::new("node");
        cmd.arg(script);
        stack.export_env(&mut cmd);
        sh(&mut cmd)
    })
}
