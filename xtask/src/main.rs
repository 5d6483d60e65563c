//! `cargo xtask <command>`: the project's two front doors (`test`, `demo`) plus `bench`, `sim`, `fuzz` and `build`.
//!
//! Everything a fresh Debian machine lacks is installed on the way (see [`tools`]); a second run
//! installs nothing. Each stage is named and timed; any failure stops with a nonzero exit.

mod bench;
mod build;
mod demo;
mod fuzz;
mod services;
mod sim;
mod size;
mod test;
mod tools;

use std::process::ExitCode;

pub type Result<T = ()> = std::result::Result<T, Box<dyn std::error::Error>>;

const USAGE: &str = "usage: cargo xtask <command>

commands:
  test            install what is missing, then fmt, clippy (native + wasm32), native tests,
                  broker scale-out (redis-server + nginx), wasm-bindgen tests (page + service
                  worker) in headless Chromium and Firefox ESR, Playwright e2e (Chromium),
                  Firefox e2e (geckodriver), web-ext lint
  test wasm [chrome|firefox]
                  only the wasm-bindgen stages (both browsers, or the one named)
  test scale      only the broker scale-out stage (real redis-server + nginx, two brokers)
  test firefox    only the Firefox e2e stage and web-ext lint
  test e2e [FILE...]  only the Playwright stage (tools, services, extension build), for the
                  given tests/e2e/*.test.mjs files or all of them
  demo [--browser firefox]
                  build, start the fake Atlassian + broker, serve the extension and the demo
                  page; with --browser firefox also start Firefox ESR with the add-on (web-ext run)
  bench [WHAT]    benchmarks: broker (load + scale) | scale | size | convert | popup |
                  percall | all (default all)
  sim [--schedules N] [--seed S]
                  deterministic simulation of the session engine: N schedules (default
                  100000; from seed S when both are given), or rerun seed S with its trace
  fuzz [--secs N] [TARGET...]
                  coverage-guided fuzzing (libFuzzer) of the parsers of outside input, each
                  target N seconds (default 60), one after the other (fuzz/src/lib.rs)
  build [--release-artifacts] [--broker-url URL]
                  build the wasm package and the unpacked extensions: target/extension
                  (Chromium) and target/extension-firefox; with --release-artifacts also
                  target/artifacts/jira-3lo-chrome.zip and jira-3lo-firefox.xpi (the
                  default broker URL, e.g. your deployed broker, from --broker-url)
  setup           only install the missing tools";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (cmd, rest) = match args.split_first() {
        Some((c, r)) => (c.as_str(), r),
        None => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    let result = match cmd {
        "test" => test::run(rest),
        "demo" => demo::run(rest),
        "bench" => bench::run(rest),
        "sim" => sim::run(rest),
        "fuzz" => fuzz::run(rest),
        "build" => build::command(rest),
        "setup" => tools::ensure_all(),
        "help" | "-h" | "--help" => {
            println!("{USAGE}");
            Ok(())
        }
        other => {
            eprintln!("unknown command `{other}`\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("\nxtask {cmd} failed: {e}");
            ExitCode::FAILURE
        }
    }
}
