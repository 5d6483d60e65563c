//! Shared helpers: a spawned fake, a reqwest client that does not follow redirects, and the
//! 3LO steps every test needs. Everything goes over real HTTP on 127.0.0.1.
#![allow(dead_code)]

use fake_atlassian::{spawn, FakeConfig, RunningFake};
use reqwest::{redirect, Client, Response, StatusCode};
use serde_json::{json, Value};

/// The redirect URI the tests register for demo-client (never contacted: redirects are not followed).
pub const CB: &str = "http://127.0.0.1:9/callback";
/// Scopes most tests ask for.
pub const SCOPES: &str = "read:jira-work write:jira-work read:jira-user read:me offline_access";
pub const ACME: &str = fake_atlassian::ids::ACME;
pub const INITECH: &str = fake_atlassian::ids::INITECH;
pub const GLOBEX: &str = fake_atlassian::ids::GLOBEX;

pub struct Env {
    pub fake: RunningFake,
    pub http: Client,
}

pub struct Tokens {
    pub access: String,
    pub refresh: Option<String>,
    pub body: Value,
}

pub async fn start() -> Env {
    start_with(FakeConfig::default()).await
}

pub async fn start_with(config: FakeConfig) -> Env {
    start_exactly(config.callback_url("demo-client", CB)).await
}

/// Without setting the demo app's callback to [`CB`] (an app has only one).
pub async fn start_exactly(config: FakeConfig) -> Env {
    let fake = spawn(config).await.expect("spawn fake");
    let http = Client::builder()
        .redirect(redirect::Policy::none())
        .build()
        .unwrap();
    Env { fake, http }
}

pub fn jira(cloud: &str, path: &str) -> String {
    format!("/ex/jira/{cloud}/rest/api/3{path}")
}

/// `name=value` pairs of a URL's query.
pub fn query_of(url: &str) -> Vec<(String, String)> {
    let parsed = url::Url::parse(url).expect("absolute URL");
    parsed.query_pairs().into_owned().collect()
}

pub fn query_param(url: &str, name: &str) -> Option<String> {
    query_of(url)
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}

impl Env {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.fake.base_url, path)
    }

    pub fn authorize_url(
        &self,
        client_id: &str,
        redirect_uri: &str,
        scope: &str,
        state: &str,
    ) -> String {
        let mut u = url::Url::parse(&self.url("/authorize")).unwrap();
        u.query_pairs_mut()
            .append_pair("audience", "api.atlassian.com")
            .append_pair("client_id", client_id)
            .append_pair("scope", scope)
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("state", state)
            .append_pair("response_type", "code")
            .append_pair("prompt", "consent");
        u.to_string()
    }

    /// GET /authorize with these parameters (redirects are not followed).
    pub async fn authorize(
        &self,
        client_id: &str,
        redirect_uri: &str,
        scope: &str,
        state: &str,
    ) -> Response {
        self.http
            .get(self.authorize_url(client_id, redirect_uri, scope, state))
            .send()
            .await
            .unwrap()
    }

    /// Auto-consent: GET /authorize and return the `Location` of its 302.
    pub async fn authorize_redirect(&self, scope: &str, state: &str) -> String {
        let resp = self.authorize("demo-client", CB, scope, state).await;
        assert_eq!(
            resp.status(),
            StatusCode::FOUND,
            "authorize should redirect"
        );
        resp.headers()["location"].to_str().unwrap().to_string()
    }

    pub async fn code(&self, scope: &str) -> String {
        let location = self.authorize_redirect(scope, "st").await;
        query_param(&location, "code").expect("code in redirect")
    }

    pub async fn token(&self, body: Value) -> Response {
        self.http
            .post(self.url("/oauth/token"))
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    pub async fn exchange(&self, code: &str) -> Response {
        self.token(json!({
            "grant_type": "authorization_code",
            "client_id": "demo-client",
            "client_secret": "demo-secret",
            "code": code,
            "redirect_uri": CB,
        }))
        .await
    }

    pub async fn refresh(&self, refresh_token: &str) -> Response {
        self.token(json!({
            "grant_type": "refresh_token",
            "client_id": "demo-client",
            "client_secret": "demo-secret",
            "refresh_token": refresh_token,
        }))
        .await
    }

    pub async fn sign_in(&self, scope: &str) -> Tokens {
        let code = self.code(scope).await;
        let resp = self.exchange(&code).await;
        assert_eq!(resp.status(), StatusCode::OK);
        tokens(resp).await
    }

    pub async fn admin(&self, path: &str, body: Value) -> Value {
        let resp = self
            .http
            .post(self.url(path))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(
            resp.status().is_success(),
            "admin {path} failed: {}",
            resp.status()
        );
        resp.json().await.unwrap()
    }

    pub async fn admin_get(&self, path: &str) -> Value {
        self.http
            .get(self.url(path))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    pub async fn stats(&self) -> Value {
        self.admin_get("/__admin/stats").await
    }

    pub async fn advance(&self, secs: u64) {
        self.admin("/__admin/clock", json!({"advance_secs": secs}))
            .await;
    }

    pub async fn get(&self, token: &str, path: &str) -> Response {
        self.http
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    /// The status of a GET of `path` with this bearer token.
    pub async fn get_status(&self, token: &str, path: &str) -> StatusCode {
        self.get(token, path).await.status()
    }

    /// The status of `GET /myself` on `cloud` with these tokens' access token.
    pub async fn myself_status(&self, t: &Tokens, cloud: &str) -> StatusCode {
        self.get_status(&t.access, &jira(cloud, "/myself")).await
    }

    /// The status of a refresh with these tokens' refresh token.
    pub async fn refresh_status(&self, t: &Tokens) -> StatusCode {
        let refresh_token = t.refresh.as_deref().expect("a refresh token");
        self.refresh(refresh_token).await.status()
    }

    pub async fn post(&self, token: &str, path: &str, body: Value) -> Response {
        self.http
            .post(self.url(path))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    pub async fn put(&self, token: &str, path: &str, body: Value) -> Response {
        self.http
            .put(self.url(path))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .unwrap()
    }
}

pub async fn tokens(resp: Response) -> Tokens {
    let body: Value = resp.json().await.unwrap();
    Tokens {
        access: body["access_token"]
            .as_str()
            .expect("access_token")
            .to_string(),
        refresh: body["refresh_token"].as_str().map(str::to_string),
        body,
    }
}

/// Status and JSON body.
pub async fn json_of(resp: Response) -> (StatusCode, Value) {
    let status = resp.status();
    let text = resp.text().await.unwrap();
    let body =
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON ({status}): {text}"));
    (status, body)
}
