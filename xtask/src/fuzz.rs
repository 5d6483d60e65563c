//! `cargo xtask fuzz [--secs N] [TARGET...]`: coverage-guided fuzzing of every parser that
//! reads outside input (the targets of `fuzz/src/lib.rs`), with libFuzzer, one target after
//! the other for N seconds each (default 60), on one core.
//!
//! libFuzzer comes from the `libfuzzer-sys` crate (built from its C++ sources with the
//! machine's g++); the code under test gets the same SanitizerCoverage instrumentation
//! cargo-fuzz gives it, through stable `-C` flags: no nightly, no cargo-fuzz, no AFL++. The
//! build keeps overflow checks and debug assertions (`fuzz/Cargo.toml`'s release profile).
//!
//! Outside git, under `target/fuzz/`: `build/` (the instrumented build), `corpus/<target>/`
//! (what each run adds to the seeds of `fuzz/corpus/<target>/`, kept for the next run),
//! `artifacts/<target>/` (crashing inputs) and `logs/<target>.log` (libFuzzer's output).
//! `fuzz/dict/<target>.dict`, where it exists, is the target's libFuzzer dictionary.
//! A crash fails the command after the other targets have run; rerun one input with
//! `target/fuzz/build/<host>/release/<target> <file>`.

use crate::tools::{output, root, run as sh};
use crate::Result;
use std::path::{Path, PathBuf};
use std::process::Command;

/// SanitizerCoverage as cargo-fuzz sets it up for libFuzzer (without a sanitizer).
const RUSTFLAGS: &str = "-Cpasses=sancov-module \
    -Cllvm-args=-sanitizer-coverage-level=4 \
    -Cllvm-args=-sanitizer-coverage-inline-8bit-counters \
    -Cllvm-args=-sanitizer-coverage-pc-table \
    -Cllvm-args=-sanitizer-coverage-trace-compares \
    --cfg fuzzing";

struct Stats {
    target: String,
    execs: u64,
    per_sec: u64,
    crashes: usize,
    corpus: usize,
}

pub fn run(args: &[String]) -> Result {
    let mut secs: u64 = 60;
    let mut chosen = Vec::new();
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--secs" => {
                let v = it.next().ok_or("--secs needs a number")?;
                secs = v
                    .parse()
                    .map_err(|_| format!("--secs needs a number, got {v:?}"))?;
            }
            name if !name.starts_with('-') => chosen.push(name.to_string()),
            other => {
                return Err(format!(
                    "unknown argument {other:?} (usage: cargo xtask fuzz [--secs N] [TARGET...])"
                )
                .into())
            }
        }
    }
    let all = targets()?;
    if let Some(unknown) = chosen.iter().find(|t| !all.contains(t)) {
        return Err(format!("no fuzz target {unknown:?} (targets: {})", all.join(", ")).into());
    }
    let targets = if chosen.is_empty() { all } else { chosen };

    ensure_cxx()?;
    let host = output(Command::new("rustc").arg("-vV"))
        .and_then(|v| {
            v.lines()
                .find_map(|l| l.strip_prefix("host: ").map(str::to_string))
        })
        .ok_or("cannot read the host triple from `rustc -vV`")?;
    let out = root().join("target/fuzz");
    let mut build = Command::new("cargo");
    build
        .args(["build", "--locked", "--release", "--features", "libfuzzer"])
        .args(["--manifest-path", "fuzz/Cargo.toml", "--target", &host])
        .arg("--target-dir")
        .arg(out.join("build"))
        // The flags reach only the target's code (`--target`), not build scripts or macros.
        .env("RUSTFLAGS", RUSTFLAGS);
    for t in &targets {
        build.args(["--bin", t]);
    }
    sh(&mut build)?;

    let bin_dir = out.join("build").join(&host).join("release");
    let mut stats = Vec::new();
    for t in &targets {
        stats.push(fuzz_one(&bin_dir, &out, t, secs)?);
    }

    println!(
        "\n{:<22} {:>13} {:>9} {:>8} {:>7}",
        "target", "executions", "exec/s", "crashes", "corpus"
    );
    for s in &stats {
        println!(
            "{:<22} {:>13} {:>9} {:>8} {:>7}",
            s.target, s.execs, s.per_sec, s.crashes, s.corpus
        );
    }
    let crashed: Vec<&str> = stats
        .iter()
        .filter(|s| s.crashes > 0)
        .map(|s| s.target.as_str())
        .collect();
    if !crashed.is_empty() {
        return Err(format!(
            "crashes in {} (inputs under {})",
            crashed.join(", "),
            out.join("artifacts").display()
        )
        .into());
    }
    Ok(())
}

/// The targets: `fuzz/fuzz_targets/<name>.rs` (the smoke test checks they match the library's
/// `TARGETS` and corpora).
fn targets() -> Result<Vec<String>> {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(root().join("fuzz/fuzz_targets"))? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "rs") {
            names.push(path.file_stem().unwrap().to_string_lossy().into_owned());
        }
    }
    names.sort();
    Ok(names)
}

/// libFuzzer is C++: `libfuzzer-sys` builds it with the machine's C++ compiler.
fn ensure_cxx() -> Result {
    if output(Command::new("c++").arg("--version")).is_some() {
        return Ok(());
    }
    println!("installing g++ (libFuzzer is built from C++ sources)");
    let root_user = output(Command::new("id").arg("-u")).is_some_and(|u| u.trim() == "0");
    let apt = |args: &[&str]| {
        let mut cmd = if root_user {
            Command::new(args[0])
        } else {
            let mut c = Command::new("sudo");
            c.arg(args[0]);
            c
        };
        cmd.args(&args[1..])
            .env("DEBIAN_FRONTEND", "noninteractive");
        sh(&mut cmd)
    };
    apt(&["apt-get", "update", "-qq"])?;
    apt(&[
        "apt-get",
        "install",
        "-y",
        "-qq",
        "--no-install-recommends",
        "g++",
    ])
}

fn files_in(dir: &Path) -> usize {
    std::fs::read_dir(dir).map_or(0, |d| d.filter_map(|e| e.ok()).count())
}

/// The inputs libFuzzer wrote for a failure: a panic or signal, a hang, a memory blow-up.
fn failures_in(dir: &Path) -> usize {
    std::fs::read_dir(dir).map_or(0, |d| {
        d.filter_map(|e| e.ok())
            .filter(|e| {
                let name = e.file_name();
                let name = name.to_string_lossy();
                ["crash-", "timeout-", "oom-"]
                    .iter()
                    .any(|p| name.starts_with(p))
            })
            .count()
    })
}

/// One target for `secs` seconds; its executions, speed, crashes and corpus from libFuzzer's
/// final statistics.
fn fuzz_one(bin_dir: &Path, out: &Path, target: &str, secs: u64) -> Result<Stats> {
    let corpus: PathBuf = out.join("corpus").join(target);
    let artifacts = out.join("artifacts").join(target);
    let logs = out.join("logs");
    for dir in [&corpus, &artifacts, &logs] {
        std::fs::create_dir_all(dir)?;
    }
    let crashes_before = failures_in(&artifacts);
    let log_path = logs.join(format!("{target}.log"));
    let log = std::fs::File::create(&log_path)?;
    println!(
        "\n==> fuzz {target} for {secs} s (log: {})",
        log_path.display()
    );
    // nice: the fuzzer takes one core, and yields it to anything interactive.
    let mut fuzzer = Command::new("nice");
    fuzzer
        .arg("-n10")
        .arg(bin_dir.join(target))
        .arg(&corpus)
        .arg(root().join("fuzz/corpus").join(target))
        .arg(format!("-max_total_time={secs}"))
        .args([
            "-print_final_stats=1",
            "-max_len=8192",
            "-timeout=10",
            "-rss_limit_mb=2048",
        ])
        .arg(format!("-artifact_prefix={}/", artifacts.display()));
    let dict = root().join("fuzz/dict").join(format!("{target}.dict"));
    if dict.exists() {
        fuzzer.arg(format!("-dict={}", dict.display()));
    }
    let status = fuzzer
        .current_dir(root())
        .stdout(log.try_clone()?)
        .stderr(log)
        .status()
        .map_err(|e| format!("cannot start the {target} fuzzer: {e}"))?;
    let text = std::fs::read_to_string(&log_path)?;
    let stat = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim_start_matches(':').trim().parse::<u64>().ok())
            .unwrap_or(0)
    };
    let crashes = failures_in(&artifacts) - crashes_before;
    if !status.success() || crashes > 0 {
        let tail: Vec<&str> = text.lines().rev().take(30).collect();
        for line in tail.iter().rev() {
            println!("    {line}");
        }
    }
    if !status.success() && crashes == 0 {
        return Err(format!("the {target} fuzzer failed ({status}) without a crash input").into());
    }
    let s = Stats {
        target: target.to_string(),
        execs: stat("stat::number_of_executed_units"),
        per_sec: stat("stat::average_exec_per_sec"),
        crashes,
        corpus: files_in(&corpus),
    };
    println!(
        "<== {target}: {} executions, {} exec/s, {} crash(es), corpus {}",
        s.execs, s.per_sec, s.crashes, s.corpus
    );
    Ok(s)
}
