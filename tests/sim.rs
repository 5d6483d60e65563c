//! Deterministic simulation of the session engine (FoundationDB's simulation testing,
//! TigerBeetle's VOPR): the production `Session` code, k contexts over one simulated world whose
//! four ports (HTTP, storage, lock, clock) are the only simulated parts. A seed decides the
//! world, the operations, the interleaving and the faults, so a failing seed reruns exactly.
//!
//! - `cargo test --test sim`: a bounded slice (seeds `0..500`, about two seconds in a debug build).
//! - `JIRA3LO_SIM_SCHEDULES=<n>`: run `n` schedules (from `JIRA3LO_SIM_START_SEED`, default 0).
//! - `JIRA3LO_SIM_SEED=<seed>`: rerun one schedule and print its trace.
//! - `cargo xtask sim [--schedules N] [--seed S]` does the same in an optimised build.
//!
//! What lives where: `sim/executor.rs` (the scheduler), `sim/world.rs` (clock, storage, lock,
//! network and faults: the ports), `sim/atlassian.rs` (the token endpoint and gateway with the
//! rotation rules), `sim/operations.rs` (what the users do), `sim/invariants.rs` (what must
//! hold, with the precise definitions), `sim/schedule.rs` (one seeded run).
#![cfg(not(target_arch = "wasm32"))]

mod sim {
    pub mod atlassian;
    pub mod executor;
    pub mod invariants;
    pub mod operations;
    pub mod schedule;
    pub mod world;
}

use std::collections::BTreeMap;
use std::time::Instant;

use sim::schedule::{run, Report};

/// Schedules in the bounded slice `cargo test` runs.
const DEFAULT_SCHEDULES: u64 = 500;
/// Trace lines printed for a failure (its end: where it went wrong).
const TRACE_TAIL: usize = 120;

fn env_u64(name: &str) -> Option<u64> {
    let raw = std::env::var(name).ok()?;
    Some(
        raw.trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name} must be a number, got {raw:?}")),
    )
}

fn print_failure(report: &Report, full: bool) {
    let v = report.violation.as_ref().expect("a failure");
    println!(
        "\nFAILED seed {} (k = {}, {} site(s), {}% faults): invariant {} ({}): {}",
        report.seed,
        report.contexts,
        report.sites,
        report.fault_percent,
        v.invariant as u8,
        v.tag,
        v.detail
    );
    println!(
        "  rerun: JIRA3LO_SIM_SEED={} cargo test --test sim -- --nocapture",
        report.seed
    );
    let skip = if full {
        0
    } else {
        report.trace.len().saturating_sub(TRACE_TAIL)
    };
    if skip > 0 {
        println!("  ... ({skip} earlier trace lines; rerun the seed for all of them)");
    }
    for line in &report.trace[skip..] {
        println!("  {line}");
    }
}

/// Reruns a failing seed with the trace on; the same violation must come back (determinism).
fn traced(report: &Report) -> Report {
    let again = run(report.seed, true);
    assert_eq!(
        again.violation, report.violation,
        "seed {} did not rerun identically",
        report.seed
    );
    again
}

#[test]
fn simulation() {
    if let Some(seed) = env_u64("JIRA3LO_SIM_SEED") {
        let report = run(seed, true);
        match &report.violation {
            Some(_) => {
                print_failure(&report, true);
                panic!("seed {seed} violates an invariant");
            }
            None => {
                for line in &report.trace {
                    println!("  {line}");
                }
                println!(
                    "seed {seed}: ok ({} steps, {} operations, k = {})",
                    report.steps, report.ops, report.contexts
                );
            }
        }
        return;
    }
    let schedules = env_u64("JIRA3LO_SIM_SCHEDULES").unwrap_or(DEFAULT_SCHEDULES);
    let start = env_u64("JIRA3LO_SIM_START_SEED").unwrap_or(0);
    let started = Instant::now();
    let (mut steps, mut ops) = (0u64, 0u64);
    // (invariant, tag) → (count, first failing report).
    let mut failures: BTreeMap<(u8, String), (u64, Report)> = BTreeMap::new();
    let mut failed = 0u64;
    for seed in start..start + schedules {
        let report = run(seed, false);
        steps += report.steps;
        ops += report.ops as u64;
        if let Some(v) = &report.violation {
            failed += 1;
            failures
                .entry((v.invariant as u8, v.tag.clone()))
                .or_insert((0, report))
                .0 += 1;
        }
    }
    for (_, first) in failures.values() {
        print_failure(&traced(first), false);
    }
    println!(
        "\nsim: {schedules} schedules (seeds {start}..{}), {ops} operations, {steps} steps in {:.1} s: {failed} failed",
        start + schedules,
        started.elapsed().as_secs_f64()
    );
    for ((invariant, tag), (count, first)) in &failures {
        println!(
            "sim: invariant {invariant} ({tag}): {count} schedule(s), first seed {}",
            first.seed
        );
    }
    assert_eq!(
        failed, 0,
        "{failed} of {schedules} schedules violate an invariant"
    );
}
