//! The simulated Atlassian: the broker's `POST /oauth/token` (answering what the real broker
//! relays), `accessible-resources` and one Jira call, with the rotation rules of the reference
//! (docs/atlassian-3lo.md §3, as crates/fake-atlassian models them):
//!
//! - a family of refresh tokens per consent, at a current generation `g`; presenting the
//!   generation-`g` refresh token rotates the family to `g+1` (a new pair);
//! - the previous generation (`g-1`) and its companion access token keep working for the
//!   10-minute leeway after that rotation; presenting the `g-1` refresh token inside it is a
//!   tolerated retry (a new pair of generation `g`, the family does not move);
//! - presenting anything older, or `g-1` after the leeway, revokes the whole family;
//! - errors as Atlassian sends them: 403 `invalid_grant`, 400 `invalid_request` for a used code,
//!   gateway 401 `{"code":401,"message":"Unauthorized"}`.
//!
//! Every refresh presentation and every issued pair is recorded with the virtual time, for the
//! invariants. Tokens are fake, readable values (`rt-<family>.<generation>.<n>`).

use std::collections::BTreeMap;

use jira_3lo::session::ports::{HttpRequest, HttpResponse, Method};
use serde_json::{json, Value};

/// Atlassian's reuse leeway and companion-token grace (10 minutes).
pub const LEEWAY_MS: u64 = 600_000;
/// `expires_in` of every access token (1 hour).
pub const ACCESS_LIFETIME_S: u64 = 3600;
/// How long an authorization code may wait before its exchange.
const CODE_LIFETIME_MS: u64 = 600_000;

const SCOPE: &str = "read:jira-work write:jira-work read:jira-user offline_access";

/// Why a family was revoked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Revocation {
    /// By the user / Atlassian (a fault the simulator injects).
    External,
    /// Breach detection: a rotated refresh token presented outside the leeway.
    Reuse,
}

#[derive(Debug, Clone)]
pub struct Family {
    pub current_gen: u32,
    /// When the family last moved to `current_gen` (the previous generation's leeway starts).
    pub rotated_at: u64,
    pub revoked: Option<(u64, Revocation)>,
    /// The highest generation of which a pair reached a client.
    pub delivered_gen: Option<u32>,
}

/// One issued pair (from a code or a refresh).
#[derive(Debug, Clone)]
pub struct Issue {
    pub family: usize,
    pub gen: u32,
    pub access_token: String,
    pub refresh_token: String,
    pub expires_at: u64,
    /// When the response reached the client (`None`: dropped, timed out).
    pub delivered_at: Option<u64>,
    pub ctx: usize,
}

/// What the server made of one refresh presentation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Rotated,
    ToleratedRetry,
    /// A rotated token outside the leeway: the family is now revoked.
    ReuseDetected,
    /// Unknown token or revoked family.
    Refused,
}

#[derive(Debug, Clone)]
pub struct Presentation {
    pub at: u64,
    pub ctx: usize,
    pub token: String,
    pub family: Option<usize>,
    pub gen: u32,
    pub verdict: Verdict,
    /// The family's highest delivered generation, current generation and last rotation just
    /// before this presentation.
    pub delivered_gen: Option<u32>,
    pub current_gen_before: u32,
    pub rotated_at_before: u64,
    /// The pair it got, if any.
    pub issued: Option<usize>,
}

struct Code {
    issued_at: u64,
    used: bool,
}

/// A server answer, with the pair it issued (if any).
pub struct Handled {
    pub response: HttpResponse,
    pub issued: Option<usize>,
}

pub struct Atlassian {
    pub families: Vec<Family>,
    pub issues: Vec<Issue>,
    pub presentations: Vec<Presentation>,
    refresh_tokens: BTreeMap<String, (usize, u32)>,
    access_tokens: BTreeMap<String, usize>,
    codes: BTreeMap<String, Code>,
    /// `(cloud id, name)` of the account's Jira sites.
    pub sites: Vec<(String, String)>,
    counter: u64,
}

fn json_response(status: u16, body: Value) -> HttpResponse {
    HttpResponse {
        status,
        headers: vec![("content-type".into(), "application/json".into())],
        body: body.to_string(),
    }
}

fn invalid_grant() -> HttpResponse {
    json_response(
        403,
        json!({"error": "invalid_grant", "error_description": "Unknown or invalid refresh token."}),
    )
}

fn unauthorized() -> HttpResponse {
    json_response(401, json!({"code": 401, "message": "Unauthorized"}))
}

impl Atlassian {
    pub fn new(site_count: usize) -> Self {
        let sites = [("cloud-a", "Alpha"), ("cloud-b", "Beta")]
            .iter()
            .take(site_count)
            .map(|(id, name)| (id.to_string(), name.to_string()))
            .collect();
        Atlassian {
            families: Vec::new(),
            issues: Vec::new(),
            presentations: Vec::new(),
            refresh_tokens: BTreeMap::new(),
            access_tokens: BTreeMap::new(),
            codes: BTreeMap::new(),
            sites,
            counter: 0,
        }
    }

    fn next(&mut self) -> u64 {
        self.counter += 1;
        self.counter
    }

    /// The user approves on the consent page: a code (the broker's ticket stands for it).
    pub fn authorize(&mut self, now: u64) -> String {
        let code = format!("code-{}", self.next());
        self.codes.insert(
            code.clone(),
            Code {
                issued_at: now,
                used: false,
            },
        );
        code
    }

    /// Revokes every live family (password change, app access revoked).
    pub fn revoke_all(&mut self, now: u64) {
        for f in &mut self.families {
            if f.revoked.is_none() {
                f.revoked = Some((now, Revocation::External));
            }
        }
    }

    pub fn mark_delivered(&mut self, issue: usize, now: u64) {
        let i = &mut self.issues[issue];
        i.delivered_at = Some(now);
        let f = &mut self.families[i.family];
        f.delivered_gen = Some(f.delivered_gen.map_or(i.gen, |g| g.max(i.gen)));
    }

    /// The family and generation of a refresh token this server issued.
    pub fn refresh_token(&self, token: &str) -> Option<(usize, u32)> {
        self.refresh_tokens.get(token).copied()
    }

    /// The issue of an access token this server issued.
    pub fn access_token(&self, token: &str) -> Option<&Issue> {
        self.access_tokens.get(token).map(|i| &self.issues[*i])
    }

    /// Whether presenting this refresh token now would get a pair.
    pub fn accepts_refresh(&self, token: &str, now: u64) -> bool {
        let Some((family, gen)) = self.refresh_token(token) else {
            return false;
        };
        let f = &self.families[family];
        f.revoked.is_none()
            && (gen == f.current_gen
                || (gen + 1 == f.current_gen && now < f.rotated_at + LEEWAY_MS))
    }

    /// Whether the gateway accepts this access token now.
    pub fn accepts_access(&self, token: &str, now: u64) -> bool {
        let Some(issue) = self.access_token(token) else {
            return false;
        };
        let f = &self.families[issue.family];
        f.revoked.is_none()
            && now < issue.expires_at
            && (issue.gen == f.current_gen
                || (issue.gen + 1 == f.current_gen && now < f.rotated_at + LEEWAY_MS))
    }

    fn issue(&mut self, family: usize, ctx: usize, now: u64) -> usize {
        let gen = self.families[family].current_gen;
        let n = self.next();
        let issue = Issue {
            family,
            gen,
            access_token: format!("at-{family}.{gen}.{n}"),
            refresh_token: format!("rt-{family}.{gen}.{n}"),
            expires_at: now + ACCESS_LIFETIME_S * 1000,
            delivered_at: None,
            ctx,
        };
        let id = self.issues.len();
        self.refresh_tokens
            .insert(issue.refresh_token.clone(), (family, gen));
        self.access_tokens.insert(issue.access_token.clone(), id);
        self.issues.push(issue);
        id
    }

    fn pair_response(&self, issue: usize) -> HttpResponse {
        let i = &self.issues[issue];
        json_response(
            200,
            json!({
                "access_token": i.access_token,
                "expires_in": ACCESS_LIFETIME_S,
                "scope": SCOPE,
                "refresh_token": i.refresh_token,
                "token_type": "Bearer",
            }),
        )
    }

    /// Answers one request as Atlassian (and the broker in front of it) would.
    pub fn handle(&mut self, ctx: usize, request: &HttpRequest, now: u64) -> Handled {
        let path = request
            .url
            .split_once("://")
            .and_then(|(_, rest)| rest.split_once('/'))
            .map_or(String::new(), |(_, p)| format!("/{p}"));
        let plain = |response| Handled {
            response,
            issued: None,
        };
        match (request.method, path.as_str()) {
            (Method::Post, "/oauth/token") => self.token(ctx, request, now),
            // The broker's start of a sign-in: the authorize URL (its sealed state is not
            // modelled; the client's own state stands in for it).
            (Method::Post, "/v1/authorize") => {
                let body: Value = request
                    .body
                    .as_deref()
                    .and_then(|b| serde_json::from_str(b).ok())
                    .unwrap_or(Value::Null);
                let state = body["state"].as_str().unwrap_or("");
                plain(json_response(
                    200,
                    json!({ "authorize_url": format!("https://auth.sim/authorize?state={state}") }),
                ))
            }
            (Method::Get, "/oauth/token/accessible-resources") => {
                if !self.authorized(request, now) {
                    return plain(unauthorized());
                }
                let list: Vec<Value> = self
                    .sites
                    .iter()
                    .map(|(id, name)| {
                        json!({
                            "id": id, "name": name,
                            "url": format!("https://{}.atlassian.net", name.to_lowercase()),
                            "scopes": ["read:jira-work", "write:jira-work", "read:jira-user"],
                            "avatarUrl": "https://avatars.sim/a.png",
                        })
                    })
                    .collect();
                plain(json_response(200, Value::Array(list)))
            }
            (Method::Get, p) if p.starts_with("/ex/jira/") => {
                let cloud = p["/ex/jira/".len()..].split('/').next().unwrap_or("");
                if !self.authorized(request, now) {
                    return plain(unauthorized());
                }
                if !self.sites.iter().any(|(id, _)| id == cloud) {
                    return plain(json_response(
                        404,
                        json!({"code": 404, "message": "Not Found"}),
                    ));
                }
                plain(json_response(
                    200,
                    json!({"accountId": "sim-user", "displayName": "Sim User", "active": true}),
                ))
            }
            _ => plain(json_response(
                404,
                json!({"code": 404, "message": "no such route in the simulation"}),
            )),
        }
    }

    fn authorized(&self, request: &HttpRequest, now: u64) -> bool {
        request
            .headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("authorization"))
            .and_then(|(_, v)| v.strip_prefix("Bearer "))
            .is_some_and(|t| self.accepts_access(t, now))
    }

    fn token(&mut self, ctx: usize, request: &HttpRequest, now: u64) -> Handled {
        let body: Value = request
            .body
            .as_deref()
            .and_then(|b| serde_json::from_str(b).ok())
            .unwrap_or(Value::Null);
        let refused = |response| Handled {
            response,
            issued: None,
        };
        match body["grant_type"].as_str() {
            Some("refresh_token") => {
                let token = body["refresh_token"].as_str().unwrap_or("").to_string();
                let found = self.refresh_token(&token);
                let before = found.map_or((None, 0, 0), |(f, _)| {
                    let f = &self.families[f];
                    (f.delivered_gen, f.current_gen, f.rotated_at)
                });
                let (verdict, issued) = match found {
                    None => (Verdict::Refused, None),
                    Some((family, _)) if self.families[family].revoked.is_some() => {
                        (Verdict::Refused, None)
                    }
                    Some((family, gen)) => {
                        let f = &self.families[family];
                        if gen == f.current_gen {
                            let f = &mut self.families[family];
                            f.current_gen += 1;
                            f.rotated_at = now;
                            (Verdict::Rotated, Some(self.issue(family, ctx, now)))
                        } else if gen + 1 == f.current_gen && now < f.rotated_at + LEEWAY_MS {
                            (Verdict::ToleratedRetry, Some(self.issue(family, ctx, now)))
                        } else {
                            self.families[family].revoked = Some((now, Revocation::Reuse));
                            (Verdict::ReuseDetected, None)
                        }
                    }
                };
                self.presentations.push(Presentation {
                    at: now,
                    ctx,
                    token,
                    family: found.map(|f| f.0),
                    gen: found.map_or(0, |f| f.1),
                    verdict,
                    delivered_gen: before.0,
                    current_gen_before: before.1,
                    rotated_at_before: before.2,
                    issued,
                });
                match issued {
                    Some(i) => Handled {
                        response: self.pair_response(i),
                        issued: Some(i),
                    },
                    None => refused(invalid_grant()),
                }
            }
            // The broker's ticket stands for the code it exchanged at its callback.
            Some("urn:jira-3lo:ticket") => {
                let code = body["ticket"].as_str().unwrap_or("");
                let valid = self.codes.get_mut(code).is_some_and(|c| {
                    let ok = !c.used && now < c.issued_at + CODE_LIFETIME_MS;
                    c.used = true;
                    ok
                });
                if !valid {
                    return refused(json_response(
                        400,
                        json!({"error": "invalid_grant", "error_description": "the ticket is invalid"}),
                    ));
                }
                self.families.push(Family {
                    current_gen: 0,
                    rotated_at: now,
                    revoked: None,
                    delivered_gen: None,
                });
                let family = self.families.len() - 1;
                let i = self.issue(family, ctx, now);
                Handled {
                    response: self.pair_response(i),
                    issued: Some(i),
                }
            }
            _ => refused(json_response(
                400,
                json!({"error": "unsupported_grant_type"}),
            )),
        }
    }
}
