//! The bounded smoke of the fuzz targets (`cargo xtask test`): each target over its seed
//! corpus, then deterministic mutations of it (the same every run, so a failure reruns).
//! `JIRA3LO_FUZZ_SMOKE_RUNS` sets the mutations per target (default 20,000).

use std::path::Path;

fn seeds(target: &str) -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("corpus")
        .join(target);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let seeds: Vec<Vec<u8>> = files.iter().map(|f| std::fs::read(f).unwrap()).collect();
    assert!(!seeds.is_empty(), "no seeds in {}", dir.display());
    seeds
}

#[test]
fn every_target_survives_its_seeds_and_their_mutations() {
    let runs: usize = std::env::var("JIRA3LO_FUZZ_SMOKE_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    for (seed_no, &(name, target)) in jira_3lo_fuzz::TARGETS.iter().enumerate() {
        let started = std::time::Instant::now();
        let seeds = seeds(name);
        for s in &seeds {
            target(s);
        }
        let mut m = jira_3lo_fuzz::Mutator::new(seed_no as u64 + 1);
        let mut pool = seeds.clone();
        for i in 0..runs {
            let input = m.mutate(&pool[i % pool.len()], &seeds[(i / 7) % seeds.len()]);
            let result = std::panic::catch_unwind(|| target(&input));
            if result.is_err() {
                panic!(
                    "{name}: mutation {i} failed on input {:?}",
                    String::from_utf8_lossy(&input)
                );
            }
            // Keep some mutants to mutate further (bounded), as a fuzzer's corpus grows.
            if i % 16 == 0 && input.len() < 4096 {
                if pool.len() < 256 {
                    pool.push(input);
                } else {
                    let at = i % pool.len();
                    pool[at] = input;
                }
            }
        }
        println!(
            "{name}: {} seeds + {runs} mutations in {:.2} s",
            seeds.len(),
            started.elapsed().as_secs_f64()
        );
    }
}

/// `cargo xtask fuzz` runs the binaries of `fuzz_targets/`: one per target of the library,
/// each with its `[[bin]]` and its seed corpus.
#[test]
fn every_target_has_a_binary_and_seeds() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut bins: Vec<String> = std::fs::read_dir(root.join("fuzz_targets"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "rs"))
        .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    bins.sort();
    let mut names: Vec<String> = jira_3lo_fuzz::TARGETS
        .iter()
        .map(|(n, _)| n.to_string())
        .collect();
    names.sort();
    assert_eq!(bins, names);
    let manifest = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
    for name in &names {
        let source = std::fs::read_to_string(root.join(format!("fuzz_targets/{name}.rs"))).unwrap();
        assert!(
            source.contains(&format!("jira_3lo_fuzz::{name}(data)")),
            "{name}"
        );
        assert!(manifest.contains(&format!("name = \"{name}\"")), "{name}");
        assert!(!seeds(name).is_empty());
    }
}

/// The broker's seeds are real: the proof verifies, the sealed strings open under the fuzz
/// key, the grant bodies are accepted. A seed that stopped being one (the fuzz module's fixed
/// URL, time or key changed) would leave the fuzzer stuck at the first check.
#[test]
fn the_broker_seeds_are_accepted() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
    let read = |path: &str| std::fs::read(root.join(path)).unwrap();
    for seed in ["valid", "valid_htu_query_port"] {
        assert!(
            jira_3lo_broker::fuzz::dpop_proof(&read(&format!("dpop_proof/{seed}"))),
            "{seed}"
        );
    }
    for seed in ["iat_skew", "htm_get", "other_key_jwk", "alg_none"] {
        assert!(
            !jira_3lo_broker::fuzz::dpop_proof(&read(&format!("dpop_proof/{seed}"))),
            "{seed}"
        );
    }
    for seed in [
        "ticket",
        "refresh",
        "state",
        "refresh_not_json",
        "ticket_sealed_as_state",
    ] {
        assert!(
            jira_3lo_broker::fuzz::open_sealed(&read(&format!("open_sealed/{seed}"))),
            "{seed}"
        );
    }
    for seed in ["other_kid", "other_key"] {
        assert!(
            !jira_3lo_broker::fuzz::open_sealed(&read(&format!("open_sealed/{seed}"))),
            "{seed}"
        );
    }
    for seed in ["ticket_json", "ticket_form", "refresh_json", "refresh_form"] {
        let data = read(&format!("grant_body/{seed}"));
        let (ct, body) = std::str::from_utf8(&data)
            .unwrap()
            .split_once('\n')
            .unwrap();
        assert!(
            jira_3lo_broker::fuzz::grant_body(Some(ct), body.as_bytes()),
            "{seed}"
        );
    }
    for seed in [
        "authorization_code",
        "client_secret_form",
        "duplicate_form",
        "no_content_type",
    ] {
        let data = read(&format!("grant_body/{seed}"));
        let (ct, body) = std::str::from_utf8(&data)
            .unwrap()
            .split_once('\n')
            .unwrap();
        let ct = Some(ct).filter(|c| !c.is_empty());
        assert!(
            !jira_3lo_broker::fuzz::grant_body(ct, body.as_bytes()),
            "{seed}"
        );
    }
}
