//! The Jira calls through the JavaScript-facing `JiraClient` methods, in headless Chromium,
//! against the real fake Atlassian and the real broker that `cargo xtask test` starts
//! (`JIRA3LO_TEST_FAKE_URL`, `JIRA3LO_TEST_BROKER_URL`; the sign-in comes back through the
//! broker's hosted callback to a frame on the test page).
//!
//! Inputs are real JavaScript objects (`JSON.parse`), outputs are inspected as JavaScript sees
//! them (plain objects, camelCase members, `null`s), and the async iterator is driven through
//! the JS protocol (`[Symbol.asyncIterator]()`, `next()`, `return()`).
#![cfg(target_arch = "wasm32")]

// Only its sign-in helpers are used here.
#[allow(unused_macros, unused_imports)]
#[path = "wasm_platform_shared/mod.rs"]
mod shared;

use std::collections::HashSet;

use jira_3lo::bindings::{ClientConfig, JiraClient};
use js_sys::{Function, Promise, Reflect};
use tsify::Ts;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen]
extern "C" {
    /// The global `fetch` (follows redirects).
    #[wasm_bindgen(js_name = fetch)]
    fn global_fetch(url: &str) -> Promise;
    /// `fetch(url, init)`.
    #[wasm_bindgen(js_name = fetch)]
    fn fetch_with(url: &str, init: &JsValue) -> Promise;
}

const SEARCH_GET: &str = "GET /ex/jira/{cloudId}/rest/api/3/search/jql";

/// Set at compile time by `cargo xtask test`, which starts the fake and the broker.
const FAKE_URL: Option<&str> = option_env!("JIRA3LO_TEST_FAKE_URL");
const BROKER_URL: Option<&str> = option_env!("JIRA3LO_TEST_BROKER_URL");

fn fake_url() -> &'static str {
    match FAKE_URL {
        Some(url) => url,
        None => panic!("run through `cargo xtask test` (JIRA3LO_TEST_FAKE_URL)"),
    }
}

fn broker_url() -> &'static str {
    match BROKER_URL {
        Some(url) => url,
        None => panic!("run through `cargo xtask test` (JIRA3LO_TEST_BROKER_URL)"),
    }
}

/// A real JavaScript value from JSON text.
fn js(json: &str) -> JsValue {
    js_sys::JSON::parse(json).expect("valid JSON")
}

fn ts<T: tsify::Tsify>(json: &str) -> Ts<T> {
    Ts::new_unchecked(js(json))
}

/// `value.a.b.c` the way JavaScript reads it (so a `Map` instead of an object would fail).
fn get(value: &JsValue, path: &str) -> JsValue {
    path.split('.').fold(value.clone(), |v, key| {
        let key: JsValue = match key.parse::<u32>() {
            Ok(i) => i.into(),
            Err(_) => key.into(),
        };
        Reflect::get(&v, &key).unwrap_or(JsValue::UNDEFINED)
    })
}

fn string(value: &JsValue, path: &str) -> String {
    get(value, path)
        .as_string()
        .unwrap_or_else(|| panic!("{path} is not a string: {:?}", get(value, path)))
}

fn len(value: &JsValue) -> u32 {
    js_sys::Array::from(value).length()
}

fn is_plain_object(value: &JsValue) -> bool {
    value.is_object() && !value.is_instance_of::<js_sys::Map>() && !js_sys::Array::is_array(value)
}

/// Awaits a method's promise.
async fn p(promise: Promise) -> Result<JsValue, JsValue> {
    JsFuture::from(promise).await
}

async fn call(function: &JsValue, this: &JsValue) -> JsValue {
    let promise: Promise = function
        .unchecked_ref::<Function>()
        .call0(this)
        .expect("callable")
        .unchecked_into();
    JsFuture::from(promise).await.expect("resolves")
}

/// The fake's admin API (loopback, CORS-enabled): `method {fake}/__admin/{path}` → JSON.
async fn admin(method: &str, path: &str, body: Option<&str>) -> JsValue {
    let init = js_sys::Object::new();
    Reflect::set(&init, &"method".into(), &method.into()).unwrap();
    if let Some(body) = body {
        Reflect::set(&init, &"body".into(), &body.into()).unwrap();
        let headers = js(r#"{"content-type":"application/json"}"#);
        Reflect::set(&init, &"headers".into(), &headers).unwrap();
    }
    let url = format!("{}/__admin/{path}", fake_url());
    let response: web_sys::Response = JsFuture::from(fetch_with(&url, &init))
        .await
        .expect("admin fetch")
        .unchecked_into();
    assert!(response.ok(), "{method} {url}: {}", response.status());
    let text = JsFuture::from(response.text().unwrap())
        .await
        .unwrap()
        .as_string()
        .unwrap();
    js_sys::JSON::parse(&text).unwrap_or(JsValue::NULL)
}

/// Requests the fake served for one route template, e.g. `GET /ex/jira/{cloudId}/rest/api/3/search/jql`.
async fn served(route: &str) -> f64 {
    let stats = admin("GET", "stats", None).await;
    Reflect::get(&get(&stats, "requests"), &route.into())
        .ok()
        .and_then(|n| n.as_f64())
        .unwrap_or(0.0)
}

/// A `JiraClient` in memory storage, signed in as alice on the acme site (264 PLAT issues).
/// The fake is shared with other browser tests: put back what this relies on first.
async fn signed_in(namespace: &str) -> JiraClient {
    admin("DELETE", "faults", None).await;
    admin(
        "POST",
        "settings",
        Some(r#"{"consent_mode":"auto","consent_user":"alice","rate_limit_budget":null}"#),
    )
    .await;
    let config = format!(
        r#"{{"brokerUrl":"{}","apiBaseUrl":"{fake}","storage":"memory","namespace":"{namespace}"}}"#,
        broker_url(),
        fake = fake_url()
    );
    let client = JiraClient::new(ts::<ClientConfig>(&config)).expect("client");
    let authorize = client
        .begin_sign_in(shared::page_callback_uri())
        .await
        .expect("beginSignIn");
    let callback = shared::callback_in_a_frame(&authorize).await;
    let status: JsValue = client
        .complete_sign_in(callback)
        .await
        .expect("completeSignIn")
        .into();
    if string(&status, "state") == "siteSelectionRequired" {
        let sites = get(&status, "sites");
        let acme = js_sys::Array::from(&sites)
            .iter()
            .find(|s| string(s, "name") == "acme")
            .expect("acme");
        let chosen: JsValue = client
            .choose_site(string(&acme, "id"))
            .await
            .expect("chooseSite")
            .into();
        assert_eq!(string(&chosen, "state"), "signedIn");
    }
    client
}

/// The `JiraError` a promise rejected with: (code, details).
fn jira_error(error: JsValue) -> (String, JsValue) {
    assert!(error.is_instance_of::<js_sys::Error>(), "{error:?}");
    assert_eq!(string(&error, "name"), "JiraError");
    (string(&error, "code"), get(&error, "details"))
}

#[wasm_bindgen_test]
async fn search_pages_iterate_and_count_from_javascript() {
    let client = signed_in("wasm-jira-read").await;

    let me: JsValue = p(client.myself()).await.expect("myself");
    assert_eq!(string(&me, "displayName"), "Alice Anderson");

    let page: JsValue = p(client.search(ts(
        r#"{"jql":"project = PLAT ORDER BY key ASC","maxResults":10}"#,
    )))
    .await
    .expect("search");
    assert_eq!(len(&get(&page, "issues")), 10);
    assert_eq!(get(&page, "isLast"), JsValue::FALSE);
    let token = string(&page, "nextPageToken");
    let first = get(&page, "issues.0");
    assert_eq!(string(&first, "key"), "PLAT-1");
    assert!(is_plain_object(&first) && is_plain_object(&get(&first, "fields")));
    assert!(!string(&first, "fields.summary").is_empty());
    assert!(["new", "indeterminate", "done"]
        .contains(&string(&first, "fields.status.statusCategory.key").as_str()));
    assert!(
        string(&first, "fields.created").contains('T'),
        "dates stay ISO strings"
    );
    assert_eq!(string(&first, "fields.project.key"), "PLAT");
    assert!(
        get(&first, "fields.description").is_null(),
        "not requested in lists: null, like Jira's JSON"
    );

    let next: JsValue = p(client.search(ts(&format!(
        r#"{{"jql":"project = PLAT ORDER BY key ASC","maxResults":10,"nextPageToken":"{token}"}}"#
    ))))
    .await
    .expect("second page");
    assert_eq!(string(&next, "issues.0.key"), "PLAT-11");

    // The async iterator, driven exactly as `for await` drives it, stops at the limit and
    // fetches only the pages it needs (50 + 50 + 20).
    let searches_before = served(SEARCH_GET).await;
    let iterator = client
        .search_iter(
            ts(r#"{"jql":"project = PLAT ORDER BY key ASC","maxResults":50,"fields":["summary"]}"#),
            Some(120),
        )
        .expect("searchIter");
    let iterable = Reflect::get(&iterator, &js_sys::Symbol::async_iterator()).unwrap();
    let it = iterable
        .unchecked_ref::<Function>()
        .call0(&iterator)
        .unwrap();
    assert!(
        js_sys::Object::is(&it, &iterator),
        "[Symbol.asyncIterator]() returns the iterator"
    );
    let next_fn = get(&it, "next");
    let mut keys = Vec::new();
    for _ in 0..200 {
        let step = call(&next_fn, &it).await;
        if get(&step, "done") == JsValue::TRUE {
            assert!(get(&step, "value").is_undefined());
            break;
        }
        assert_eq!(get(&step, "done"), JsValue::FALSE);
        keys.push(string(&step, "value.key"));
    }
    assert_eq!(keys.len(), 120);
    assert_eq!(served(SEARCH_GET).await - searches_before, 3.0);
    assert_eq!(keys.iter().collect::<HashSet<_>>().len(), 120);
    assert_eq!(keys[0], "PLAT-1");
    assert_eq!(
        get(&call(&next_fn, &it).await, "done"),
        JsValue::TRUE,
        "stays done"
    );

    // `return()` (what `break` calls) ends an iteration early.
    let early = client
        .search_iter(ts(r#"{"jql":"project = PLAT"}"#), None)
        .unwrap();
    let step = call(&get(&early, "next"), &early).await;
    assert_eq!(get(&step, "done"), JsValue::FALSE);
    let returned = call(&get(&early, "return"), &early).await;
    assert_eq!(get(&returned, "done"), JsValue::TRUE);
    assert_eq!(
        get(&call(&get(&early, "next"), &early).await, "done"),
        JsValue::TRUE
    );

    let all = client
        .search_all(ts(r#"{"jql":"project = PLAT","fields":["summary"]}"#), 1000)
        .await
        .expect("searchAll");
    assert_eq!(all.len(), 264);
    let count = p(client.approximate_count("project = PLAT".into()))
        .await
        .expect("approximateCount");
    assert_eq!(count, 264.0);

    let projects: JsValue = p(client.search_projects(Some(ts(r#"{"maxResults":2}"#))))
        .await
        .expect("searchProjects");
    assert_eq!(len(&get(&projects, "values")), 2);
    assert!(get(&projects, "total").as_f64().is_some_and(|t| t >= 3.0));
    assert_eq!(get(&projects, "isLast"), JsValue::FALSE);
    assert!(!string(&projects, "values.0.key").is_empty());
}

/// A field added to the model (`IssueFields::duedate`) is asked for by a default search and
/// reaches JavaScript: `null` when the issue has none, the date when it has one.
#[wasm_bindgen_test]
async fn a_default_search_returns_the_due_date() {
    let client = signed_in("wasm-jira-duedate").await;
    let page: JsValue = p(client.search(ts(
        r#"{"jql":"project = PLAT ORDER BY key ASC","maxResults":30}"#,
    )))
    .await
    .expect("search");
    let issues = js_sys::Array::from(&get(&page, "issues"));
    let mut dated = 0;
    for issue in issues.iter() {
        let fields = get(&issue, "fields");
        assert!(
            Reflect::has(&fields, &"duedate".into()).unwrap(),
            "every issue carries the member"
        );
        match get(&fields, "duedate").as_string() {
            Some(date) => {
                assert!(date.len() == 10 && date.starts_with("2026-"), "{date}");
                dated += 1;
            }
            None => assert!(get(&fields, "duedate").is_null()),
        }
    }
    assert!(
        dated > 0 && dated < issues.length(),
        "{dated} of {}",
        issues.length()
    );
}

#[wasm_bindgen_test]
async fn create_get_edit_comment_and_transition_from_javascript() {
    let client = signed_in("wasm-jira-write").await;
    let types = client.issue_types("PLAT".into()).await.expect("issueTypes");
    let bug = types
        .into_iter()
        .map(JsValue::from)
        .find(|t| string(t, "name") == "Bug")
        .expect("Bug");

    let created: JsValue = p(client
        .create_issue(ts(&format!(
            r#"{{"projectKey":"PLAT","issueType":{{"id":"{}"}},"summary":"Created from wasm","description":"first line\nsecond line\n\nnext paragraph","priority":"High","labels":["wasm"]}}"#,
            string(&bug, "id")
        ))))
        .await
        .expect("createIssue");
    let key = string(&created, "key");
    assert!(key.starts_with("PLAT-"), "{key}");

    let issue: JsValue = p(client.get_issue(key.clone(), None))
        .await
        .expect("getIssue");
    assert_eq!(string(&issue, "fields.summary"), "Created from wasm");
    assert_eq!(string(&issue, "fields.issuetype.name"), "Bug");
    assert_eq!(string(&issue, "fields.priority.name"), "High");
    assert_eq!(string(&issue, "fields.labels.0"), "wasm");
    let description = get(&issue, "fields.description");
    assert_eq!(string(&description, "type"), "doc");
    assert!(is_plain_object(&description), "ADF arrives as plain JSON");
    assert_eq!(
        jira_3lo::bindings::jira::adf_to_text(description),
        "first line\nsecond line\n\nnext paragraph"
    );

    p(client.edit_issue(
        key.clone(),
        ts(r#"{"summary":"Edited from wasm","fields":{"assignee":null}}"#),
    ))
    .await
    .expect("editIssue");
    let narrow = p(client.get_issue(
        key.clone(),
        Some(ts(r#"{"fields":["summary","assignee"]}"#)),
    ))
    .await
    .expect("getIssue");
    assert_eq!(string(&narrow, "fields.summary"), "Edited from wasm");
    assert!(get(&narrow, "fields.assignee").is_null());

    let comment: JsValue =
        p(client.add_comment(key.clone(), "Hello from the browser.\nSecond line.".into()))
            .await
            .expect("addComment");
    assert_eq!(string(&comment, "body.type"), "doc");
    assert_eq!(string(&comment, "author.displayName"), "Alice Anderson");
    let comments: JsValue = p(client.comments(key.clone(), None))
        .await
        .expect("comments");
    assert_eq!(get(&comments, "total").as_f64(), Some(1.0));
    assert_eq!(string(&comments, "comments.0.id"), string(&comment, "id"));

    let transitions = p(client.transitions(key.clone()))
        .await
        .expect("transitions");
    assert!(js_sys::Array::is_array(&transitions));
    let start = js_sys::Array::from(&transitions)
        .iter()
        .find(|t| string(t, "name") == "Start Progress")
        .expect("Start Progress");
    assert_eq!(string(&start, "to.statusCategory.key"), "indeterminate");
    p(client.transition(key.clone(), string(&start, "id")))
        .await
        .expect("transition");
    let moved: JsValue = p(client.get_issue(key.clone(), None))
        .await
        .expect("getIssue");
    assert_eq!(string(&moved, "fields.status.name"), "In Progress");
}

#[wasm_bindgen_test]
async fn jira_refusals_reject_with_a_typed_jira_error() {
    let client = signed_in("wasm-jira-errors").await;

    let (code, details) = jira_error(
        p(client.get_issue("PLAT-99999".into(), None))
            .await
            .unwrap_err(),
    );
    assert_eq!(code, "jira");
    assert_eq!(get(&details, "status").as_f64(), Some(404.0));
    assert!(len(&get(&details, "errorMessages")) >= 1);

    let (code, details) = jira_error(
        p(client.search(ts(r#"{"jql":"project = "}"#)))
            .await
            .unwrap_err(),
    );
    assert_eq!(code, "jira");
    assert_eq!(get(&details, "status").as_f64(), Some(400.0));
    assert!(len(&get(&details, "errorMessages")) >= 1);

    let (code, details) = jira_error(
        p(client.create_issue(ts(
            r#"{"projectKey":"PLAT","issueType":"Task","summary":""}"#,
        )))
        .await
        .unwrap_err(),
    );
    assert_eq!(code, "jira");
    assert!(!string(&details, "errors.summary").is_empty());

    let (code, _) = jira_error(
        p(client.transition("PLAT-99999".into(), "21".into()))
            .await
            .unwrap_err(),
    );
    assert_eq!(code, "jira");

    // Input JavaScript got wrong is refused before any request, with a clear code.
    let (code, _) = jira_error(
        p(client.search(ts(r#"{"maxResults":5}"#)))
            .await
            .unwrap_err(),
    );
    assert_eq!(code, "config");
    let (code, _) = jira_error(p(client.get_issue("..".into(), None)).await.unwrap_err());
    assert_eq!(code, "config");
}

#[wasm_bindgen_test]
fn adf_helpers_round_trip_plain_text() {
    let text = "One\nTwo\n\nThree";
    let doc = jira_3lo::bindings::jira::text_to_adf(text).expect("textToAdf");
    assert!(is_plain_object(&doc));
    assert_eq!(string(&doc, "type"), "doc");
    assert_eq!(len(&get(&doc, "content")), 2);
    assert_eq!(jira_3lo::bindings::jira::adf_to_text(doc), text);
    assert_eq!(jira_3lo::bindings::jira::adf_to_text(JsValue::NULL), "");
}
