//! Installs what a fresh Debian machine lacks, idempotently, saying what it installs:
//! the wasm32 target, wasm-bindgen-cli at the exact Cargo.lock version, Debian's chromium +
//! chromium-driver, Debian's redis-server and nginx (the broker's scale-out tests), the npm tools
//! from package-lock.json (`npm ci`), and for the Firefox stages Debian's firefox-esr and
//! geckodriver (from the crate registry, pinned).
//!
//! Pitfalls avoided (see the toolchain notes): `cargo install --locked wasm-bindgen-cli` fails
//! here, so it is installed unlocked at the pinned version; Debian's binaryen (wasm-opt 108) is
//! broken, so wasm-opt comes from the npm `binaryen` package; nothing downloads from GitHub.

use crate::Result;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

/// The workspace root (xtask lives in `<root>/xtask`).
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// Runs a command in the workspace root, echoing it; fails on a nonzero exit.
pub fn run(cmd: &mut Command) -> Result {
    let shown = format!("{cmd:?}").replace('"', "");
    println!("$ {shown}");
    let status = cmd
        .current_dir(root())
        .status()
        .map_err(|e| format!("cannot start {shown}: {e}"))?;
    if !status.success() {
        return Err(format!("`{shown}` failed with {status}").into());
    }
    Ok(())
}

/// Like [`run`], but kills the command's whole process group (a browser and its helpers
/// included) when it outlives `limit`, so a hung browser test fails the stage instead of
/// keeping CI silent until its own time limit.
pub fn run_with_deadline(cmd: &mut Command, limit: std::time::Duration) -> Result {
    use std::os::unix::process::CommandExt as _;
    let shown = format!("{cmd:?}").replace('"', "");
    println!("$ {shown}");
    let mut child = cmd
        .current_dir(root())
        .process_group(0)
        .spawn()
        .map_err(|e| format!("cannot start {shown}: {e}"))?;
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait()? {
            if !status.success() {
                return Err(format!("`{shown}` failed with {status}").into());
            }
            return Ok(());
        }
        if started.elapsed() > limit {
            // A negative pid addresses the process group the child leads.
            let _ = Command::new("kill")
                .args(["-KILL", &format!("-{}", child.id())])
                .status();
            let _ = child.wait();
            return Err(format!(
                "`{shown}` did not finish within {} s and was killed",
                limit.as_secs()
            )
            .into());
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}

/// Runs a command and returns its stdout, or None when it cannot run or fails.
pub fn output(cmd: &mut Command) -> Option<String> {
    let out = cmd.current_dir(root()).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Runs `f` as a named, timed stage.
pub fn stage<T>(name: &str, f: impl FnOnce() -> Result<T>) -> Result<T> {
    println!("\n==> {name}");
    let started = Instant::now();
    let result = f();
    let secs = started.elapsed().as_secs_f64();
    match &result {
        Ok(_) => println!("<== {name}: ok ({secs:.1} s)"),
        Err(e) => println!("<== {name}: FAILED after {secs:.1} s: {e}"),
    }
    result
}

pub fn chromium() -> &'static str {
    "/usr/bin/chromium"
}

pub fn chromedriver() -> &'static str {
    "/usr/bin/chromedriver"
}

/// Debian's Firefox ESR.
pub fn firefox() -> &'static str {
    "/usr/bin/firefox-esr"
}

/// The geckodriver version `cargo install` fetches from the registry.
const GECKODRIVER_VERSION: &str = "0.37.1";

/// `$CARGO_HOME/bin/geckodriver` (where `cargo install` puts it).
pub fn geckodriver() -> PathBuf {
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .unwrap_or_else(|| PathBuf::from("/root/.cargo"));
    cargo_home.join("bin/geckodriver")
}

/// `node_modules/.bin`, where the pinned wasm-opt and Playwright live.
pub fn node_bin() -> PathBuf {
    root().join("node_modules/.bin")
}

/// The wasm-bindgen version pinned in Cargo.lock.
pub fn locked_wasm_bindgen_version() -> Result<String> {
    let lock = std::fs::read_to_string(root().join("Cargo.lock"))?;
    let mut lines = lock.lines();
    while let Some(line) = lines.next() {
        if line == "name = \"wasm-bindgen\"" {
            if let Some(v) = lines.next().and_then(|l| l.strip_prefix("version = \"")) {
                return Ok(v.trim_end_matches('"').to_string());
            }
        }
    }
    Err("wasm-bindgen is not in Cargo.lock".into())
}

pub fn ensure_all() -> Result {
    stage("tools", || {
        ensure_wasm_target()?;
        ensure_wasm_bindgen()?;
        ensure_chromium()?;
        ensure_scale_services()?;
        ensure_npm_packages()?;
        ensure_twiggy()?;
        Ok(())
    })
}

fn ensure_wasm_target() -> Result {
    let installed =
        output(Command::new("rustup").args(["target", "list", "--installed"])).unwrap_or_default();
    if installed
        .lines()
        .any(|l| l.trim() == "wasm32-unknown-unknown")
    {
        println!("wasm32-unknown-unknown target: present");
        return Ok(());
    }
    println!("installing the wasm32-unknown-unknown target");
    run(Command::new("rustup").args(["target", "add", "wasm32-unknown-unknown"]))
}

fn ensure_wasm_bindgen() -> Result {
    let want = locked_wasm_bindgen_version()?;
    let have = output(Command::new("wasm-bindgen").arg("--version")).unwrap_or_default();
    let runner =
        output(Command::new("wasm-bindgen-test-runner").arg("--version")).unwrap_or_default();
    if have.trim() == format!("wasm-bindgen {want}") && runner.contains(&want) {
        println!("wasm-bindgen-cli {want}: present");
        return Ok(());
    }
    println!(
        "installing wasm-bindgen-cli {want} (the Cargo.lock version of wasm-bindgen; takes ~3 min)"
    );
    // Not --locked: its lockfile pins crates the registry here does not serve.
    run(Command::new("cargo").args(["install", "wasm-bindgen-cli", "--version", &want, "--force"]))
}

/// twiggy, for `cargo xtask bench size`'s largest contributors (from the registry, pinned).
fn ensure_twiggy() -> Result {
    const VERSION: &str = "0.8.0";
    let have = output(Command::new("twiggy").arg("--version")).unwrap_or_default();
    // It prints `twiggy-opt 0.8.0`.
    if have.starts_with("twiggy") && have.split_whitespace().last() == Some(VERSION) {
        println!("twiggy {VERSION}: present");
        return Ok(());
    }
    println!("installing twiggy {VERSION} (takes ~2 min)");
    run(Command::new("cargo").args(["install", "twiggy", "--version", VERSION, "--locked"]))
}

fn ensure_chromium() -> Result {
    if Path::new(chromium()).exists() && Path::new(chromedriver()).exists() {
        println!("chromium + chromium-driver: present");
        return Ok(());
    }
    println!("installing Debian's chromium and chromium-driver");
    apt_install(&["chromium", "chromium-driver"])
}

/// `redis-server` and `nginx`, started by crates/broker/tests/scale.rs on loopback ports of its
/// own (the packages' system services are not used; on a machine with systemd they may start).
pub fn redis_server() -> &'static str {
    "/usr/bin/redis-server"
}

pub fn nginx() -> &'static str {
    "/usr/sbin/nginx"
}

fn ensure_scale_services() -> Result {
    if Path::new(redis_server()).exists() && Path::new(nginx()).exists() {
        println!("redis-server + nginx: present");
        return Ok(());
    }
    println!("installing Debian's redis-server and nginx (the broker's scale-out tests)");
    apt_install(&["redis-server", "nginx"])
}

/// What the Firefox stages need besides [`ensure_all`]: Debian's firefox-esr and geckodriver.
pub fn ensure_firefox() -> Result {
    stage("tools (Firefox)", || {
        if Path::new(firefox()).exists() {
            println!("firefox-esr: present");
        } else {
            println!("installing Debian's firefox-esr");
            apt_install(&["firefox-esr"])?;
        }
        let have = output(Command::new(geckodriver()).arg("--version")).unwrap_or_default();
        // It prints `geckodriver 0.37.1 (...)` first.
        if have.split_whitespace().nth(1) == Some(GECKODRIVER_VERSION) {
            println!("geckodriver {GECKODRIVER_VERSION}: present");
            return Ok(());
        }
        println!(
            "installing geckodriver {GECKODRIVER_VERSION} from the crate registry (takes ~3 min)"
        );
        run(Command::new("cargo").args([
            "install",
            "geckodriver",
            "--version",
            GECKODRIVER_VERSION,
            "--locked",
        ]))
    })
}

/// `apt-get update` + `apt-get install` of Debian packages (through sudo when not root).
fn apt_install(packages: &[&str]) -> Result {
    let sudo = output(Command::new("id").arg("-u"))
        .map(|u| u.trim() != "0")
        .unwrap_or(true);
    let prefix: &[&str] = if sudo { &["sudo"] } else { &[] };
    let apt = |args: &[&str]| {
        let mut all: Vec<&str> = prefix.to_vec();
        all.extend_from_slice(args);
        let mut cmd = Command::new(all[0]);
        cmd.args(&all[1..]).env("DEBIAN_FRONTEND", "noninteractive");
        run(&mut cmd)
    };
    apt(&["apt-get", "update", "-qq"])?;
    let mut install = vec!["apt-get", "install", "-y", "-qq", "--no-install-recommends"];
    install.extend_from_slice(packages);
    apt(&install)
}

fn ensure_npm_packages() -> Result {
    let root = root();
    let stamp = root.join("node_modules/.package-lock.json");
    let lock = root.join("package-lock.json");
    let fresh = match (std::fs::metadata(&stamp), std::fs::metadata(&lock)) {
        (Ok(s), Ok(l)) => {
            s.modified()? >= l.modified()?
                && ["wasm-opt", "terser", "web-ext"]
                    .iter()
                    .all(|bin| node_bin().join(bin).exists())
        }
        _ => false,
    };
    if fresh {
        println!("npm packages (package-lock.json): present");
        return Ok(());
    }
    if output(Command::new("npm").arg("--version")).is_none() {
        return Err("npm is missing: install Node.js 20+ (apt-get install nodejs npm)".into());
    }
    println!("installing npm packages from package-lock.json (npm ci)");
    run(Command::new("npm").args(["ci", "--no-audit", "--no-fund"]))
}
