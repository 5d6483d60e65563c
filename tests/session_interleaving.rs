//! Guarantees that only hold across contexts or concurrent calls, against the real fake
//! Atlassian through the real broker: each test plays two contexts (popup, service worker,
//! tabs) over one store and one lock, or one context with concurrent callers.
#![cfg(not(target_arch = "wasm32"))]

mod support;

use std::rc::Rc;

use jira_3lo::core::api_request::JiraRequest;
use jira_3lo::jira::SearchParams;
use jira_3lo::session::ports::Area;
use jira_3lo::session::{Session, Status};
use jira_3lo::{Error, ErrorCode};
use serde_json::json;
use support::{signed_in_session, start, Env, REDIRECT};
use tokio::sync::Notify;

const TOKEN: &str = "POST /oauth/token";
const RESOURCES: &str = "GET /oauth/token/accessible-resources";

fn myself() -> JiraRequest {
    JiraRequest::get("/rest/api/3/myself")
}

fn stored(env: &Env, area: Area, record: &str) -> Option<String> {
    env.platform
        .store
        .raw_get(area, &format!("jira3lo:default:{record}"))
}

/// Waits (bounded, on the real clock) until the fake has served `n` requests of `route`.
async fn until_served(env: &Env, route: &str, n: u64) {
    support::eventually(&format!("{route} served {n} times"), || async {
        env.count(route).await >= n
    })
    .await;
}

#[tokio::test(flavor = "current_thread")]
async fn retries_during_the_refresh_pause_do_not_extend_it() {
    let (env, session) = signed_in_session().await;
    env.advance(3_601).await;
    env.fault(TOKEN, 1, json!("drop")).await;
    let tokens = env.count(TOKEN).await;
    let first = session.send(myself()).await.unwrap_err();
    assert!(first.is_transient(), "{first:?}");
    assert_eq!(env.count(TOKEN).await, tokens + 1);

    // A caller retrying every second (the popup's "Try again") is told when the next attempt
    // is, and never reaches the token endpoint during the pause...
    let mut waits = Vec::new();
    for _ in 0..4 {
        env.advance(1).await;
        let err = session.send(myself()).await.unwrap_err();
        assert_eq!(err.code(), first.code(), "{err:?}");
        waits.push(err.retry_after_ms().expect("the wait is in the error"));
    }
    assert_eq!(env.count(TOKEN).await, tokens + 1);
    assert!(waits.windows(2).all(|w| w[1] < w[0]), "{waits:?}");
    assert!(waits[3] <= 1_000, "{waits:?}");
    // ...and the pause ends 5 s after the failure, not 5 s after the last retry.
    env.advance(1).await;
    session.send(myself()).await.unwrap();
    assert_eq!(env.count(TOKEN).await, tokens + 2);
    assert_eq!(env.stats().await["grants_ok"]["refresh_token"], 1);
}

#[tokio::test(flavor = "current_thread")]
async fn a_broker_429_sets_the_refresh_pause() {
    let env = start().await;
    // Two broker requests a minute: the sign-in uses them (the authorize URL, the ticket), the
    // refresh is refused with a 429.
    let limited = env.broker_with(|c| c.rate_limit_per_minute(2)).await;
    let mut config = env.config();
    config.broker_url = limited.base_url.clone();
    let platform = env.platform.sibling();
    let session = jira_3lo::session::Session::new(config, platform.clone());
    env.sign_in_and_choose(&session).await;
    env.advance(3_601).await;
    let err = session.send(myself()).await.unwrap_err();
    let broker_wait = match &err {
        Error::Broker {
            status: 429,
            retry_after_ms: Some(ms),
            ..
        } => *ms,
        other => panic!("expected the broker's 429, got {other:?}"),
    };
    assert!(
        broker_wait > 5_000,
        "the broker asks for more than the default pause"
    );
    // Past the default 5 s the broker's wait still holds: no request, and the error says so.
    env.advance(6).await;
    let again = session.send(myself()).await.unwrap_err();
    assert_eq!(again.code(), ErrorCode::Broker);
    let left = again.retry_after_ms().unwrap();
    assert!(left > 0 && left <= broker_wait - 6_000, "{again:?}");
    assert_eq!(
        platform.sent_matching("POST /oauth/token"),
        2,
        "the sign-in and the refused refresh only"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn a_callback_completed_twice_at_once_exchanges_its_code_once() {
    let env = start().await;
    let (tab_a, tab_b) = (env.session(), env.session());
    let url = tab_a.begin_sign_in(REDIRECT).await.unwrap();
    let callback = env.authorize(&url).await;
    let (a, b) = futures_util::future::join(
        tab_a.complete_sign_in(&callback),
        tab_b.complete_sign_in(&callback),
    )
    .await;
    assert_eq!(env.count(TOKEN).await, 1, "one exchange for one code");
    let (won, lost) = match (a, b) {
        (Ok(status), Err(e)) | (Err(e), Ok(status)) => (status, e),
        other => panic!("one completion must win: {other:?}"),
    };
    assert!(
        matches!(won, Status::SiteSelectionRequired { .. }),
        "{won:?}"
    );
    assert_eq!(lost, Error::UnknownState);

    // Twice at once in one context: the same.
    let url = tab_a.begin_sign_in(REDIRECT).await.unwrap();
    let callback = env.authorize(&url).await;
    let (a, b) = futures_util::future::join(
        tab_a.complete_sign_in(&callback),
        tab_a.complete_sign_in(&callback),
    )
    .await;
    assert_eq!(env.count(TOKEN).await, 2);
    assert!(a.is_ok() != b.is_ok(), "{a:?} {b:?}");
    assert_eq!(env.grants("authorization_code").await, 2);
}

#[tokio::test(flavor = "current_thread")]
async fn a_forged_callback_neither_ends_the_attempt_nor_speaks_in_its_message() {
    let env = start().await;
    let session = env.session();
    let url = session.begin_sign_in(REDIRECT).await.unwrap();
    let real = env.authorize(&url).await;
    let lure = "Your%20account%20is%20locked.%20Call%20%2B1%20555-0100%20%3Cb%3Enow%3C%2Fb%3E";
    for forged in [
        format!("{REDIRECT}?error=access_denied&error_description={lure}"),
        format!("{REDIRECT}?error=server_error&error_description={lure}&state=not-the-state"),
        format!("{REDIRECT}?error=Call%20555-0100"),
    ] {
        let err = session.complete_sign_in(&forged).await.unwrap_err();
        let message = err.to_string();
        assert!(
            !message.contains("555") && !message.contains("locked"),
            "{message}"
        );
        if let Error::AccessDenied {
            description: Some(d),
        }
        | Error::ProviderError {
            description: Some(d),
            ..
        } = &err
        {
            assert!(d.chars().count() <= jira_3lo::error::ProviderText::MAX_CHARS);
        }
    }
    // The real callback still completes: no forged redirect ended the attempt.
    let status = session.complete_sign_in(&real).await.unwrap();
    assert!(
        matches!(status, Status::SiteSelectionRequired { .. }),
        "{status:?}"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn a_discovery_finishing_after_a_sign_out_elsewhere_writes_nothing_back() {
    let (env, popup) = signed_in_session().await;
    let tab = env.session();
    // The site record is lost (say, a corrupted record was discarded): the tab rediscovers,
    // slowly; the popup signs out meanwhile.
    env.platform
        .store
        .raw_remove(Area::Persistent, "jira3lo:default:site");
    env.fault(RESOURCES, 1, json!({ "delay_ms": 300 })).await;
    let served = env.count(RESOURCES).await;
    let (sites, signed_out) = futures_util::future::join(tab.sites(), async {
        until_served(&env, RESOURCES, served + 1).await;
        popup.sign_out().await
    })
    .await;
    signed_out.unwrap();
    assert_eq!(sites.unwrap_err(), Error::NotSignedIn);
    for (area, record) in [
        (Area::Session, "access"),
        (Area::Persistent, "refresh"),
        (Area::Persistent, "site"),
    ] {
        assert_eq!(stored(&env, area, record), None, "{record} resurrected");
    }
    assert_eq!(tab.send(myself()).await.unwrap_err(), Error::NotSignedIn);
    assert_eq!(tab.status().await.unwrap(), Status::SignedOut);
}

#[tokio::test(flavor = "current_thread")]
async fn a_site_choice_racing_a_sign_out_elsewhere_is_not_signed_in_and_writes_nothing() {
    let (env, popup) = signed_in_session().await;
    let sites = popup.sites().await.unwrap();
    // A tab opened now reads the site list from storage, and the sign-out lands before it
    // writes its choice.
    let tab = env.session();
    let (chosen, signed_out) =
        futures_util::future::join(tab.choose_site(&sites[1].id), popup.sign_out()).await;
    signed_out.unwrap();
    assert_eq!(chosen.unwrap_err(), Error::NotSignedIn);
    assert_eq!(
        stored(&env, Area::Persistent, "site"),
        None,
        "site resurrected"
    );
}

const SEARCH: &str = "GET /ex/jira/{cloudId}/rest/api/3/search/jql";

#[tokio::test(flavor = "current_thread")]
async fn a_rate_limit_retry_after_a_sign_out_elsewhere_is_not_sent() {
    let (env, popup) = signed_in_session().await;
    let gate = Rc::new((Notify::new(), Notify::new()));
    let mut platform = support::Staged::new(env.platform.sibling());
    platform.sleep_gate = Some(gate.clone());
    let tab = Session::new(env.config(), platform);
    env.fault(SEARCH, 1, json!({"status": 429, "retry_after_secs": 2}))
        .await;
    let (page, ()) = futures_util::future::join(
        tab.search(&SearchParams::new("project = PLAT ORDER BY key ASC")),
        async {
            gate.0.notified().await; // the tab got its 429 and waits it out
            popup.sign_out().await.unwrap();
            gate.1.notify_one();
        },
    )
    .await;
    assert_eq!(page.unwrap_err(), Error::NotSignedIn);
    assert_eq!(env.count(SEARCH).await, 1, "no request after the sign-out");
}

#[tokio::test(flavor = "current_thread")]
async fn a_context_that_missed_the_change_events_reads_storage_again_within_a_bound() {
    let (env, popup) = signed_in_session().await;
    let mut platform = support::Staged::new(env.platform.sibling());
    platform.hears_events = false;
    let tab = Session::new(env.config(), platform);
    tab.search(&SearchParams::new("project = PLAT"))
        .await
        .unwrap();
    popup.sign_out().await.unwrap();
    // The copy serves at most 30 s without a storage read; after that the sign-out shows.
    env.advance(31).await;
    assert_eq!(
        tab.search(&SearchParams::new("project = PLAT"))
            .await
            .unwrap_err(),
        Error::NotSignedIn
    );
}
