//! Load measurement (not a timed test): refresh_token grants per second directly against the
//! fake Atlassian and through the broker, in the same run, with the same number of virtual
//! clients. Direct: each client refreshes its raw token with the app's credentials. Broker: each
//! client has a P-256 key of its own, signs in through the broker for a sealed blob, and signs a
//! fresh DPoP proof (new jti, current iat) for every refresh. The signing is timed apart and kept
//! out of the latencies, but it runs in this process, so it is in the broker path's throughput
//! and CPU; its cost alone, and the broker's proof verification alone, are printed first.
//!
//! `cargo bench -p jira-3lo-broker --bench load` (or `cargo xtask bench broker`).
//! Knobs (environment): BENCH_CLIENTS (concurrent virtual clients, default 8),
//! BENCH_REQUESTS (refreshes per path per round, default 2000), BENCH_ROUNDS (default 4),
//! BENCH_UPSTREAM_DELAY_MS (run B's upstream delay, default 2).
//! Budget (set for the pass-through broker): keep >= 70% of the direct throughput and add < 1 ms
//! at the median. With DPoP and sealing the broker does NOT meet it: an ES256 verification per
//! refresh (~200 us in the pure-Rust p256 crate here) makes run C ~4% of direct and adds ~3-4 ms
//! at the median under 8 clients (see the crate README). The output says OVER BUDGET per figure.
//! Three runs: A (everything shares both cores: a CPU-cost comparison), B (the upstream 2 ms
//! away), C (the broker on a core of its own, as deployed; see `isolated_cores`).

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use fake_atlassian::FakeConfig;
use jira_3lo_broker::{BrokerConfig, RunningBroker};
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::{Duration, Instant};

const CLIENT_ID: &str = "demo-client";
const CLIENT_SECRET: &str = "demo-secret";
/// The client redirect the broker's callback forwards tickets to (never fetched: the bench
/// reads the ticket from the `Location` fragment).
const REDIRECT_URI: &str = "https://bench.example/callback";
/// Proofs signed alone, before the runs, for the client's signing cost.
const PROOF_SAMPLES: usize = 2000;

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

/// A virtual client's P-256 key pair and its DPoP proofs (RFC 9449, ES256), built as the
/// broker's integration tests build them (`tests/support`). The header (with the public JWK) is
/// encoded once per key, as a client caches it; each proof gets a fresh `jti` and `iat`.
struct ProofKey {
    signing: SigningKey,
    header_b64: String,
}

impl ProofKey {
    fn generate() -> ProofKey {
        let signing = loop {
            let mut seed = [0u8; 32];
            getrandom::getrandom(&mut seed).expect("randomness");
            if let Ok(signing) = SigningKey::from_slice(&seed) {
                break signing;
            }
        };
        let point = signing.verifying_key().to_encoded_point(false);
        let jwk = json!({"kty": "EC", "crv": "P-256",
                         "x": B64.encode(point.x().unwrap()), "y": B64.encode(point.y().unwrap())});
        let header = json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": jwk});
        ProofKey {
            signing,
            header_b64: B64.encode(header.to_string()),
        }
    }

    /// A fresh proof for `POST htu`: iat now, a random 128-bit jti.
    fn proof(&self, htu: &str) -> String {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock after 1970")
            .as_secs();
        self.proof_at(htu, now)
    }

    /// A proof for `POST htu` issued at `iat`, with a random 128-bit jti.
    fn proof_at(&self, htu: &str, iat: u64) -> String {
        let mut jti = [0u8; 16];
        getrandom::getrandom(&mut jti).expect("randomness");
        let claims = json!({"htm": "POST", "htu": htu, "iat": iat, "jti": B64.encode(jti)});
        let input = format!("{}.{}", self.header_b64, B64.encode(claims.to_string()));
        let signature: Signature = self.signing.sign(input.as_bytes());
        format!("{input}.{}", B64.encode(signature.to_bytes()))
    }
}

/// One virtual client on one path: its current refresh token (raw from the fake on the direct
/// path, the broker's sealed blob on the broker path) and, on the broker path, its proof key.
struct Family {
    token: String,
    key: Option<Arc<ProofKey>>,
}

/// Median and p99 of a set of durations, in microseconds.
fn median_p99_us(mut samples: Vec<Duration>) -> (f64, f64) {
    samples.sort();
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    (
        us(percentile(&samples, 0.5)),
        us(percentile(&samples, 0.99)),
    )
}

/// One refresh; returns the rotated refresh token (raw or sealed).
async fn refresh_once(
    client: &reqwest::Client,
    target: &Target,
    refresh_token: &str,
    proof: Option<&str>,
) -> String {
    let body = match target.mode {
        Mode::Direct => json!({
            "grant_type": "refresh_token", "refresh_token": refresh_token,
            "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
        }),
        Mode::Broker => json!({"grant_type": "refresh_token", "refresh_token": refresh_token}),
    };
    let mut request = client.post(&target.token_url).json(&body);
    if let Some(proof) = proof {
        request = request.header("dpop", proof);
    }
    let response = request.send().await.expect("token request");
    let status = response.status();
    let value: Value = response.json().await.expect("JSON token response");
    assert!(
        status.is_success(),
        "{:?} refresh failed with {status}: {} ({})",
        target.mode,
        value["error"],
        value["error_description"]
    );
    value["refresh_token"]
        .as_str()
        .expect("rotated refresh token")
        .to_string()
}

/// Where a 302 points.
fn location(response: &reqwest::Response) -> String {
    assert_eq!(response.status(), 302, "expected a redirect");
    response
        .headers()
        .get("location")
        .expect("a Location header")
        .to_str()
        .expect("an ASCII Location")
        .to_string()
}

/// A token family of its own for each virtual client on the direct path (rotation makes
/// families unshareable): the fake's consent and code exchange with the app's credentials, as
/// a confidential client would do it. The fake has one callback URL, the broker's; the bench
/// reads the code from the redirect and never follows it.
async fn new_family(client: &reqwest::Client, fake_url: &str, callback_url: &str) -> Family {
    let response = client
        .get(format!("{fake_url}/authorize"))
        .query(&[
            ("audience", "api.atlassian.com"),
            ("client_id", CLIENT_ID),
            ("scope", "read:jira-work offline_access"),
            ("redirect_uri", callback_url),
            ("state", "bench"),
            ("response_type", "code"),
            ("prompt", "consent"),
        ])
        .send()
        .await
        .expect("authorize");
    let code = url::Url::parse(&location(&response))
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .expect("code");
    let response = client
        .post(format!("{fake_url}/oauth/token"))
        .json(&json!({
            "grant_type": "authorization_code", "code": code, "redirect_uri": callback_url,
            "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
        }))
        .send()
        .await
        .expect("exchange");
    let value: Value = response.json().await.unwrap();
    Family {
        token: value["refresh_token"]
            .as_str()
            .expect("refresh token")
            .to_string(),
        key: None,
    }
}

/// A virtual client on the broker path: a key of its own, the sign-in through the broker
/// (`POST /v1/authorize` with a proof → the fake's auto-consent → the broker's callback →
/// `{redirect}#ticket=…`) and the ticket's redemption with a proof, for a sealed blob.
async fn sign_in(client: &reqwest::Client, broker_url: &str, index: usize) -> Family {
    let key = Arc::new(ProofKey::generate());
    let authorize = format!("{broker_url}/v1/authorize");
    let state = format!("bench-{index}");
    let response = client
        .post(&authorize)
        .header("dpop", key.proof(&authorize))
        .json(&json!({"redirect_uri": REDIRECT_URI, "state": state}))
        .send()
        .await
        .expect("broker authorize");
    let status = response.status();
    let value: Value = response.json().await.expect("JSON authorize answer");
    assert!(status.is_success(), "authorize refused: {status} {value}");
    let authorize_url = value["authorize_url"].as_str().expect("authorize_url");
    // The fake's auto-consent sends the browser to the broker's callback...
    let callback = location(&client.get(authorize_url).send().await.expect("consent"));
    // ...which answers with the client redirect, the ticket in its fragment.
    let redirect = location(&client.get(&callback).send().await.expect("callback"));
    let (base, fragment) = redirect.split_once('#').expect("a fragment");
    assert_eq!(base, REDIRECT_URI);
    let fields: Vec<(String, String)> = url::form_urlencoded::parse(fragment.as_bytes())
        .into_owned()
        .collect();
    let field = |name: &str| {
        fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    assert_eq!(
        field("state").as_deref(),
        Some(state.as_str()),
        "{redirect}"
    );
    let ticket = field("ticket").unwrap_or_else(|| panic!("no ticket: {redirect}"));
    let token_url = format!("{broker_url}/oauth/token");
    let response = client
        .post(&token_url)
        .header("dpop", key.proof(&token_url))
        .json(&json!({"grant_type": jira_3lo_broker::TICKET_GRANT, "ticket": ticket}))
        .send()
        .await
        .expect("redeem");
    let status = response.status();
    let value: Value = response.json().await.expect("JSON token response");
    assert!(status.is_success(), "redemption refused: {status} {value}");
    Family {
        token: value["refresh_token"]
            .as_str()
            .expect("a sealed refresh token")
            .to_string(),
        key: Some(key),
    }
}

/// Runs `total` refreshes spread over the clients concurrently; returns (elapsed, latencies,
/// signing times). On the broker path each client signs a fresh proof before each request:
/// that is in the elapsed time (the client must do it) but not in the request's latency, which
/// starts once the proof is ready; the signing times are returned apart.
async fn phase(
    client: &reqwest::Client,
    target: &Arc<Target>,
    families: &mut [Family],
    total: usize,
) -> (Duration, Vec<Duration>, Vec<Duration>) {
    let per_client = total / families.len();
    let started = Instant::now();
    let tasks: Vec<_> = families
        .iter()
        .map(|family| {
            let (client, target) = (client.clone(), target.clone());
            let (mut token, key) = (family.token.clone(), family.key.clone());
            tokio::spawn(async move {
                let mut latencies = Vec::with_capacity(per_client);
                let mut signing = Vec::new();
                for _ in 0..per_client {
                    let proof = key.as_ref().map(|key| {
                        let t = Instant::now();
                        let proof = key.proof(&target.token_url);
                        signing.push(t.elapsed());
                        proof
                    });
                    let t = Instant::now();
                    token = refresh_once(&client, &target, &token, proof.as_deref()).await;
                    latencies.push(t.elapsed());
                }
                (token, latencies, signing)
            })
        })
        .collect();
    let mut all = Vec::with_capacity(total);
    let mut all_signing = Vec::new();
    for (family, task) in families.iter_mut().zip(tasks) {
        let (token, latencies, signing) = task.await.expect("client task");
        family.token = token;
        all.extend(latencies);
        all_signing.extend(signing);
    }
    (started.elapsed(), all, all_signing)
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
    /// Raw refresh tokens from the fake, refreshed with the app's credentials.
    direct_families: Vec<Family>,
    /// Sealed blobs from the broker, each refreshed with a proof from its client's key.
    broker_families: Vec<Family>,
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
        direct_families,
        broker_families,
        requests,
        rounds,
    } = setup;
    println!("\n== {title}");
    // Warm-up: connections, pools and allocator for both paths; not measured.
    let warmup = (*requests / 10).max(direct_families.len());
    phase(client, direct, direct_families, warmup).await;
    phase(client, brokered, broker_families, warmup).await;

    let empty = || Totals {
        elapsed: Duration::ZERO,
        cpu: cpu_time().map(|_| Duration::ZERO),
        latencies: Vec::new(),
    };
    let mut totals = [empty(), empty()];
    let mut signing = Vec::new();
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
            let families = match target.mode {
                Mode::Direct => &mut *direct_families,
                Mode::Broker => &mut *broker_families,
            };
            let (elapsed, latencies, signed) = phase(client, target, families, *requests).await;
            signing.extend(signed);
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
    let (sign_med, sign_p99) = median_p99_us(signing);
    println!(
        "  client proof signing under this load: median {sign_med:.0} us, p99 {sign_p99:.0} us per proof \
         (in the broker path's elapsed time and CPU, not in its latencies)"
    );
    // The process CPU of the broker path, less what the direct path costs (load generator +
    // fake) and less the client's signing (its median: the mean would count preemptions as
    // CPU): about what the broker itself spends per grant.
    if let (Some(b), Some(d)) = (
        broker_totals.cpu_us_per_grant(),
        direct_totals.cpu_us_per_grant(),
    ) {
        let own = b - d - sign_med;
        println!(
            "  broker's own CPU per grant (broker path - direct path - median signing): ~{own:.0} us, \
             i.e. ~{:.0} grants/s per core",
            1e6 / own.max(1.0)
        );
    }
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
    let (proof_med, proof_p99) = proof_signing_cost();
    println!(
        "client proof signing (ES256, p256 crate, release; claims + base64url + signature), alone on one thread: \
         median {proof_med:.0} us, p99 {proof_p99:.0} us per proof over {PROOF_SAMPLES} proofs. \
         Each broker-path refresh signs one inline: counted in that path's throughput and CPU, \
         not in its latencies"
    );
    let (verify_med, verify_p99) = proof_verification_cost();
    println!(
        "broker proof verification (dpop::verify: parse, JWK, thumbprint, ES256 signature, claims), alone on one thread: \
         median {verify_med:.0} us, p99 {verify_p99:.0} us per proof (part of every broker-path grant)"
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
        "  (the broker path's throughput includes the client signing a proof per refresh, median {proof_med:.0} us alone; \
         the broker verifies each one, median {verify_med:.0} us alone)"
    );
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

/// The client's cost of one proof, measured alone (after a short warm-up): (median, p99) in µs.
fn proof_signing_cost() -> (f64, f64) {
    let key = ProofKey::generate();
    let htu = "http://127.0.0.1:8787/oauth/token";
    for _ in 0..PROOF_SAMPLES / 10 {
        std::hint::black_box(key.proof(htu));
    }
    let samples = (0..PROOF_SAMPLES)
        .map(|_| {
            let t = Instant::now();
            std::hint::black_box(key.proof(htu));
            t.elapsed()
        })
        .collect();
    median_p99_us(samples)
}

/// The broker's own proof check, alone: `jira_3lo_broker::fuzz::dpop_proof` runs the same
/// `dpop::verify` as `POST /oauth/token` (parse, JWK, thumbprint, ES256 signature, claims) at a
/// fixed URL and time, without the replay cache or HTTP. (median, p99) in µs.
fn proof_verification_cost() -> (f64, f64) {
    const FUZZ_HTU: &str = "http://127.0.0.1:8787/oauth/token";
    const FUZZ_NOW: u64 = 1_800_000_000;
    let key = ProofKey::generate();
    let proofs: Vec<String> = (0..PROOF_SAMPLES)
        .map(|_| key.proof_at(FUZZ_HTU, FUZZ_NOW))
        .collect();
    for proof in &proofs[..PROOF_SAMPLES / 10] {
        assert!(jira_3lo_broker::fuzz::dpop_proof(proof.as_bytes()));
    }
    let samples = proofs
        .iter()
        .map(|proof| {
            let t = Instant::now();
            let ok = jira_3lo_broker::fuzz::dpop_proof(std::hint::black_box(proof.as_bytes()));
            let elapsed = t.elapsed();
            assert!(ok, "the broker refused a bench proof");
            elapsed
        })
        .collect();
    median_p99_us(samples)
}

/// The fake with no callback yet: [`prepare`] registers the broker's.
async fn spawn_fake() -> fake_atlassian::RunningFake {
    fake_atlassian::spawn(FakeConfig::default())
        .await
        .expect("fake")
}

/// The broker on the current runtime, with a sealing key of its own as deployed (a random one
/// per process, without the missing-key warning).
async fn spawn_broker(fake_url: &str) -> RunningBroker {
    let mut sealing_key = [0u8; 32];
    getrandom::getrandom(&mut sealing_key).expect("randomness");
    jira_3lo_broker::spawn(
        BrokerConfig::new(fake_url, CLIENT_ID, CLIENT_SECRET)
            .allow_redirect_uri(REDIRECT_URI)
            .sealing_key("bench", sealing_key)
            // One load generator on one address: the per-address limiter would only measure itself.
            .rate_limit_per_minute(0),
    )
    .await
    .expect("broker")
}

/// The load generator's client, the broker's callback registered at the fake, and per
/// virtual client one token family on each path.
async fn prepare(
    fake_url: &str,
    broker: &RunningBroker,
    clients: usize,
    requests: usize,
    rounds: usize,
) -> Setup {
    let client = reqwest::Client::builder()
        // Authorize and callback answer 302s: read them, don't follow them.
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(clients * 2)
        .tcp_nodelay(true)
        .build()
        .expect("client");
    // The broker's callback is the fake app's one callback URL, as at Atlassian.
    let response = client
        .post(format!("{fake_url}/__admin/callback-url"))
        .json(&json!({"uri": broker.callback_url}))
        .send()
        .await
        .expect("callback registration");
    assert!(
        response.status().is_success(),
        "callback registration refused: {}",
        response.status()
    );
    let mut direct_families = Vec::with_capacity(clients);
    let mut broker_families = Vec::with_capacity(clients);
    for index in 0..clients {
        direct_families.push(new_family(&client, fake_url, &broker.callback_url).await);
        broker_families.push(sign_in(&client, &broker.base_url, index).await);
    }
    Setup {
        direct: Arc::new(Target {
            token_url: format!("{fake_url}/oauth/token"),
            mode: Mode::Direct,
        }),
        brokered: Arc::new(Target {
            token_url: format!("{}/oauth/token", broker.base_url),
            mode: Mode::Broker,
        }),
        client,
        direct_families,
        broker_families,
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
    let broker = rx.recv().ok().flatten()?;
    let result = runtime.block_on(async {
        let mut setup = prepare(&fake.base_url, &broker, clients, requests, rounds).await;
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
