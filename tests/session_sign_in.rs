//! Sign-in against the real fake Atlassian through the real broker: the authorize URL, the
//! callback outcomes, token storage, site discovery and selection, status and sign-out.
#![cfg(not(target_arch = "wasm32"))]

mod support;

use jira_3lo::error::ProviderText;
use jira_3lo::session::ports::Area;
use jira_3lo::session::Status;
use jira_3lo::{Error, ErrorCode};
use support::{start, Env, REDIRECT};

fn query_param(url: &str, name: &str) -> Option<String> {
    url::Url::parse(url)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// The client's own `state` of the pending sign-in (the authorize URL carries the broker's
/// sealed one instead).
fn pending_state(env: &Env) -> String {
    let pending = env
        .platform
        .store
        .json(Area::Persistent, "jira3lo:default:pending");
    pending["state"].as_str().unwrap().to_string()
}

/// The callback URL for a started sign-in, with its fragment replaced by `fragment` (`{state}`
/// is substituted with the attempt's state).
async fn forged_callback(
    env: &Env,
    session: &jira_3lo::session::Session<support::TestPlatform>,
    fragment: &str,
) -> String {
    session.begin_sign_in(REDIRECT).await.unwrap();
    format!(
        "{REDIRECT}#{}",
        fragment.replace("{state}", &pending_state(env))
    )
}

#[tokio::test(flavor = "current_thread")]
async fn authorize_url_carries_every_required_parameter() {
    let env = start().await;
    let session = env.session();
    let url = session.begin_sign_in(REDIRECT).await.unwrap();
    assert!(
        url.starts_with(&format!("{}/authorize?", env.fake.base_url)),
        "{url}"
    );
    assert!(
        url.contains(
            "scope=read%3Ajira-work%20write%3Ajira-work%20read%3Ajira-user%20offline_access"
        ),
        "{url}"
    );
    assert_eq!(
        query_param(&url, "audience").as_deref(),
        Some("api.atlassian.com")
    );
    assert_eq!(
        query_param(&url, "client_id").as_deref(),
        Some("demo-client")
    );
    // The one callback registered at Atlassian is the broker's; it seals its own state around
    // this installation's key, our redirect and our state.
    assert_eq!(
        query_param(&url, "redirect_uri"),
        Some(env.broker.callback_url.clone())
    );
    assert_eq!(query_param(&url, "response_type").as_deref(), Some("code"));
    assert_eq!(query_param(&url, "prompt").as_deref(), Some("consent"));
    let sealed = query_param(&url, "state").unwrap();

    // The pending attempt is stored (persistent area) with our state, redirect URI and time.
    let pending = env
        .platform
        .store
        .json(Area::Persistent, "jira3lo:default:pending");
    assert_eq!(pending["v"], 1);
    let state = pending_state(&env);
    assert!(state.len() >= 22, "state has at least 128 bits: {state}");
    assert!(
        !sealed.contains(&state),
        "the broker's state does not show ours"
    );
    assert_eq!(pending["redirect_uri"], REDIRECT);
    assert!(pending["created_at_ms"].as_u64().unwrap() > 1_600_000_000_000);

    // A second attempt gets a new state; each one asked the broker once, with a proof.
    let url2 = session.begin_sign_in(REDIRECT).await.unwrap();
    assert_ne!(pending_state(&env), state);
    assert_eq!(session.platform().sent_matching("POST /v1/authorize"), 2);
    let callback = env.authorize(&url2).await;
    assert!(
        callback.starts_with(&format!("{REDIRECT}#ticket=")),
        "{callback}"
    );
    assert!(callback.ends_with(&format!("&state={}", pending_state(&env))));
}

#[tokio::test(flavor = "current_thread")]
async fn full_sign_in_stores_tokens_and_needs_a_site_choice_for_alice() {
    let env = start().await;
    let session = env.session();
    assert_eq!(session.status().await.unwrap(), Status::SignedOut);

    let status = env.sign_in(&session).await;
    let Status::SiteSelectionRequired { sites } = status else {
        panic!("{status:?}")
    };
    // alice: two Jira sites; the Confluence duplicate of one of them is merged, not listed twice.
    assert_eq!(sites.len(), 2, "{sites:?}");
    assert_ne!(sites[0].id, sites[1].id);
    for s in &sites {
        assert!(!s.name.is_empty() && s.url.starts_with("https://"), "{s:?}");
    }
    assert_eq!(env.grants("authorization_code").await, 1);
    assert_eq!(env.count("GET /oauth/token/accessible-resources").await, 1);

    // Records: access in the session area, refresh/site in the persistent one; the attempt has
    // ended (no state left to match, its redirect URI kept).
    let store = &env.platform.store;
    let access = store.json(Area::Session, "jira3lo:default:access");
    assert_eq!(access["v"], 1);
    assert!(access["expires_at_ms"].as_u64().unwrap() > session_now(&env));
    assert!(access["scopes"]
        .as_array()
        .unwrap()
        .iter()
        .any(|s| s == "read:jira-work"));
    assert_eq!(
        store.json(Area::Persistent, "jira3lo:default:refresh")["v"],
        1
    );
    assert_eq!(store.json(Area::Persistent, "jira3lo:default:site")["v"], 1);
    let ended = store.json(Area::Persistent, "jira3lo:default:pending");
    assert_eq!(
        (&ended["state"], &ended["redirect_uri"]),
        (&serde_json::Value::Null, &serde_json::json!(REDIRECT))
    );
    assert!(store
        .raw_get(Area::Persistent, "jira3lo:default:access")
        .is_none());
    assert!(store
        .raw_get(Area::Session, "jira3lo:default:refresh")
        .is_none());

    // Before a choice, a Jira call says which sites to choose from.
    let err = session
        .send(jira_3lo::core::api_request::JiraRequest::get(
            "/rest/api/3/myself",
        ))
        .await
        .unwrap_err();
    assert_eq!(
        err,
        Error::SiteSelectionRequired {
            sites: sites.clone()
        }
    );

    // status() is storage only: no request at all.
    let before = env.total_requests().await;
    assert_eq!(
        session.status().await.unwrap(),
        Status::SiteSelectionRequired {
            sites: sites.clone()
        }
    );
    assert_eq!(session.sites().await.unwrap(), sites);
    assert_eq!(env.total_requests().await, before);

    assert_eq!(
        session.choose_site("not-a-site").await.unwrap_err(),
        Error::UnknownSite {
            site_id: "not-a-site".into()
        }
    );
    let chosen = session.choose_site(&sites[1].id).await.unwrap();
    assert_eq!(
        chosen,
        Status::SignedIn {
            site: sites[1].clone()
        }
    );
    // Another context (or a reopened popup) sees the same status from storage.
    assert_eq!(env.session().status().await.unwrap(), chosen);

    session.sign_out().await.unwrap();
    assert_eq!(session.status().await.unwrap(), Status::SignedOut);
    assert!(env.platform.store.keys(Area::Session).is_empty());
    assert!(env.platform.store.keys(Area::Persistent).is_empty());
    assert_eq!(
        session
            .send(jira_3lo::core::api_request::JiraRequest::get(
                "/rest/api/3/myself"
            ))
            .await
            .unwrap_err(),
        Error::NotSignedIn
    );
}

fn session_now(env: &Env) -> u64 {
    use jira_3lo::session::ports::Clock;
    env.platform.now_ms()
}

#[tokio::test(flavor = "current_thread")]
async fn a_single_site_is_chosen_automatically_and_the_status_serializes() {
    let env = start().await;
    env.settings(serde_json::json!({ "consent_user": "bob" }))
        .await;
    let session = env.session();
    let status = env.sign_in(&session).await;
    let Status::SignedIn { site } = &status else {
        panic!("{status:?}")
    };
    assert_eq!(env.count("GET /oauth/token/accessible-resources").await, 1);
    let json = serde_json::to_value(&status).unwrap();
    assert_eq!(json["state"], "signedIn");
    assert_eq!(json["site"]["id"], site.id.as_str());
    assert!(json["site"].get("avatarUrl").is_some());
    assert_eq!(
        serde_json::to_value(Status::SignedOut).unwrap(),
        serde_json::json!({"state": "signedOut"})
    );
    let sel = serde_json::to_value(Status::SiteSelectionRequired {
        sites: vec![site.clone()],
    })
    .unwrap();
    assert_eq!(sel["state"], "siteSelectionRequired");
    assert_eq!(sel["sites"][0]["id"], site.id.as_str());
}

#[tokio::test(flavor = "current_thread")]
async fn callback_outcomes_are_typed_and_never_reach_the_token_endpoint() {
    let env = start().await;
    let session = env.session();

    // No sign-in started: no URL is a callback of ours.
    let err = session
        .complete_sign_in(&format!("{REDIRECT}#ticket=abc&state=xyz"))
        .await
        .unwrap_err();
    assert_eq!(err, Error::NotACallback);

    // Not a callback: other URL, or no OAuth parameters.
    session.begin_sign_in(REDIRECT).await.unwrap();
    let state = pending_state(&env);
    for not_callback in [
        format!("https://elsewhere.example/cb#ticket=abc&state={state}"),
        format!("http://127.0.0.1:9/other#ticket=abc&state={state}"),
        // Atlassian's own redirect shape: codes go to the broker, never to the client.
        format!("{REDIRECT}?code=abc&state={state}"),
        REDIRECT.to_string(),
        "garbage".to_string(),
    ] {
        assert_eq!(
            session.complete_sign_in(&not_callback).await.unwrap_err(),
            Error::NotACallback,
            "{not_callback}"
        );
    }
    // State mismatch (forged); the real attempt survives it.
    let err = session
        .complete_sign_in(&format!("{REDIRECT}#ticket=abc&state={state}x"))
        .await
        .unwrap_err();
    assert_eq!(err, Error::StateMismatch);
    let err = session
        .complete_sign_in(&format!("{REDIRECT}#ticket=abc"))
        .await
        .unwrap_err();
    assert_eq!(err, Error::StateMismatch);

    // Missing ticket (and the attempt is used up: the same state is now unknown).
    let err = session
        .complete_sign_in(&format!("{REDIRECT}#state={state}"))
        .await
        .unwrap_err();
    assert_eq!(err, Error::MissingCode);
    let err = session
        .complete_sign_in(&format!("{REDIRECT}#ticket=abc&state={state}"))
        .await
        .unwrap_err();
    assert_eq!(err, Error::UnknownState);

    // Provider errors.
    let cb = forged_callback(&env, &session, "error=access_denied&error_description=User%20did%20not%20authorize%20the%20request&state={state}").await;
    assert_eq!(
        session.complete_sign_in(&cb).await.unwrap_err(),
        Error::AccessDenied {
            description: ProviderText::new("User did not authorize the request")
        }
    );
    let cb = forged_callback(
        &env,
        &session,
        "error=server_error&error_description=boom&state={state}",
    )
    .await;
    let err = session.complete_sign_in(&cb).await.unwrap_err();
    assert_eq!(
        err,
        Error::ProviderError {
            error: "server_error".into(),
            description: ProviderText::new("boom")
        }
    );
    assert_eq!(err.code(), ErrorCode::ProviderError);

    // Expired: a real ticket, but the attempt is older than 10 minutes.
    let url = session.begin_sign_in(REDIRECT).await.unwrap();
    let callback = env.authorize(&url).await;
    env.advance(601).await;
    assert_eq!(
        session.complete_sign_in(&callback).await.unwrap_err(),
        Error::StateExpired
    );

    assert_eq!(
        session.platform().sent_matching("POST /oauth/token"),
        0,
        "no rejected callback reached the token endpoint"
    );
    assert_eq!(session.status().await.unwrap(), Status::SignedOut);
}

#[tokio::test(flavor = "current_thread")]
async fn a_callback_is_single_use_and_a_declined_consent_is_access_denied() {
    let env = start().await;
    let session = env.session();
    let url = session.begin_sign_in(REDIRECT).await.unwrap();
    let callback = env.authorize(&url).await;
    session.complete_sign_in(&callback).await.unwrap();
    assert_eq!(
        session.complete_sign_in(&callback).await.unwrap_err(),
        Error::UnknownState
    );
    assert_eq!(env.grants("authorization_code").await, 1);

    // The fake's consent page, Cancel pressed: the redirect carries error=access_denied.
    env.settings(serde_json::json!({ "consent_mode": "page" }))
        .await;
    let url = session.begin_sign_in(REDIRECT).await.unwrap();
    let callback = support::decline_consent(&env, &url).await;
    assert!(callback.contains("error=access_denied"), "{callback}");
    let err = session.complete_sign_in(&callback).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::AccessDenied);
    assert!(err.needs_reconnect() || !err.is_transient());
}

#[tokio::test(flavor = "current_thread")]
async fn a_copied_ticket_is_useless_elsewhere_and_a_refused_one_keeps_the_old_sign_in() {
    let env = start().await;
    let session = env.session();
    let status = env.sign_in_and_choose(&session).await;
    let url = session.begin_sign_in(REDIRECT).await.unwrap();
    let callback = env.authorize(&url).await;
    let ticket = callback
        .split_once("#ticket=")
        .and_then(|(_, rest)| rest.split('&').next())
        .unwrap()
        .to_string();
    let redeem = |platform: &support::TestPlatform| {
        let token_url = format!("{}/oauth/token", env.broker.base_url);
        reqwest::Client::new()
            .post(&token_url)
            .header("dpop", platform.proof("POST", &token_url))
            .json(&serde_json::json!({"grant_type": "urn:jira-3lo:ticket", "ticket": ticket}))
            .send()
    };
    // Someone who copied the callback URL but not the key gets nothing.
    let thief = env.platform.with_key(support::TestKey::random());
    let stolen = redeem(&thief).await.unwrap();
    assert_eq!(stolen.status(), 400);
    let body: serde_json::Value = stolen.json().await.unwrap();
    assert_eq!(body["error"], "invalid_grant");
    // Redeemed once already (by this installation, elsewhere): ours is refused as used.
    assert!(redeem(&env.platform).await.unwrap().status().is_success());
    let err = session.complete_sign_in(&callback).await.unwrap_err();
    let Error::Oauth {
        status: 400, error, ..
    } = &err
    else {
        panic!("{err:?}")
    };
    assert_eq!(error, "invalid_grant");
    assert!(
        !format!("{err} {err:?}").contains(&ticket),
        "the ticket never appears in an error"
    );
    assert_eq!(session.status().await.unwrap(), status);
}

#[tokio::test(flavor = "current_thread")]
async fn duplicate_accessible_resources_entries_are_merged_by_id() {
    let env = start().await;
    let mut config = env.config();
    config.scopes.push("read:confluence-content.all".into());
    let session = jira_3lo::session::Session::new(config, env.platform.sibling());
    let url = session.begin_sign_in(REDIRECT).await.unwrap();
    assert!(query_param(&url, "scope")
        .unwrap()
        .contains("read:confluence-content.all"));
    let callback = env.authorize(&url).await;
    let Status::SiteSelectionRequired { sites } =
        session.complete_sign_in(&callback).await.unwrap()
    else {
        panic!()
    };

    // What the gateway really lists for this grant: one site twice (Jira + Confluence).
    let access = env
        .platform
        .store
        .json(Area::Session, "jira3lo:default:access");
    let raw: Vec<serde_json::Value> = reqwest::Client::new()
        .get(format!(
            "{}/oauth/token/accessible-resources",
            env.fake.base_url
        ))
        .bearer_auth(access["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut ids: Vec<&str> = raw.iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 3, "{raw:?}");
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 2);
    assert_eq!(sites.len(), 2, "merged by id: {sites:?}");
    for site in &sites {
        let entry = raw.iter().find(|r| r["id"] == site.id.as_str()).unwrap();
        assert_eq!(entry["name"], site.name.as_str());
        assert_eq!(entry["url"], site.url.as_str());
        assert_eq!(entry["avatarUrl"].as_str(), site.avatar_url.as_deref());
    }
    assert_eq!(
        env.count("GET /oauth/token/accessible-resources").await,
        2,
        "ours + the test's"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn a_grant_without_a_jira_site_is_no_jira_site_and_leaves_nothing_stored() {
    let env = start().await;
    let mut config = env.config();
    config.scopes = vec!["read:confluence-content.all".into()];
    let session = jira_3lo::session::Session::new(config, env.platform.sibling());
    let url = session.begin_sign_in(REDIRECT).await.unwrap();
    let callback = env.authorize(&url).await;
    let err = session.complete_sign_in(&callback).await.unwrap_err();
    assert_eq!(err, Error::NoJiraSite);
    assert_eq!(err.code().as_str(), "no_jira_site");
    assert_eq!(env.count("GET /oauth/token/accessible-resources").await, 1);
    assert_eq!(session.status().await.unwrap(), Status::SignedOut);
    assert!(env.platform.store.keys(Area::Session).is_empty());
    assert!(env.platform.store.keys(Area::Persistent).is_empty());
}

const RESOURCES: &str = "GET /oauth/token/accessible-resources";

#[tokio::test(flavor = "current_thread")]
async fn a_fresh_token_rejected_at_discovery_is_refreshed_once_and_never_cleared() {
    let env = start().await;
    let session = env.session();
    // One 401: refreshed once, discovered with the new token, signed in.
    let url = session.begin_sign_in(REDIRECT).await.unwrap();
    let callback = env.authorize(&url).await;
    env.fault(RESOURCES, 1, serde_json::json!({ "status": 401 }))
        .await;
    let status = session.complete_sign_in(&callback).await.unwrap();
    assert!(
        matches!(status, Status::SiteSelectionRequired { ref sites } if sites.len() == 2),
        "{status:?}"
    );
    assert_eq!(env.grants("refresh_token").await, 1);

    // Two 401s: a typed error asking to reconnect, but the token endpoint accepted the grant,
    // so nothing is cleared (only the token endpoint ends a grant).
    let env = start().await;
    let session = env.session();
    let url = session.begin_sign_in(REDIRECT).await.unwrap();
    let callback = env.authorize(&url).await;
    env.fault(RESOURCES, 2, serde_json::json!({ "status": 401 }))
        .await;
    let err = session.complete_sign_in(&callback).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::ReauthRequired, "{err:?}");
    assert_eq!(env.grants("refresh_token").await, 1);
    let store = &env.platform.store;
    assert!(store
        .raw_get(Area::Persistent, "jira3lo:default:refresh")
        .is_some());
    assert!(store
        .raw_get(Area::Session, "jira3lo:default:access")
        .is_some());
    // Discovery is pending; the next call for the sites asks again and succeeds.
    assert_eq!(
        session.status().await.unwrap(),
        Status::SiteSelectionRequired { sites: vec![] }
    );
    assert_eq!(session.sites().await.unwrap().len(), 2);
}

#[tokio::test(flavor = "current_thread")]
async fn sites_asked_while_another_context_signs_in_waits_for_its_discovery() {
    let env = start().await;
    let worker = env.session();
    let popup = env.session();
    let url = worker.begin_sign_in(REDIRECT).await.unwrap();
    let callback = env.authorize(&url).await;
    // The worker's discovery is slow; the popup sees the tokens land before the sites.
    env.fault(RESOURCES, 1, serde_json::json!({ "delay_ms": 300 }))
        .await;
    let (signed_in, (pending, sites)) =
        futures_util::future::join(worker.complete_sign_in(&callback), async {
            let mut status = Status::SignedOut;
            for _ in 0..2_000 {
                status = popup.status().await.unwrap();
                if status != Status::SignedOut {
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(1)).await;
            }
            (status, popup.sites().await)
        })
        .await;
    // Tokens stored, sites not yet known: an empty list means "discovery pending".
    assert_eq!(pending, Status::SiteSelectionRequired { sites: vec![] });
    let Status::SiteSelectionRequired { sites: listed } = signed_in.unwrap() else {
        panic!()
    };
    assert_eq!(sites.unwrap(), listed);
    assert_eq!(
        env.count(RESOURCES).await,
        1,
        "the popup waited for the worker's discovery instead of repeating it"
    );
}
