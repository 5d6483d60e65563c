//! Load measurement (not a timed test): refresh_token grants per second directly against the
//! fake Atlassian and through the broker, in the same run, with the same virtual clients.
//!
//! `cargo bench -p jira-3lo-broker --bench load` (or `cargo xtask bench broker`).
//! Knobs (environment): BENCH_CLIENTS (concurrent virtual clients, default 8),
//! BENCH_REQUESTS (refreshes per path per round, default 2000), BENCH_ROUNDS (default 4),
//! BENCH_UPSTREAM_DELAY_MS (run B's upstream delay, default 2).
//! Budget: the broker keeps >= 70% of the direct throughput and adds < 1 ms at the median.
//! Three runs: A (everything shares both cores: a CPU-cost comparison), B (the upstream 2 ms
//! away), C (the broker on a core of its own, as deployed; see `isolated_cores`).

use fake_atlassian::FakeConfig;
use jira_3lo_broker::BrokerConfig;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::{Duration, Instant};

const CLIENT_ID: &str = "demo-client";
const CLIENT_SECRET: &str = "demo-secret";
const REDIRECT_URI: &str = "https://bench.example/callback";

fn knob(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&v| v > 0)
        .unwrap_or(default)
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Mode {
    Direct,
    Broker,
}

struct Target {
    token_url: String,
    mode: Mode,
}

/// One refresh; returns the rotated refresh token.
async fn refresh_once(client: &reqwest::Client, target: &Target, refresh_token: &str) -> String {
    let body = match target.mode {
        Mode::Direct => json!({
            "grant_type": "refresh_token", "refresh_token": refresh_token,
            "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
        }),
        Mode::Broker => json!({"grant_type": "refresh_token", "refresh_token": refresh_token}),
    };
    let response = client
        .post(&target.token_url)
        .json(&body)
        .send()
        .await
        .expect("token request");
    let status = response.status();
    let value: Value = response.json().await.expect("JSON token response");
    assert!(
        status.is_success(),
        "{:?} refresh failed with {status}: {}",
        target.mode,
        value["error"]
    );
    value["refresh_token"]
        .as_str()
        .expect("rotated refresh token")
        .to_string()
}

/// A token family of its own for each virtual client (rotation makes families unshareable).
async fn new_family(client: &reqwest::Client, fake_url: &str) -> String {
    let response = client
        .get(format!("{fake_url}/authorize"))
        .query(&[
            ("audience", "api.atlassian.com"),
            ("client_id", CLIENT_ID),
            ("scope", "read:jira-work offline_access"),
            ("redirect_uri", REDIRECT_URI),
            ("state", "bench"),
            ("response_type", "code"),
            ("prompt", "consent"),
        ])
        .send()
        .await
        .expect("authorize");
    let location = response
        .headers()
        .get("location")
        .expect("authorize redirects")
        .to_str()
        .unwrap()
        .to_string();
    let code = url::Url::parse(&location)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .expect("code");
    let response = client
        .post(format!("{fake_url}/oauth/token"))
        .json(&json!({
            "grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI,
            "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
        }))
        .send()
        .await
        .expect("exchange");
    let value: Value = response.json().await.unwrap();
    value["refresh_token"]
        .as_str()
        .expect("refresh token")
        .to_string()
}

/// Runs `total` refreshes spread over the clients concurrently; returns (elapsed, latencies).
async fn phase(
    client: &reqwest::Client,
    target: &Arc<Target>,
    families: &mut [String],
    total: usize,
) -> (Duration, Vec<Duration>) {
    let per_client = total / families.len();
    let started = Instant::now();
    let tasks: Vec<_> = families
        .iter()
        .map(|token| {
            let (client, target, mut token) = (client.clone(), target.clone(), token.clone());
            tokio::spawn(async move {
                let mut latencies = Vec::with_capacity(per_client);
                for _ in 0..per_client {
                    let t = Instant::now();
                    token = refresh_once(&client, &target, &token).await;
                    latencies.push(t.elapsed());
                }
                (token, latencies)
            })
        })
        .collect();
    let mut all = Vec::with_capacity(total);
    for (slot, task) in families.iter_mut().zip(tasks) {
        let (token, latencies) = task.await.expect("client task");
        *slot = token;
        all.extend(latencies);
    }
    (started.elapsed(), all)
}

/// CPU time this process has used (user + system), from /proc; None where unavailable.
fn cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the parenthesised command name; utime and stime are the 12th and 13th.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    // USER_HZ is 100 on every Linux ABI in use.
    Some(Duration::from_millis(ticks * 10))
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

struct Totals {
    elapsed: Duration,
    cpu: Option<Duration>,
    latencies: Vec<Duration>,
}

impl Totals {
    fn rate(&self) -> f64 {
        self.latencies.len() as f64 / self.elapsed.as_secs_f64()
    }

    /// CPU microseconds the whole process (load generator + broker + fake) spent per grant.
    fn cpu_us_per_grant(&self) -> Option<f64> {
        self.cpu
            .map(|cpu| cpu.as_secs_f64() * 1e6 / self.latencies.len() as f64)
    }
}

struct Setup {
    client: reqwest::Client,
    direct: Arc<Target>,
    brokered: Arc<Target>,
    families: Vec<String>,
    requests: usize,
    rounds: usize,
}

/// Warm-up, then `rounds` alternating phases per path; prints the per-round and total figures.
/// Returns (throughput ratio, added median ms).
async fn scenario(setup: &mut Setup, title: &str) -> (f64, f64) {
    let Setup {
        client,
        direct,
        brokered,
        families,
        requests,
        rounds,
    } = setup;
    println!("\n== {title}");
    // Warm-up: connections, pools and allocator for both paths; not measured.
    let warmup = (*requests / 10).max(families.len());
    phase(client, direct, families, warmup).await;
    phase(client, brokered, families, warmup).await;

    let empty = || Totals {
        elapsed: Duration::ZERO,
        cpu: cpu_time().map(|_| Duration::ZERO),
        latencies: Vec::new(),
    };
    let mut totals = [empty(), empty()];
    // Alternate which path goes first so drift (other load on the machine) hits both alike.
    for round in 0..*rounds {
        let order = if round % 2 == 0 {
            [&*direct, &*brokered]
        } else {
            [&*brokered, &*direct]
        };
        let mut rates = [0.0; 2];
        for target in order {
            let cpu_before = cpu_time();
            let (elapsed, latencies) = phase(client, target, families, *requests).await;
            let slot = &mut totals[target.mode as usize];
            slot.cpu = match (slot.cpu, cpu_before, cpu_time()) {
                (Some(sum), Some(before), Some(after)) => Some(sum + after.saturating_sub(before)),
                _ => None,
            };
            rates[target.mode as usize] = latencies.len() as f64 / elapsed.as_secs_f64();
            slot.elapsed += elapsed;
            slot.latencies.extend(latencies);
        }
        println!(
            "  round {}: direct {:>6.0}/s  broker {:>6.0}/s  ratio {:.1}%",
            round + 1,
            rates[0],
            rates[1],
            rates[1] / rates[0] * 100.0
        );
    }

    let [direct_totals, broker_totals] = &mut totals;
    direct_totals.latencies.sort();
    broker_totals.latencies.sort();
    let (d_med, b_med) = (
        percentile(&direct_totals.latencies, 0.5),
        percentile(&broker_totals.latencies, 0.5),
    );
    let (d_p99, b_p99) = (
        percentile(&direct_totals.latencies, 0.99),
        percentile(&broker_totals.latencies, 0.99),
    );
    let ratio = broker_totals.rate() / direct_totals.rate();
    let added_median_ms = ms(b_med) - ms(d_med);
    for (name, totals, med, p99) in [
        ("direct (fake)", &*direct_totals, d_med, d_p99),
        ("through broker", &*broker_totals, b_med, b_p99),
    ] {
        println!(
            "  {name:<16} {:>8.0} refreshes/s   median {:.3} ms   p99 {:.3} ms   ({} grants{})",
            totals.rate(),
            ms(med),
            ms(p99),
            totals.latencies.len(),
            totals
                .cpu_us_per_grant()
                .map(|us| format!(", {us:.0} us CPU/grant"))
                .unwrap_or_default()
        );
    }
    println!("  ratio broker/direct   {:.1}%", ratio * 100.0);
    println!("  added median latency  {added_median_ms:.3} ms");
    (ratio, added_median_ms)
}

fn main() {
    // `cargo bench` passes `--bench`; there are no other arguments.
    let clients = knob("BENCH_CLIENTS", 8);
    let requests = knob("BENCH_REQUESTS", 2000).max(clients);
    let rounds = knob("BENCH_ROUNDS", 4);
    let upstream_delay_ms = knob("BENCH_UPSTREAM_DELAY_MS", 2);
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    println!(
        "broker load: {clients} concurrent keep-alive clients, {rounds} rounds x {requests} refresh_token grants per path, \
         load generator + broker + fake in one process on {cores} cores; the broker logs as deployed \
         (one JSON line per request at info, written to /dev/null)"
    );
    // The binary's default logging (src/main.rs): the access log line is part of the broker's cost.
    let null = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/null")
        .expect("/dev/null");
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new("info"))
        .with_writer(std::sync::Mutex::new(null))
        .json()
        .flatten_event(true)
        .with_current_span(false)
        .init();

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let (ratio, added) = runtime.block_on(async move {
        let fake = spawn_fake().await;
        let broker = spawn_broker(&fake.base_url).await;
        let mut setup = prepare(&fake.base_url, &broker, clients, requests, rounds).await;
        let result =
            scenario(&mut setup, "A. loopback upstream, no added latency, all three sharing every core (CPU-bound)").await;

        // The same fake with a fixed delay on its token endpoint, like any upstream across a network.
        let faults = format!("{}/__admin/faults", fake.base_url);
        let response = setup
            .client
            .post(&faults)
            .json(&json!({"route": "POST /oauth/token", "count": 1_000_000_000u64, "fault": {"delay_ms": upstream_delay_ms}}))
            .send()
            .await
            .expect("fault");
        assert!(response.status().is_success(), "delay fault refused: {}", response.status());
        scenario(
            &mut setup,
            &format!("B. the fake's token endpoint delayed by {upstream_delay_ms} ms (fault injection), shared cores"),
        )
        .await;
        let _ = setup.client.delete(&faults).send().await;
        result
    });
    drop(runtime);

    let isolated = isolated_cores(clients, requests, rounds);

    println!("\nbudget: broker keeps >= 70% of direct throughput; adds < 1 ms at the median");
    println!(
        "  run A (shared cores):   {:.1}% {}   +{added:.3} ms {}",
        ratio * 100.0,
        verdict(ratio >= 0.70),
        verdict(added < 1.0)
    );
    match isolated {
        Some((ratio, added)) => println!(
            "  run C (broker's own core): {:.1}% {}   +{added:.3} ms {}",
            ratio * 100.0,
            verdict(ratio >= 0.70),
            verdict(added < 1.0)
        ),
        None => {
            println!("  run C (broker's own core): not run (needs 2 cores and sched_setaffinity)")
        }
    }
}

async fn spawn_fake() -> fake_atlassian::RunningFake {
    fake_atlassian::spawn(FakeConfig::default().allow_redirect_uri(CLIENT_ID, REDIRECT_URI))
        .await
        .expect("fake")
}

/// The broker on the current runtime; returns its base URL.
async fn spawn_broker(fake_url: &str) -> String {
    jira_3lo_broker::spawn(
        BrokerConfig::new(fake_url, CLIENT_ID, CLIENT_SECRET)
            .allow_redirect_uri(REDIRECT_URI)
            // One load generator on one address: the per-address limiter would only measure itself.
            .rate_limit_per_minute(0),
    )
    .await
    .expect("broker")
    .base_url
}

/// The load generator's client and one token family per virtual client.
async fn prepare(
    fake_url: &str,
    broker_url: &str,
    clients: usize,
    requests: usize,
    rounds: usize,
) -> Setup {
    let client = reqwest::Client::builder()
        // The authorize step answers 302 to the callback: read it, don't follow it.
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(clients * 2)
        .tcp_nodelay(true)
        .build()
        .expect("client");
    let mut families = Vec::with_capacity(clients);
    for _ in 0..clients {
        families.push(new_family(&client, fake_url).await);
    }
    Setup {
        direct: Arc::new(Target {
            token_url: format!("{fake_url}/oauth/token"),
            mode: Mode::Direct,
        }),
        brokered: Arc::new(Target {
            token_url: format!("{broker_url}/oauth/token"),
            mode: Mode::Broker,
        }),
        client,
        families,
        requests,
        rounds,
    }
}

/// Run C, the deployment model: the broker runs on a machine of its own, not on the CPU of its
/// client or of Atlassian. Here: the load generator and the fake are pinned to core 0 in both
/// phases, the broker to core 1, so the ratio says whether the broker keeps up with what the
/// client and the upstream can do, not how three programs split two cores (run A).
fn isolated_cores(clients: usize, requests: usize, rounds: usize) -> Option<(f64, f64)> {
    if std::thread::available_parallelism().map_or(true, |n| n.get() < 2) || !pin_to_core(0) {
        return None;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .on_thread_start(|| {
            pin_to_core(0);
        })
        .enable_all()
        .build()
        .expect("runtime");
    let fake = runtime.block_on(spawn_fake());
    let (tx, rx) = std::sync::mpsc::channel();
    let fake_url = fake.base_url.clone();
    let thread = std::thread::Builder::new().name("broker".into());
    let _ = thread.spawn(move || {
        if !pin_to_core(1) {
            let _ = tx.send(None);
            return;
        }
        let broker_runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("broker runtime");
        broker_runtime.block_on(async move {
            let _ = tx.send(Some(spawn_broker(&fake_url).await));
            std::future::pending::<()>().await
        });
    });
    let broker_url = rx.recv().ok().flatten()?;
    let result = runtime.block_on(async {
        let mut setup = prepare(&fake.base_url, &broker_url, clients, requests, rounds).await;
        scenario(
            &mut setup,
            "C. the broker on a core of its own; load generator + fake pinned to the other (deployment model)",
        )
        .await
    });
    Some(result)
}

/// Pins the calling thread to one core; false where the OS refuses (then run C is skipped).
fn pin_to_core(core: usize) -> bool {
    // SAFETY: `cpu_set_t` is plain data, zeroed is its empty set; the call only reads it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(core, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) == 0
    }
}

fn verdict(ok: bool) -> &'static str {
    if ok {
        "ok"
    } else {
        "OVER BUDGET"
    }
}
