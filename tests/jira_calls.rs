//! Every Jira call and model against the real fake Atlassian, through the real broker and the
//! real session engine (tests/support). Asserts what the calls return and how many requests
//! they cost (the fake's `/__admin/stats`).
#![cfg(not(target_arch = "wasm32"))]

mod support;

use std::collections::HashSet;

use jira_3lo::jira::{
    adf, CreateIssue, EditIssue, GetIssueOptions, IdOrName, ProjectSearch, SearchParams,
};
use jira_3lo::session::{Session, Status};
use serde_json::json;
use support::{Env, TestPlatform};

const ALICE: &str = "712020:0a11ce00-1a2b-4c3d-8e4f-5a6b7c8d9e01";
const SEARCH_GET: &str = "GET /ex/jira/{cloudId}/rest/api/3/search/jql";
const SEARCH_POST: &str = "POST /ex/jira/{cloudId}/rest/api/3/search/jql";
/// The fake seeds 264 issues in PLAT on the acme site.
const PLAT_ISSUES: usize = 264;

/// alice, signed in, on the acme site (the one with >= 250 issues).
async fn acme() -> (Env, Session<TestPlatform>) {
    let env = support::start().await;
    let session = env.session();
    match env.sign_in(&session).await {
        Status::SiteSelectionRequired { sites } => {
            let acme = sites
                .iter()
                .find(|s| s.name == "acme")
                .expect("alice has acme");
            session.choose_site(&acme.id).await.expect("choose acme");
        }
        Status::SignedIn { site } => assert_eq!(site.name, "acme"),
        other => panic!("{other:?}"),
    }
    (env, session)
}

fn plat(jql_tail: &str) -> SearchParams {
    SearchParams::new(format!("project = PLAT {jql_tail}"))
}

#[tokio::test(flavor = "current_thread")]
async fn myself_is_the_signed_in_user_in_one_request() {
    let (env, session) = acme().await;
    let before = env.total_requests().await;
    let me = session.myself().await.unwrap();
    assert_eq!(me.account_id, ALICE);
    assert_eq!(me.display_name.as_deref(), Some("Alice Anderson"));
    assert_eq!(me.email_address.as_deref(), Some("alice@acme.example"));
    assert!(me.active);
    assert!(me.avatar_urls.contains_key("48x48"), "{:?}", me.avatar_urls);
    assert_eq!(env.total_requests().await - before, 1);
}

#[tokio::test(flavor = "current_thread")]
async fn search_get_and_post_return_the_same_typed_page() {
    let (env, session) = acme().await;
    let mut params = plat("ORDER BY key ASC");
    params.max_results = Some(10);
    let get = session.search_get(&params).await.unwrap();
    let post = session.search_post(&params).await.unwrap();
    assert_eq!(env.count(SEARCH_GET).await, 1);
    assert_eq!(env.count(SEARCH_POST).await, 1);

    assert_eq!(get.issues.len(), 10);
    assert!(!get.is_last && get.next_page_token.is_some());
    let keys =
        |p: &jira_3lo::jira::SearchPage| p.issues.iter().map(|i| i.key.clone()).collect::<Vec<_>>();
    assert_eq!(keys(&get), keys(&post));
    assert_eq!(get.issues[0].key, "PLAT-1");

    // Without `fields`, the typed common fields are filled (not Jira's id-only default).
    let issue = &get.issues[0];
    let f = &issue.fields;
    assert!(f.summary.as_deref().is_some_and(|s| !s.is_empty()));
    let status = f.status.as_ref().expect("status");
    let category = status.status_category.as_ref().expect("statusCategory");
    assert!(
        ["new", "indeterminate", "done"].contains(&category.key.as_str()),
        "{category:?}"
    );
    assert!(category.color_name.is_some());
    assert_eq!(f.project.as_ref().unwrap().key, "PLAT");
    assert!(["Task", "Bug", "Story"].contains(&f.issue_type.as_ref().unwrap().name.as_str()));
    assert!(f.priority.is_some() && f.reporter.is_some() && f.labels.is_some());
    assert!(
        f.created
            .as_deref()
            .is_some_and(|c| c.starts_with("2025-") && c.contains('T')),
        "{:?}",
        f.created
    );
    assert!(f.updated.is_some());
    assert!(
        f.description.is_none(),
        "lists do not fetch descriptions by default"
    );

    // The next page continues where the first stopped.
    params.next_page_token = get.next_page_token.clone();
    let second = session.search(&params).await.unwrap();
    assert_eq!(second.issues[0].key, "PLAT-11");
    assert_eq!(env.count(SEARCH_GET).await, 2, "short JQL goes by GET");
}

#[tokio::test(flavor = "current_thread")]
async fn a_long_jql_goes_by_post() {
    let (env, session) = acme().await;
    // Over MAX_GET_JQL_BYTES once encoded: `search` switches to POST, the result is the same.
    let jql = format!(
        "project in ({}) ORDER BY key ASC",
        vec!["PLAT"; 400].join(", ")
    );
    assert!(jql.len() > jira_3lo::jira::requests::MAX_GET_JQL_BYTES);
    let mut params = SearchParams::new(jql);
    params.max_results = Some(3);
    let page = session.search(&params).await.unwrap();
    let keys: Vec<&str> = page.issues.iter().map(|i| i.key.as_str()).collect();
    assert_eq!(keys, ["PLAT-1", "PLAT-2", "PLAT-3"]);
    assert_eq!(
        (env.count(SEARCH_POST).await, env.count(SEARCH_GET).await),
        (1, 0)
    );
}

#[tokio::test(flavor = "current_thread")]
async fn search_returns_only_the_requested_fields_and_keeps_the_rest_reachable() {
    let (_env, session) = acme().await;
    let mut params = plat("ORDER BY key ASC");
    params.max_results = Some(1);
    params.fields = Some(vec!["summary".into()]);
    let page = session.search(&params).await.unwrap();
    let f = &page.issues[0].fields;
    assert!(f.summary.is_some());
    assert!(f.status.is_none() && f.assignee.is_none() && f.project.is_none());

    params.fields = Some(vec!["*all".into()]);
    let all = session.search(&params).await.unwrap();
    let f = &all.issues[0].fields;
    assert!(f.status.is_some() && f.description.is_some());
}

#[tokio::test(flavor = "current_thread")]
async fn my_open_issues_query_works() {
    let (_env, session) = acme().await;
    let params = SearchParams::new(
        "assignee = currentUser() AND statusCategory != Done ORDER BY updated DESC",
    );
    let page = session.search(&params).await.unwrap();
    assert!(!page.issues.is_empty());
    for issue in &page.issues {
        assert_eq!(issue.fields.assignee.as_ref().unwrap().account_id, ALICE);
        assert_ne!(
            issue
                .fields
                .status
                .as_ref()
                .unwrap()
                .status_category
                .as_ref()
                .unwrap()
                .key,
            "done"
        );
    }
    let updated: Vec<&str> = page
        .issues
        .iter()
        .map(|i| i.fields.updated.as_deref().unwrap())
        .collect();
    let mut sorted = updated.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(updated, sorted, "ORDER BY updated DESC");
}

#[tokio::test(flavor = "current_thread")]
async fn search_all_walks_every_page_and_stops_at_the_limit() {
    let (env, session) = acme().await;
    let mut params = plat("ORDER BY key ASC");
    params.max_results = Some(50);
    params.fields = Some(vec!["summary".into()]);

    let all = session.search_all(params.clone(), 1000).await.unwrap();
    assert_eq!(all.len(), PLAT_ISSUES);
    let keys: HashSet<&str> = all.iter().map(|i| i.key.as_str()).collect();
    assert_eq!(keys.len(), PLAT_ISSUES, "no issue twice");
    assert_eq!(
        env.count(SEARCH_GET).await,
        PLAT_ISSUES.div_ceil(50) as u64,
        "one request per page"
    );

    let some = session.search_all(params.clone(), 120).await.unwrap();
    assert_eq!(some.len(), 120);
    assert_eq!(some[119].key, all[119].key);
    assert_eq!(
        env.count(SEARCH_GET).await,
        6 + 3,
        "50 + 50 + 20: stops at the limit"
    );

    assert!(session.search_all(params, 0).await.unwrap().is_empty());
    assert_eq!(env.count(SEARCH_GET).await, 9, "limit 0 costs nothing");
}

#[tokio::test(flavor = "current_thread")]
async fn approximate_count_counts_the_matches() {
    let (env, session) = acme().await;
    assert_eq!(
        session.approximate_count("project = PLAT").await.unwrap(),
        PLAT_ISSUES as u64
    );
    let open = session
        .approximate_count("project = PLAT AND statusCategory != Done")
        .await
        .unwrap();
    assert!(open > 0 && open < PLAT_ISSUES as u64, "{open}");
    assert_eq!(
        env.count("POST /ex/jira/{cloudId}/rest/api/3/search/approximate-count")
            .await,
        2
    );
}

#[tokio::test(flavor = "current_thread")]
async fn get_issue_by_key_and_by_id() {
    let (_env, session) = acme().await;
    let issue = session.get_issue("PLAT-7").await.unwrap();
    assert_eq!(issue.key, "PLAT-7");
    assert!(issue
        .self_url
        .as_deref()
        .is_some_and(|s| s.contains(&issue.id)));
    let f = &issue.fields;
    assert!(
        f.summary.is_some() && f.status.is_some() && f.issue_type.is_some() && f.priority.is_some()
    );
    assert!(issue
        .description_text()
        .contains("Expected behaviour is described in the runbook."));
    let by_id = session.get_issue(&issue.id).await.unwrap();
    assert_eq!(by_id.key, "PLAT-7");
    assert_eq!(by_id.fields.summary, issue.fields.summary);

    // Fields this crate does not type, and expansions, stay reachable.
    assert!(
        issue.fields.extra["comment"]["comments"].is_array(),
        "{:?}",
        issue.fields.extra.keys()
    );
    let expanded = session
        .get_issue_with(
            "PLAT-7",
            &GetIssueOptions {
                fields: None,
                expand: Some(vec!["transitions".into()]),
            },
        )
        .await
        .unwrap();
    let transitions = expanded.extra["transitions"]
        .as_array()
        .expect("expand=transitions");
    assert!(!transitions.is_empty());
    assert!(!issue.extra.contains_key("transitions"));

    let narrow = session
        .get_issue_with(
            "plat-7",
            &GetIssueOptions {
                fields: Some(vec!["summary".into()]),
                expand: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(
        narrow.key, "PLAT-7",
        "keys are looked up case-insensitively"
    );
    assert!(narrow.fields.summary.is_some() && narrow.fields.status.is_none());
}

#[tokio::test(flavor = "current_thread")]
async fn create_then_read_then_edit_an_issue() {
    let (env, session) = acme().await;
    let mut new = CreateIssue::new("PLAT", "Bug", "Popup crashes when offline");
    new.description = Some("Steps:\n1. go offline\n2. open the popup\n\nIt crashes.".into());
    new.priority = Some(IdOrName::Name {
        name: "High".into(),
    });
    new.assignee_account_id = Some(ALICE.into());
    new.labels = Some(vec!["extension".into(), "offline".into()]);
    let created = session.create_issue(&new).await.unwrap();
    assert!(created.key.starts_with("PLAT-"), "{created:?}");
    assert!(!created.id.is_empty());
    assert_eq!(
        env.count("POST /ex/jira/{cloudId}/rest/api/3/issue").await,
        1
    );

    let issue = session.get_issue(&created.key).await.unwrap();
    assert_eq!(issue.id, created.id);
    let f = &issue.fields;
    assert_eq!(f.summary.as_deref(), Some("Popup crashes when offline"));
    assert_eq!(
        issue.description_text(),
        "Steps:\n1. go offline\n2. open the popup\n\nIt crashes."
    );
    assert_eq!(f.issue_type.as_ref().unwrap().name, "Bug");
    assert_eq!(f.priority.as_ref().unwrap().name, "High");
    assert_eq!(f.assignee.as_ref().unwrap().account_id, ALICE);
    assert_eq!(f.reporter.as_ref().unwrap().account_id, ALICE);
    assert_eq!(
        f.labels.as_deref(),
        Some(&["extension".to_string(), "offline".to_string()][..])
    );
    assert_eq!(
        f.status
            .as_ref()
            .unwrap()
            .status_category
            .as_ref()
            .unwrap()
            .key,
        "new"
    );

    // Issue type and priority by id work too.
    let by_id = session
        .create_issue(&CreateIssue::new("PLAT", "10001", "A task by type id"))
        .await
        .unwrap();
    let task = session.get_issue(&by_id.key).await.unwrap();
    assert_eq!(task.fields.issue_type.unwrap().name, "Task");
    assert!(task.fields.description.is_none());

    let edit = EditIssue {
        summary: Some("Popup crashes when offline (Chrome)".into()),
        description: Some("Only on Chrome.".into()),
        priority: Some("Highest".into()),
        labels: Some(vec!["chrome".into()]),
        fields: Some(json!({ "assignee": null }).as_object().unwrap().clone()),
        ..Default::default()
    };
    session.edit_issue(&created.key, &edit).await.unwrap();
    let edited = session.get_issue(&created.key).await.unwrap();
    assert_eq!(
        edited.fields.summary.as_deref(),
        Some("Popup crashes when offline (Chrome)")
    );
    assert_eq!(edited.description_text(), "Only on Chrome.");
    assert_eq!(edited.fields.priority.unwrap().name, "Highest");
    assert_eq!(
        edited.fields.labels.as_deref(),
        Some(&["chrome".to_string()][..])
    );
    assert!(
        edited.fields.assignee.is_none(),
        "unassigned through fields: {{assignee: null}}"
    );
    assert_eq!(
        env.count("PUT /ex/jira/{cloudId}/rest/api/3/issue/{issueIdOrKey}")
            .await,
        1
    );

    // A created issue is found by search (JQL travels verbatim: quotes, spaces).
    let found = session
        .search(&SearchParams::new(format!(
            "project = PLAT AND text ~ \"{}\"",
            "crashes when offline (Chrome)"
        )))
        .await
        .unwrap();
    assert!(
        found.issues.iter().any(|i| i.key == created.key),
        "{:?}",
        found.issues.iter().map(|i| &i.key).collect::<Vec<_>>()
    );
}

#[tokio::test(flavor = "current_thread")]
async fn issue_types_for_a_create_form() {
    let (_env, session) = acme().await;
    let types = session.issue_types("PLAT").await.unwrap();
    let names: Vec<&str> = types.iter().map(|t| t.name.as_str()).collect();
    for expected in ["Task", "Bug", "Story"] {
        assert!(names.contains(&expected), "{names:?}");
    }
    assert!(types.iter().all(|t| !t.id.is_empty() && !t.subtask));
    assert_eq!(
        session.issue_types("10000").await.unwrap(),
        types,
        "by project id too"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn comments_list_and_add_with_an_adf_body() {
    let (_env, session) = acme().await;
    let before = session.comments("PLAT-1").await.unwrap();
    assert!(before.total >= 1, "PLAT-1 is seeded with comments");
    assert_eq!(before.comments.len() as u64, before.total);
    let first = &before.comments[0];
    assert!(first.author.is_some() && first.created.is_some());
    assert!(!first.body_text().is_empty());

    let text = "Reproduced on 1.2.3.\nSee the log below.\n\nWorking on a fix.";
    let added = session.add_comment("PLAT-1", text).await.unwrap();
    assert_eq!(added.author.as_ref().unwrap().account_id, ALICE);
    assert_eq!(
        added.body.as_ref().unwrap().as_value(),
        &adf::from_plain_text(text)
    );
    assert_eq!(added.body_text(), text);

    let after = session.comments("PLAT-1").await.unwrap();
    assert_eq!(after.total, before.total + 1);
    let last = after.comments.last().unwrap();
    assert_eq!(
        (last.id.as_str(), last.body_text()),
        (added.id.as_str(), text.to_string())
    );

    let page = session.comments_page("PLAT-1", 1, Some(1)).await.unwrap();
    assert_eq!((page.start_at, page.comments.len()), (1, 1));
    assert_eq!(page.comments[0].id, after.comments[1].id);
}

#[tokio::test(flavor = "current_thread")]
async fn transitions_list_and_perform() {
    let (_env, session) = acme().await;
    let created = session
        .create_issue(&CreateIssue::new("PLAT", "Task", "Walk the workflow"))
        .await
        .unwrap();
    let available = session.transitions(&created.key).await.unwrap();
    let start = available
        .iter()
        .find(|t| t.name == "Start Progress")
        .expect("To Do → In Progress");
    assert_eq!(start.to.name, "In Progress");
    assert_eq!(
        start.to.status_category.as_ref().unwrap().key,
        "indeterminate"
    );
    assert!(
        available.iter().all(|t| t.to.name != "To Do"),
        "no transition to the current status"
    );

    session
        .transition_issue(&created.key, &start.id)
        .await
        .unwrap();
    let issue = session.get_issue(&created.key).await.unwrap();
    assert_eq!(issue.fields.status.as_ref().unwrap().name, "In Progress");

    let now = session.transitions(&created.key).await.unwrap();
    let done = now
        .iter()
        .find(|t| {
            t.to.status_category
                .as_ref()
                .is_some_and(|c| c.key == "done")
        })
        .unwrap();
    session
        .transition_issue(&created.key, &done.id)
        .await
        .unwrap();
    let issue = session.get_issue(&created.key).await.unwrap();
    assert_eq!(
        issue.fields.status.unwrap().status_category.unwrap().key,
        "done"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn project_search_pages_by_offset() {
    let (_env, session) = acme().await;
    let everything = session
        .search_projects(&ProjectSearch {
            max_results: Some(100),
            ..Default::default()
        })
        .await
        .unwrap();
    let total = everything.total.expect("total") as usize;
    assert!(everything.is_last && everything.values.len() == total && total >= 3);

    // Pages of two, by startAt, until isLast: the same projects, each once.
    let mut walked = Vec::new();
    for start in (0..).step_by(2).take(10) {
        let page = session
            .search_projects(&ProjectSearch {
                start_at: Some(start),
                max_results: Some(2),
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!((page.start_at, page.max_results), (start, 2));
        assert_eq!(page.total, Some(total as u64));
        walked.extend(page.values.iter().map(|p| p.key.clone()));
        assert_eq!(
            page.is_last,
            walked.len() == total,
            "isLast only on the last page"
        );
        if page.is_last {
            break;
        }
    }
    let all: Vec<String> = everything.values.iter().map(|p| p.key.clone()).collect();
    assert_eq!(walked, all);
    for key in ["PLAT", "WEB", "OPS"] {
        assert!(all.iter().any(|k| k == key), "{all:?}");
    }

    let web = session
        .search_projects(&ProjectSearch {
            query: Some("storefront".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        web.values
            .iter()
            .map(|p| p.key.as_str())
            .collect::<Vec<_>>(),
        ["WEB"]
    );
    assert_eq!(web.values[0].name, "Web Storefront");
    assert_eq!(web.values[0].project_type_key.as_deref(), Some("software"));
}
