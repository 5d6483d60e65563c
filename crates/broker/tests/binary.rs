//! The real `jira-3lo-broker` binary: the `listening on` line, settings from flags, environment
//! and config file, credentials only from the environment, and stderr logs free of secrets.

mod support;

use base64::Engine;
use serde_json::json;
use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::thread::JoinHandle;
use support::*;

const BIN: &str = env!("CARGO_BIN_EXE_jira-3lo-broker");

/// A running broker process; killed on drop. stderr is collected for inspection.
struct Proc {
    child: Child,
    base_url: String,
    stderr: Option<JoinHandle<String>>,
}

impl Proc {
    fn start(mut cmd: Command) -> Proc {
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .stdin(Stdio::null())
            .spawn()
            .unwrap();
        let mut stderr = child.stderr.take().unwrap();
        let stderr = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = stderr.read_to_string(&mut text);
            text
        });
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let base_url = match line.trim_end().strip_prefix("listening on ") {
            Some(url) => url.to_string(),
            None => {
                let _ = child.kill();
                panic!(
                    "unexpected first line {line:?}; stderr: {}",
                    stderr.join().unwrap()
                );
            }
        };
        assert!(base_url.starts_with("http://127.0.0.1:"), "{base_url}");
        assert!(!base_url.ends_with(":0"), "{base_url}");
        Proc {
            child,
            base_url,
            stderr: Some(stderr),
        }
    }

    /// Stops the process and returns everything it wrote to stderr.
    fn stop(mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.stderr.take().unwrap().join().unwrap()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A command with a clean environment for the broker's own variables.
fn broker_cmd() -> Command {
    let mut cmd = Command::new(BIN);
    for (key, _) in std::env::vars() {
        if key.starts_with("BROKER_") || key.starts_with("ATLASSIAN_") || key == "RUST_LOG" {
            cmd.env_remove(key);
        }
    }
    cmd
}

fn temp_file(name: &str, contents: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("jira-3lo-broker-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, contents).unwrap();
    path
}

#[tokio::test]
async fn binary_signs_in_and_refreshes_and_never_logs_a_secret() {
    let (client, fake) = (http(), fake().await);
    let sealing = base64::engine::general_purpose::STANDARD.encode(random_key());
    let mut cmd = broker_cmd();
    cmd.args(["--listen", "127.0.0.1:0", "--auth-base-url", &fake.base_url])
        .args([
            "--allowed-redirect-uri",
            REDIRECT_URI,
            "--allowed-origin",
            ORIGIN,
            "--log-format",
            "json",
        ])
        .env("ATLASSIAN_CLIENT_ID", CLIENT_ID)
        .env("ATLASSIAN_CLIENT_SECRET", CLIENT_SECRET)
        .env("BROKER_SEALING_KEYS", format!("bin1:{sealing}"))
        .env("RUST_LOG", "trace");
    let proc = Proc::start(cmd);
    let callback_url = format!("{}/oauth/callback", proc.base_url);
    register_callback(&client, &fake.base_url, &callback_url).await;
    let stack = Stack {
        client: client.clone(),
        fake,
        broker: jira_3lo_broker::RunningBroker {
            base_url: proc.base_url.clone(),
            metrics_url: format!("{}/metrics", proc.base_url),
            callback_url,
        },
    };
    let key = Key::generate();
    let ticket = stack.sign_in(&key).await.ticket.unwrap();
    let tokens = stack.redeem(&key, &ticket).await.json();
    let first_blob = tokens["refresh_token"].as_str().unwrap().to_string();
    assert!(first_blob.starts_with("bin1."), "{first_blob}");
    let answer = stack.refresh(&key, &first_blob).await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    let refreshed = answer.json();
    let refused = post_json_from(
        &client,
        &stack.token_url(),
        "https://evil.example",
        &json!({"grant_type": "refresh_token", "refresh_token": "leak-me-refresh"}),
    )
    .await;
    refused.assert_refusal(403, "origin_not_allowed");

    let stderr = proc.stop();
    let raw = issued_refresh_tokens(&client, &stack.fake.base_url).await;
    for secret in [
        CLIENT_SECRET,
        &sealing,
        &ticket,
        &first_blob,
        &raw[0],
        &raw[1],
        tokens["access_token"].as_str().unwrap(),
        refreshed["access_token"].as_str().unwrap(),
        refreshed["refresh_token"].as_str().unwrap(),
        CLIENT_STATE,
        "leak-me-refresh",
    ] {
        assert!(
            !stderr.contains(secret),
            "a secret value appears in the broker's stderr"
        );
    }
    // Structured: every line is a JSON object; the requests were logged with their outcome.
    let lines: Vec<serde_json::Value> = stderr
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|_| panic!("not a JSON log line: {l}")))
        .collect();
    let requests: Vec<_> = lines.iter().filter(|l| l["message"] == "request").collect();
    assert_eq!(requests.len(), 5, "{stderr}");
    assert!(requests
        .iter()
        .any(|l| l["grant_type"] == "authorization_code" && l["upstream_status"] == 200));
    assert!(requests
        .iter()
        .any(|l| l["error"] == "origin_not_allowed" && l["status"] == 403));
    assert!(
        lines
            .iter()
            .any(|l| l["callback_url"] == stack.broker.callback_url),
        "the callback URL to register is announced"
    );
    assert!(
        !lines.iter().any(|l| l["level"] == "WARN"
            && l["message"].as_str().is_some_and(|m| m.contains("sealing"))),
        "keys were configured"
    );
}

#[tokio::test]
async fn public_url_and_sealing_keys_come_from_the_environment() {
    let client = http();
    let (k1, k2) = (
        base64::engine::general_purpose::STANDARD.encode(random_key()),
        base64::engine::general_purpose::STANDARD.encode(random_key()),
    );
    let mut cmd = broker_cmd();
    cmd.args([
        "--listen",
        "127.0.0.1:0",
        "--allowed-redirect-uri",
        REDIRECT_URI,
    ])
    .env("ATLASSIAN_CLIENT_ID", "i")
    .env("ATLASSIAN_CLIENT_SECRET", "s")
    .env("BROKER_PUBLIC_URL", "https://broker.example")
    .env("BROKER_SEALING_KEYS", format!("new:{k1},old:{k2}"));
    let proc = Proc::start(cmd);
    let key = Key::generate();
    let answer = send(
        client
            .post(format!("{}/v1/authorize", proc.base_url))
            .header(
                "dpop",
                key.proof("POST", "https://broker.example/v1/authorize"),
            )
            .json(&json!({"redirect_uri": REDIRECT_URI, "state": "s"})),
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    let authorize_url = answer.json()["authorize_url"].as_str().unwrap().to_string();
    assert!(authorize_url.contains("redirect_uri=https%3A%2F%2Fbroker.example%2Foauth%2Fcallback"));
    assert!(
        authorize_url.contains("&state=new."),
        "sealed with the first key"
    );
    let stderr = proc.stop();
    assert!(!stderr.contains(&k1) && !stderr.contains(&k2));

    // Without keys: it starts, and warns that a restart signs everyone out.
    let mut cmd = broker_cmd();
    cmd.args(["--listen", "127.0.0.1:0"])
        .env("ATLASSIAN_CLIENT_ID", "i")
        .env("ATLASSIAN_CLIENT_SECRET", "s");
    let stderr = Proc::start(cmd).stop();
    assert!(
        stderr.contains("WARN") && stderr.contains("restart signs everyone out"),
        "{stderr}"
    );

    // Bad keys stop it, without echoing them.
    let mut cmd = broker_cmd();
    cmd.args(["--listen", "127.0.0.1:0"])
        .env("ATLASSIAN_CLIENT_ID", "i")
        .env("ATLASSIAN_CLIENT_SECRET", "s")
        .env("BROKER_SEALING_KEYS", "k:c2hvcnQta2V5LXZhbHVl");
    let (code, stdout, stderr) = run_to_exit(cmd);
    assert_eq!(code, 2);
    assert!(stdout.is_empty());
    assert!(stderr.contains("sealing keys"), "{stderr}");
    assert!(!stderr.contains("c2hvcnQta2V5LXZhbHVl"), "{stderr}");
    // A bad public URL too.
    let mut cmd = broker_cmd();
    cmd.args([
        "--listen",
        "127.0.0.1:0",
        "--public-url",
        "https://x.example/?q=1",
    ])
    .env("ATLASSIAN_CLIENT_ID", "i")
    .env("ATLASSIAN_CLIENT_SECRET", "s");
    let (code, _, stderr) = run_to_exit(cmd);
    assert_eq!(code, 2);
    assert!(stderr.contains("public URL"), "{stderr}");
}

#[tokio::test]
async fn settings_come_from_config_file_and_environment_with_flags_first() {
    let client = http();
    let config = temp_file(
        "config.json",
        &json!({
            "listen": "127.0.0.1:0",
            "auth_base_url": format!("http://127.0.0.1:{}", closed_port()),
            "allowed_redirect_uris": ["https://from-file.example/cb"],
            "allowed_origins": ["https://file-origin.example"],
            "scopes": ["read:jira-work", "offline_access"],
            "rate_limit_per_minute": 1,
            "log_format": "json"
        })
        .to_string(),
    );
    let secret_file = temp_file("secret", "file-secret-value\n");
    let mut cmd = broker_cmd();
    cmd.arg("--config")
        .arg(&config)
        .args(["--scope", "read:jira-user"])
        .env(
            "BROKER_ALLOWED_ORIGINS",
            "https://env-one.example,https://env-two.example",
        )
        .env("ATLASSIAN_CLIENT_ID", "file-client")
        .env("ATLASSIAN_CLIENT_SECRET_FILE", &secret_file);
    let proc = Proc::start(cmd);

    let info = get(&client, &format!("{}/v1/client", proc.base_url)).await;
    assert_eq!(
        info.json(),
        json!({
            "client_id": "file-client",
            "audience": "api.atlassian.com",
            "scopes": ["read:jira-user"],
            "redirect_uris": ["https://from-file.example/cb"],
        })
    );
    // The environment's origins replaced the file's.
    let from = |origin: &'static str| {
        client
            .get(format!("{}/v1/client", proc.base_url))
            .header("origin", origin)
    };
    assert_eq!(send(from("https://env-two.example")).await.status, 200);
    send(from("https://file-origin.example"))
        .await
        .assert_refusal(403, "origin_not_allowed");
    // rate_limit_per_minute 1 from the file: the second token request is limited.
    let body = json!({"grant_type": "refresh_token", "refresh_token": "r"});
    let token_url = format!("{}/oauth/token", proc.base_url);
    post_json(&client, &token_url, &body)
        .await
        .assert_refusal(400, "invalid_dpop_proof");
    post_json(&client, &token_url, &body)
        .await
        .assert_refusal(429, "rate_limited");

    let stderr = proc.stop();
    assert!(!stderr.contains("file-secret-value"));
    assert!(
        stderr
            .lines()
            .all(|l| serde_json::from_str::<serde_json::Value>(l).is_ok()),
        "{stderr}"
    );
}

fn run_to_exit(mut cmd: Command) -> (i32, String, String) {
    let out = cmd.stdin(Stdio::null()).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn credentials_are_never_taken_from_flags_or_the_config_file() {
    let mut cmd = broker_cmd();
    cmd.args(["--listen", "127.0.0.1:0", "--client-secret", "flag-secret"])
        .env("ATLASSIAN_CLIENT_ID", "x");
    let (code, stdout, stderr) = run_to_exit(cmd);
    assert_eq!(code, 2);
    assert!(stdout.is_empty());
    assert!(stderr.contains("--client-secret"), "{stderr}");

    let config = temp_file("with-secret.json", r#"{"client_secret":"file-secret"}"#);
    let mut cmd = broker_cmd();
    cmd.arg("--config")
        .arg(&config)
        .env("ATLASSIAN_CLIENT_ID", "x")
        .env("ATLASSIAN_CLIENT_SECRET", "s");
    let (code, stdout, stderr) = run_to_exit(cmd);
    assert_eq!(code, 2);
    assert!(stdout.is_empty());
    assert!(stderr.contains("client_secret"), "{stderr}");
    assert!(!stderr.contains("file-secret"), "{stderr}");
}

#[test]
fn missing_or_ambiguous_credentials_stop_the_binary_with_a_clear_message() {
    let cases: [(&[(&str, &str)], &str); 3] = [
        (&[("ATLASSIAN_CLIENT_SECRET", "s")], "ATLASSIAN_CLIENT_ID"),
        (&[("ATLASSIAN_CLIENT_ID", "i")], "ATLASSIAN_CLIENT_SECRET"),
        (
            &[
                ("ATLASSIAN_CLIENT_ID", "i"),
                ("ATLASSIAN_CLIENT_SECRET", "env-secret"),
                ("ATLASSIAN_CLIENT_SECRET_FILE", "/nonexistent"),
            ],
            "only one",
        ),
    ];
    for (env, expected) in cases {
        let mut cmd = broker_cmd();
        cmd.args(["--listen", "127.0.0.1:0"])
            .envs(env.iter().copied());
        let (code, stdout, stderr) = run_to_exit(cmd);
        assert_eq!(code, 2, "{stderr}");
        assert!(stdout.is_empty(), "must not announce an address: {stdout}");
        assert!(stderr.contains(expected), "{stderr}");
        assert!(!stderr.contains("env-secret"));
    }
    // An invalid setting is reported the same way.
    let mut cmd = broker_cmd();
    cmd.args([
        "--listen",
        "127.0.0.1:0",
        "--allowed-origin",
        "https://x.example/path",
    ])
    .env("ATLASSIAN_CLIENT_ID", "i")
    .env("ATLASSIAN_CLIENT_SECRET", "s");
    let (code, _, stderr) = run_to_exit(cmd);
    assert_eq!(code, 2);
    assert!(stderr.contains("allowed origin"), "{stderr}");
}

#[tokio::test]
async fn sigterm_stops_the_binary_cleanly() {
    let mut cmd = broker_cmd();
    cmd.args(["--listen", "127.0.0.1:0"])
        .env("ATLASSIAN_CLIENT_ID", "i")
        .env("ATLASSIAN_CLIENT_SECRET", "s");
    let mut proc = Proc::start(cmd);
    assert_eq!(
        get(&http(), &format!("{}/healthz", proc.base_url))
            .await
            .status,
        200
    );
    let pid = proc.child.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let status = proc.child.wait().unwrap();
    assert!(
        status.success(),
        "graceful shutdown exits 0, got {status:?}"
    );
    let stderr = proc.stderr.take().unwrap().join().unwrap();
    assert!(stderr.contains("stopped"), "{stderr}");
}
