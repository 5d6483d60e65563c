//! `cargo xtask sim [--schedules N] [--seed S]`: the deterministic simulation of the session
//! engine (tests/sim.rs) beyond the bounded slice `cargo test` runs.
//!
//! It runs `cargo test --test sim` in the ordinary test profile: measured on the 2-core build
//! machine, a debug build runs about 400 schedules a second, so 100,000 take some four minutes,
//! while an optimised profile would first rebuild every dev-dependency (tokio, reqwest, ...)
//! for longer than it saves. The test prints the schedules run, each distinct failure with
//! its first seed and trace, and a summary line per failing invariant.

use crate::tools::run as sh;
use crate::Result;
use std::process::Command;

pub fn run(args: &[String]) -> Result {
    let mut schedules: Option<u64> = None;
    let mut seed: Option<u64> = None;
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut value = |name: &str| -> Result<u64> {
            let v = it.next().ok_or_else(|| format!("{name} needs a number"))?;
            Ok(v.parse()
                .map_err(|_| format!("{name} needs a number, got {v:?}"))?)
        };
        match arg.as_str() {
            "--schedules" => schedules = Some(value("--schedules")?),
            "--seed" => seed = Some(value("--seed")?),
            other => {
                return Err(format!(
                    "unknown argument {other:?} (usage: cargo xtask sim [--schedules N] [--seed S])"
                )
                .into())
            }
        }
    }
    let mut cmd = Command::new("cargo");
    cmd.args(["test", "--locked", "--test", "sim", "--", "--nocapture"]);
    match (seed, schedules) {
        // One seed: rerun that schedule with its full trace.
        (Some(s), None) => {
            cmd.env("JIRA3LO_SIM_SEED", s.to_string());
        }
        // Both: N schedules starting at seed S.
        (Some(s), Some(n)) => {
            cmd.env("JIRA3LO_SIM_START_SEED", s.to_string())
                .env("JIRA3LO_SIM_SCHEDULES", n.to_string());
        }
        (None, n) => {
            cmd.env("JIRA3LO_SIM_SCHEDULES", n.unwrap_or(100_000).to_string());
        }
    }
    sh(&mut cmd)
}
