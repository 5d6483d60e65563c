//! Bad input against the real fake Atlassian: Jira's refusals come back as the typed
//! `Error::Jira` with its `errorMessages` / `errors`, never as a generic failure, and nothing a
//! caller passes as a key can change which endpoint is called.
#![cfg(not(target_arch = "wasm32"))]

mod support;

use jira_3lo::jira::{CreateIssue, SearchParams};
use jira_3lo::session::{Session, Status};
use jira_3lo::{Error, ErrorCode};
use serde_json::json;
use support::{Env, TestPlatform};

const ISSUE_ROUTE: &str = "GET /ex/jira/{cloudId}/rest/api/3/issue/{issueIdOrKey}";

async fn acme() -> (Env, Session<TestPlatform>) {
    let env = support::start().await;
    let session = env.session();
    if let Status::SiteSelectionRequired { sites } = env.sign_in(&session).await {
        let acme = sites
            .iter()
            .find(|s| s.name == "acme")
            .expect("alice has acme");
        session.choose_site(&acme.id).await.expect("choose acme");
    }
    (env, session)
}

/// The parts of an `Error::Jira`, or a panic naming what came instead.
fn jira(err: Error) -> (u16, Vec<String>, std::collections::BTreeMap<String, String>) {
    assert_eq!(err.code(), ErrorCode::Jira, "{err:?}");
    match err {
        Error::Jira {
            status,
            error_messages,
            errors,
        } => (status, error_messages, errors),
        other => panic!("expected Error::Jira, got {other:?}"),
    }
}

#[tokio::test(flavor = "current_thread")]
async fn a_jql_error_is_a_jira_error_with_error_messages() {
    let (_env, session) = acme().await;
    for jql in ["project = ", "project = PLAT AND AND", "ORDER BY key DESC"] {
        let params = SearchParams::new(jql);
        for result in [
            session.search_get(&params).await,
            session.search_post(&params).await,
        ] {
            let (status, messages, _) = jira(result.unwrap_err());
            assert_eq!(status, 400, "{jql}");
            assert!(
                !messages.is_empty() && messages.iter().all(|m| !m.is_empty()),
                "{jql}: {messages:?}"
            );
        }
    }
    let (status, messages, _) = jira(session.approximate_count("project = ").await.unwrap_err());
    assert_eq!(status, 400);
    assert!(!messages.is_empty());
    // The walk surfaces the error of its first page.
    let (status, _, _) = jira(
        session
            .search_all(SearchParams::new("ORDER BY key"), 10)
            .await
            .unwrap_err(),
    );
    assert_eq!(status, 400);
}

#[tokio::test(flavor = "current_thread")]
async fn a_missing_field_on_create_names_the_field() {
    let (env, session) = acme().await;
    let (status, _, errors) = jira(
        session
            .create_issue(&CreateIssue::new("PLAT", "Task", ""))
            .await
            .unwrap_err(),
    );
    assert_eq!(status, 400);
    assert!(
        errors.get("summary").is_some_and(|m| !m.is_empty()),
        "{errors:?}"
    );

    let (status, _, errors) = jira(
        session
            .create_issue(&CreateIssue::new("NOPE", "Task", "s"))
            .await
            .unwrap_err(),
    );
    assert_eq!(status, 400);
    assert!(errors.contains_key("project"), "{errors:?}");

    let (status, _, errors) = jira(
        session
            .create_issue(&CreateIssue::new("PLAT", "Unicorn", "s"))
            .await
            .unwrap_err(),
    );
    assert_eq!(status, 400);
    assert!(errors.contains_key("issuetype"), "{errors:?}");

    // A project the user may browse but not create in: 403 with Jira's reason.
    let (status, messages, errors) = jira(
        session
            .create_issue(&CreateIssue::new("SEC", "Task", "s"))
            .await
            .unwrap_err(),
    );
    assert_eq!(status, 403);
    assert!(!messages.is_empty() || !errors.is_empty());

    // A raw field override that removes the summary is refused the same way.
    let mut raw = CreateIssue::new("PLAT", "Task", "s");
    raw.fields = Some(json!({ "summary": null }).as_object().unwrap().clone());
    let (_, _, errors) = jira(session.create_issue(&raw).await.unwrap_err());
    assert!(errors.contains_key("summary"), "{errors:?}");

    assert!(
        env.count("POST /ex/jira/{cloudId}/rest/api/3/issue").await >= 4,
        "all of them reached Jira"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn an_unknown_issue_is_a_404_jira_error_everywhere() {
    let (_env, session) = acme().await;
    let (status, messages, _) = jira(session.get_issue("PLAT-99999").await.unwrap_err());
    assert_eq!(status, 404);
    assert!(
        messages.iter().any(|m| m.contains("does not exist")),
        "{messages:?}"
    );
    assert_eq!(
        jira(session.transitions("PLAT-99999").await.unwrap_err()).0,
        404
    );
    assert_eq!(
        jira(session.comments("PLAT-99999").await.unwrap_err()).0,
        404
    );
    assert_eq!(
        jira(session.add_comment("PLAT-99999", "hi").await.unwrap_err()).0,
        404
    );
    assert_eq!(
        jira(
            session
                .transition_issue("PLAT-99999", "21")
                .await
                .unwrap_err()
        )
        .0,
        404
    );
    let edit = jira_3lo::jira::EditIssue {
        summary: Some("x".into()),
        ..Default::default()
    };
    assert_eq!(
        jira(session.edit_issue("PLAT-99999", &edit).await.unwrap_err()).0,
        404
    );
    assert_eq!(jira(session.issue_types("NOPE").await.unwrap_err()).0, 404);
}

#[tokio::test(flavor = "current_thread")]
async fn a_transition_that_is_not_allowed_is_a_jira_error_and_changes_nothing() {
    let (_env, session) = acme().await;
    let created = session
        .create_issue(&CreateIssue::new("PLAT", "Task", "Stays in To Do"))
        .await
        .unwrap();
    let allowed: Vec<String> = session
        .transitions(&created.key)
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.id)
        .collect();
    // "51" (Reopen) only leaves Done; "999" does not exist.
    for id in ["51", "999"] {
        assert!(!allowed.contains(&id.to_string()));
        let (status, messages, errors) = jira(
            session
                .transition_issue(&created.key, id)
                .await
                .unwrap_err(),
        );
        assert_eq!(status, 400, "{id}");
        assert!(
            !messages.is_empty() || !errors.is_empty(),
            "{id}: Jira says why"
        );
    }
    let issue = session.get_issue(&created.key).await.unwrap();
    assert_eq!(issue.fields.status.unwrap().name, "To Do");
}

#[tokio::test(flavor = "current_thread")]
async fn a_key_cannot_change_the_path() {
    let (env, session) = acme().await;
    // Unencoded, these would reach other issues or other endpoints; encoded, they are one
    // (non-existent) issue key on the issue route.
    for key in [
        "PLAT-1/../PLAT-2",
        "PLAT-1/transitions",
        "A B",
        "PLAT-1?fields=summary",
        "PLAT-1#x",
        "%2e%2e",
    ] {
        let before = env.count(ISSUE_ROUTE).await;
        let (status, _, _) = jira(session.get_issue(key).await.unwrap_err());
        assert_eq!(status, 404, "{key}");
        assert_eq!(
            env.count(ISSUE_ROUTE).await,
            before + 1,
            "{key} reached the issue route"
        );
    }
    let (status, _, _) = jira(
        session
            .add_comment("PLAT-1/../PLAT-2", "x")
            .await
            .unwrap_err(),
    );
    assert_eq!(status, 404);
    assert_eq!(
        env.count("POST /ex/jira/{cloudId}/rest/api/3/issue/{issueIdOrKey}/comment")
            .await,
        1,
        "the comment route, with the whole key as one segment"
    );

    // Dot segments cannot be encoded away (URL parsers resolve them), so they are refused
    // before any request.
    for key in ["..", ".", ""] {
        let before = env.total_requests().await;
        let err = session.get_issue(key).await.unwrap_err();
        assert_eq!(err.code(), ErrorCode::Config, "{key:?}: {err:?}");
        assert_eq!(
            env.total_requests().await,
            before,
            "{key:?}: no request sent"
        );
    }
}

#[tokio::test(flavor = "current_thread")]
async fn jql_is_passed_verbatim() {
    let (_env, session) = acme().await;
    let summary = "Odd chars a+b&c=d #1 50% done";
    let created = session
        .create_issue(&CreateIssue::new("PLAT", "Task", summary))
        .await
        .unwrap();
    let jql = "project = PLAT AND text ~ \"a+b&c=d #1 50%\"";
    for page in [
        session.search_get(&SearchParams::new(jql)).await.unwrap(),
        session.search_post(&SearchParams::new(jql)).await.unwrap(),
    ] {
        let keys: Vec<&str> = page.issues.iter().map(|i| i.key.as_str()).collect();
        assert_eq!(keys, [created.key.as_str()]);
    }
    assert_eq!(session.approximate_count(jql).await.unwrap(), 1);
}

#[tokio::test(flavor = "current_thread")]
async fn a_rate_limited_search_is_retried_because_it_goes_by_get() {
    let (env, session) = acme().await;
    let route = "GET /ex/jira/{cloudId}/rest/api/3/search/jql";
    env.fault(route, 1, json!({"status": 429, "retry_after_secs": 1}))
        .await;
    let page = session
        .search(&SearchParams::new("project = PLAT ORDER BY key ASC"))
        .await
        .expect("retried after Retry-After");
    assert_eq!(page.issues[0].key, "PLAT-1");
    assert_eq!(env.count(route).await, 2, "one 429, one retry");

    // A POST (approximate count) is not replayed: the caller gets the typed wait.
    let route = "POST /ex/jira/{cloudId}/rest/api/3/search/approximate-count";
    env.fault(route, 1, json!({"status": 429, "retry_after_secs": 7}))
        .await;
    match session.approximate_count("project = PLAT").await {
        Err(Error::RateLimited { retry_after_ms, .. }) => assert_eq!(retry_after_ms, 7000),
        other => panic!("{other:?}"),
    }
}
