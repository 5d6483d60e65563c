//! Pure request builders (sans-IO): each Jira call is described as a [`JiraRequest`] that the
//! session sends. Nothing here does I/O, so every path, query and body is unit-tested natively.
//!
//! Every caller-supplied path segment (issue key, project key, ...) goes through [`segment`],
//! which percent-encodes it and refuses the dot segments that URL parsers would resolve even
//! when encoded: a key like `ABC-1/../x` or `A B` can never change which endpoint is called.
//! JQL is never put into a path: it travels verbatim as a query value or in a JSON body.

use super::adf;
use super::models::{
    is_numeric_id, AssignableSearch, CreateIssue, EditIssue, GetIssueOptions, IssueFields,
    ProjectSearch, SearchParams,
};
use crate::core::api_request::{encode_segment, JiraRequest};
use crate::core::json::{string_object, JsonValue};
use crate::Error;
use serde_json::Map;

/// The fields a search asks for when the caller names none: every typed member of
/// [`IssueFields`] (by its serde name, so a field added to the model is asked for too) except
/// the description, which can be large and is read with the issue itself.
pub fn default_search_fields() -> Vec<String> {
    let typed = crate::core::json::to_text(&IssueFields::default());
    let names: std::collections::BTreeMap<String, serde::de::IgnoredAny> =
        crate::core::json::decode(&typed).unwrap_or_default();
    let mut out = Vec::new();
    for name in names.into_keys() {
        if name != "description" {
            out.push(name);
        }
    }
    out
}

/// Above this many bytes of encoded JQL, [`search`] uses POST so the URL stays short
/// (proxies and browsers start refusing URLs of a few KB).
pub const MAX_GET_JQL_BYTES: usize = 1500;

/// The page size [`super::paging::SearchWalk`] asks for when the caller sets none
/// (Jira's maximum when fields are requested).
pub const DEFAULT_WALK_PAGE_SIZE: u32 = 100;

/// Percent-encodes one caller-supplied path segment, refusing the empty, `.` and `..`
/// segments (URL parsers resolve `..`, `%2e%2e` and the like, so they cannot be encoded away).
pub fn segment(value: &str, what: &str) -> Result<String, Error> {
    // A literal `%` is encoded too (`%2e` → `%252e`), so only these three need refusing.
    if value.is_empty() || value == "." || value == ".." {
        return Err(Error::Config {
            // Quoted as `{value:?}` would (these three need no escaping), without `Debug`'s
            // escaping code in the wasm.
            message: format!("\"{value}\" is not a valid {what}"),
        });
    }
    Ok(encode_segment(value))
}

fn text(value: &str) -> JsonValue {
    JsonValue::from(value)
}

fn texts(values: &[String]) -> JsonValue {
    JsonValue::from(values.to_vec())
}

/// `{key: value}`.
fn object(key: &str, value: JsonValue) -> JsonValue {
    let mut map = Map::new();
    map.insert(key.to_string(), value);
    JsonValue::Object(map)
}

fn issue_path(key: &str, rest: &str) -> Result<String, Error> {
    Ok(format!(
        "/rest/api/3/issue/{}{rest}",
        segment(key, "issue key or id")?
    ))
}

/// `GET /rest/api/3/myself`.
pub fn myself() -> JiraRequest {
    JiraRequest::get("/rest/api/3/myself")
}

fn fields_of(params: &SearchParams) -> Vec<String> {
    match &params.fields {
        Some(fields) => fields.clone(),
        None => default_search_fields(),
    }
}

/// `GET /rest/api/3/search/jql`: retried automatically after a 429 (idempotent).
pub fn search_get(params: &SearchParams) -> JiraRequest {
    let mut req = JiraRequest::get("/rest/api/3/search/jql").query("jql", params.jql.clone());
    let fields = fields_of(params);
    if !fields.is_empty() {
        req = req.query("fields", fields.join(","));
    }
    if let Some(expand) = params.expand.as_ref().filter(|e| !e.is_empty()) {
        req = req.query("expand", expand.join(","));
    }
    if let Some(max) = params.max_results {
        req = req.query("maxResults", max.to_string());
    }
    if let Some(token) = params.next_page_token.as_ref().filter(|t| !t.is_empty()) {
        req = req.query("nextPageToken", token.clone());
    }
    req
}

/// `POST /rest/api/3/search/jql`: no URL length limit for long JQL.
pub fn search_post(params: &SearchParams) -> JiraRequest {
    let mut body = Map::new();
    body.insert("jql".into(), text(&params.jql));
    let fields = fields_of(params);
    if !fields.is_empty() {
        body.insert("fields".into(), texts(&fields));
    }
    if let Some(expand) = params.expand.as_ref().filter(|e| !e.is_empty()) {
        body.insert("expand".into(), text(&expand.join(",")));
    }
    if let Some(max) = params.max_results {
        body.insert("maxResults".into(), JsonValue::from(max));
    }
    if let Some(token) = params.next_page_token.as_ref().filter(|t| !t.is_empty()) {
        body.insert("nextPageToken".into(), text(token));
    }
    JiraRequest::post("/rest/api/3/search/jql", JsonValue::Object(body))
}

/// GET (retry-safe) unless the JQL is long, then POST.
pub fn search(params: &SearchParams) -> JiraRequest {
    if crate::core::urls::form_encoded_len(&params.jql) > MAX_GET_JQL_BYTES {
        search_post(params)
    } else {
        search_get(params)
    }
}

/// `POST /rest/api/3/search/approximate-count` with `{"jql": ...}`.
pub fn approximate_count(jql: &str) -> JiraRequest {
    JiraRequest::post(
        "/rest/api/3/search/approximate-count",
        object("jql", text(jql)),
    )
}

/// `GET /rest/api/3/issue/{issueIdOrKey}`.
pub fn get_issue(key: &str, options: &GetIssueOptions) -> Result<JiraRequest, Error> {
    let mut req = JiraRequest::get(issue_path(key, "")?);
    if let Some(fields) = options.fields.as_ref().filter(|f| !f.is_empty()) {
        req = req.query("fields", fields.join(","));
    }
    if let Some(expand) = options.expand.as_ref().filter(|e| !e.is_empty()) {
        req = req.query("expand", expand.join(","));
    }
    Ok(req)
}

/// `{"accountId": ...}`.
fn account_id(account: &str) -> JsonValue {
    string_object(&[("accountId", account)])
}

fn key_or_id(value: &str) -> JsonValue {
    let key = if is_numeric_id(value) { "id" } else { "key" };
    string_object(&[(key, value)])
}

/// `POST /rest/api/3/issue` with `{"fields": {...}}` built from [`CreateIssue`]; its extra
/// `fields` go in as given and win over the typed members.
pub fn create_issue(issue: &CreateIssue) -> JiraRequest {
    let mut fields = Map::new();
    fields.insert("project".into(), key_or_id(&issue.project_key));
    fields.insert("issuetype".into(), issue.issue_type.to_json());
    fields.insert("summary".into(), text(&issue.summary));
    if let Some(description) = issue.description.as_ref().filter(|t| !t.trim().is_empty()) {
        fields.insert("description".into(), adf::from_plain_text(description));
    }
    if let Some(priority) = &issue.priority {
        fields.insert("priority".into(), priority.to_json());
    }
    if let Some(account) = &issue.assignee_account_id {
        fields.insert("assignee".into(), account_id(account));
    }
    if let Some(labels) = &issue.labels {
        fields.insert("labels".into(), texts(labels));
    }
    if let Some(parent) = &issue.parent {
        fields.insert("parent".into(), key_or_id(parent));
    }
    fields.extend(issue.fields.clone().unwrap_or_default());
    JiraRequest::post("/rest/api/3/issue", object("fields", fields.into()))
}

/// `PUT /rest/api/3/issue/{issueIdOrKey}` with `{"fields": {...}}` (Jira answers 204); the
/// extra `fields` go in as given and win over the typed members.
pub fn edit_issue(key: &str, edit: &EditIssue) -> Result<JiraRequest, Error> {
    let mut fields = Map::new();
    if let Some(summary) = &edit.summary {
        fields.insert("summary".into(), text(summary));
    }
    if let Some(description) = &edit.description {
        let value = if description.trim().is_empty() {
            JsonValue::Null
        } else {
            adf::from_plain_text(description)
        };
        fields.insert("description".into(), value);
    }
    if let Some(priority) = &edit.priority {
        fields.insert("priority".into(), priority.to_json());
    }
    if let Some(account) = &edit.assignee_account_id {
        fields.insert("assignee".into(), account_id(account));
    }
    if let Some(labels) = &edit.labels {
        fields.insert("labels".into(), texts(labels));
    }
    fields.extend(edit.fields.clone().unwrap_or_default());
    Ok(JiraRequest::put(
        issue_path(key, "")?,
        object("fields", fields.into()),
    ))
}

/// `PUT /rest/api/3/issue/{issueIdOrKey}/assignee` with `{"accountId": ...}` (204): `None`
/// unassigns, `"-1"` is the project's default assignee. Needs only the Assign Issues
/// permission, where an edit needs Edit Issues.
pub fn assign_issue(key: &str, account: Option<&str>) -> Result<JiraRequest, Error> {
    let value = account.map_or(JsonValue::Null, text);
    Ok(JiraRequest::put(
        issue_path(key, "/assignee")?,
        object("accountId", value),
    ))
}

/// `GET /rest/api/3/user/assignable/search`: a bare list of users. Jira needs an issue or a
/// project; without either this is a [`Error::Config`] and nothing is sent.
pub fn assignable_users(search: &AssignableSearch) -> Result<JiraRequest, Error> {
    let mut req = JiraRequest::get("/rest/api/3/user/assignable/search");
    let issue = search.issue_key.as_ref().filter(|k| !k.is_empty());
    let project = search.project.as_ref().filter(|p| !p.is_empty());
    if issue.is_none() && project.is_none() {
        return Err(Error::Config {
            message: "an assignable-users search needs an issueKey or a project".into(),
        });
    }
    if let Some(key) = issue {
        req = req.query("issueKey", key.clone());
    }
    if let Some(project) = project {
        req = req.query("project", project.clone());
    }
    if let Some(query) = search.query.as_ref().filter(|q| !q.is_empty()) {
        req = req.query("query", query.clone());
    }
    if let Some(max) = search.max_results {
        req = req.query("maxResults", max.to_string());
    }
    Ok(req)
}

/// `GET /rest/api/3/issue/createmeta/{projectIdOrKey}/issuetypes`.
pub fn issue_types(
    project: &str,
    start_at: u64,
    max_results: Option<u32>,
) -> Result<JiraRequest, Error> {
    let path = format!(
        "/rest/api/3/issue/createmeta/{}/issuetypes",
        segment(project, "project key or id")?
    );
    let mut req = JiraRequest::get(path);
    if start_at > 0 {
        req = req.query("startAt", start_at.to_string());
    }
    if let Some(max) = max_results {
        req = req.query("maxResults", max.to_string());
    }
    Ok(req)
}

/// `GET /rest/api/3/issue/{issueIdOrKey}/comment`, oldest first.
pub fn comments(key: &str, start_at: u64, max_results: Option<u32>) -> Result<JiraRequest, Error> {
    let mut req = JiraRequest::get(issue_path(key, "/comment")?);
    if start_at > 0 {
        req = req.query("startAt", start_at.to_string());
    }
    if let Some(max) = max_results {
        req = req.query("maxResults", max.to_string());
    }
    Ok(req)
}

/// `POST /rest/api/3/issue/{issueIdOrKey}/comment` with an ADF body made of `text`.
pub fn add_comment(key: &str, text: &str) -> Result<JiraRequest, Error> {
    Ok(JiraRequest::post(
        issue_path(key, "/comment")?,
        object("body", adf::from_plain_text(text)),
    ))
}

/// `GET /rest/api/3/issue/{issueIdOrKey}/transitions`.
pub fn transitions(key: &str) -> Result<JiraRequest, Error> {
    Ok(JiraRequest::get(issue_path(key, "/transitions")?))
}

/// `POST /rest/api/3/issue/{issueIdOrKey}/transitions` with `{"transition": {"id": ...}}` (204).
pub fn transition_issue(key: &str, transition_id: &str) -> Result<JiraRequest, Error> {
    Ok(JiraRequest::post(
        issue_path(key, "/transitions")?,
        object("transition", string_object(&[("id", transition_id)])),
    ))
}

/// `GET /rest/api/3/project/search` (offset paging).
pub fn search_projects(search: &ProjectSearch) -> JiraRequest {
    let mut req = JiraRequest::get("/rest/api/3/project/search");
    if let Some(start) = search.start_at {
        req = req.query("startAt", start.to_string());
    }
    if let Some(max) = search.max_results {
        req = req.query("maxResults", max.to_string());
    }
    if let Some(order) = search.order_by.as_ref().filter(|o| !o.is_empty()) {
        req = req.query("orderBy", order.clone());
    }
    if let Some(query) = search.query.as_ref().filter(|q| !q.is_empty()) {
        req = req.query("query", query.clone());
    }
    for key in search.keys.iter().flatten() {
        req = req.query("keys", key.clone());
    }
    req
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::io::Method;
    use crate::jira::models::IdOrName;
    use serde_json::json;

    fn q(req: &JiraRequest) -> Vec<(&str, &str)> {
        req.query
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect()
    }

    #[test]
    fn dynamic_segments_are_encoded_and_dot_segments_refused() {
        assert_eq!(
            get_issue("ABC-1", &Default::default()).unwrap().path,
            "/rest/api/3/issue/ABC-1"
        );
        assert_eq!(
            get_issue("ABC-1/../x", &Default::default()).unwrap().path,
            "/rest/api/3/issue/ABC-1%2F..%2Fx"
        );
        assert_eq!(
            get_issue("A B", &Default::default()).unwrap().path,
            "/rest/api/3/issue/A%20B"
        );
        assert_eq!(
            get_issue("A?b#c&d", &Default::default()).unwrap().path,
            "/rest/api/3/issue/A%3Fb%23c%26d"
        );
        assert_eq!(
            add_comment("X%2F1", "t").unwrap().path,
            "/rest/api/3/issue/X%252F1/comment",
            "a literal % is encoded too"
        );
        for bad in ["", ".", ".."] {
            let err = get_issue(bad, &Default::default()).unwrap_err();
            assert_eq!(err.code(), crate::ErrorCode::Config, "{bad:?}");
            assert!(transitions(bad).is_err() && issue_types(bad, 0, None).is_err());
        }
        assert_eq!(
            get_issue("%2e%2E", &Default::default()).unwrap().path,
            "/rest/api/3/issue/%252e%252E"
        );
        assert_eq!(
            get_issue(" .. ", &Default::default()).unwrap().path,
            "/rest/api/3/issue/%20..%20"
        );
        assert_eq!(
            issue_types("../admin", 0, None).unwrap().path,
            "/rest/api/3/issue/createmeta/..%2Fadmin/issuetypes"
        );
    }

    #[test]
    fn search_get_passes_jql_verbatim_as_a_query_value() {
        let jql = "project = \"A B\" AND text ~ \"x&y=z\" ORDER BY created DESC";
        let mut p = SearchParams::new(jql);
        p.max_results = Some(20);
        p.expand = Some(vec!["names".into(), "renderedFields".into()]);
        p.next_page_token = Some("tok/+=".into());
        let req = search_get(&p);
        assert_eq!(req.method, Method::Get);
        assert_eq!(req.path, "/rest/api/3/search/jql");
        assert_eq!(
            q(&req),
            vec![
                ("jql", jql),
                ("fields", default_search_fields().join(",").as_str()),
                ("expand", "names,renderedFields"),
                ("maxResults", "20"),
                ("nextPageToken", "tok/+="),
            ]
        );
        assert!(req.body.is_none());

        p.fields = Some(vec![]);
        p.expand = Some(vec![]);
        p.next_page_token = Some(String::new());
        p.max_results = None;
        assert_eq!(
            q(&search_get(&p)),
            vec![("jql", jql)],
            "empty lists/tokens are not sent"
        );
    }

    #[test]
    fn search_post_body_and_the_automatic_choice() {
        let mut p = SearchParams::new("assignee = currentUser()");
        p.fields = Some(vec!["summary".into(), "-labels".into()]);
        p.expand = Some(vec!["names".into()]);
        p.max_results = Some(5);
        p.next_page_token = Some("t1".into());
        let req = search_post(&p);
        assert_eq!(req.method, Method::Post);
        assert!(req.query.is_empty());
        assert_eq!(
            req.body.unwrap(),
            json!({"jql": "assignee = currentUser()", "fields": ["summary", "-labels"], "expand": "names",
                   "maxResults": 5, "nextPageToken": "t1"})
        );
        assert_eq!(search(&p).method, Method::Get);
        let long = SearchParams::new(format!("key in ({})", vec!["ABC-1"; 400].join(",")));
        assert_eq!(search(&long).method, Method::Post);
    }

    #[test]
    fn create_issue_body() {
        let mut c = CreateIssue::new("ACME", "Bug", "It broke");
        c.description = Some("line 1\nline 2".into());
        c.priority = Some(IdOrName::Name {
            name: "High".into(),
        });
        c.assignee_account_id = Some("557058:alice".into());
        c.labels = Some(vec!["ui".into()]);
        c.parent = Some("ACME-7".into());
        c.fields = Some(
            json!({"customfield_1": "x", "summary": "overridden"})
                .as_object()
                .unwrap()
                .clone(),
        );
        let req = create_issue(&c);
        assert_eq!(
            (req.method, req.path.as_str()),
            (Method::Post, "/rest/api/3/issue")
        );
        assert_eq!(
            req.body.unwrap(),
            json!({"fields": {
                "project": {"key": "ACME"}, "issuetype": {"name": "Bug"}, "summary": "overridden",
                "description": adf::from_plain_text("line 1\nline 2"),
                "priority": {"name": "High"}, "assignee": {"accountId": "557058:alice"},
                "labels": ["ui"], "parent": {"key": "ACME-7"}, "customfield_1": "x"
            }})
        );
        let minimal = create_issue(&CreateIssue::new("10000", "10001", "s"));
        assert_eq!(
            minimal.body.unwrap(),
            json!({"fields": {"project": {"id": "10000"}, "issuetype": {"id": "10001"}, "summary": "s"}})
        );
    }

    #[test]
    fn edit_issue_body() {
        let edit = EditIssue {
            summary: Some("new".into()),
            description: Some("   ".into()),
            labels: Some(vec![]),
            fields: Some(json!({"assignee": null}).as_object().unwrap().clone()),
            ..Default::default()
        };
        let req = edit_issue("ACME-1", &edit).unwrap();
        assert_eq!(
            (req.method, req.path.as_str()),
            (Method::Put, "/rest/api/3/issue/ACME-1")
        );
        assert_eq!(
            req.body.unwrap(),
            json!({"fields": {"summary": "new", "description": null, "labels": [], "assignee": null}})
        );
    }

    #[test]
    fn assign_and_assignable_users_requests() {
        let req = assign_issue("ACME-1", Some("557058:alice")).unwrap();
        assert_eq!(
            (req.method, req.path.as_str()),
            (Method::Put, "/rest/api/3/issue/ACME-1/assignee")
        );
        assert_eq!(req.body.unwrap(), json!({"accountId": "557058:alice"}));
        assert_eq!(
            assign_issue("ACME-1", None).unwrap().body.unwrap(),
            json!({"accountId": null}),
            "unassign"
        );
        assert!(assign_issue("..", None).is_err());

        let req = assignable_users(&AssignableSearch {
            issue_key: Some("ACME-1".into()),
            query: Some("al ice".into()),
            max_results: Some(20),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(
            (req.method, req.path.as_str()),
            (Method::Get, "/rest/api/3/user/assignable/search")
        );
        assert_eq!(
            q(&req),
            vec![
                ("issueKey", "ACME-1"),
                ("query", "al ice"),
                ("maxResults", "20")
            ]
        );
        let req = assignable_users(&AssignableSearch {
            project: Some("ACME".into()),
            query: Some(String::new()),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(q(&req), vec![("project", "ACME")]);
        let err = assignable_users(&AssignableSearch {
            issue_key: Some(String::new()),
            query: Some("a".into()),
            ..Default::default()
        })
        .unwrap_err();
        assert_eq!(err.code(), crate::ErrorCode::Config);
    }

    #[test]
    fn comment_transition_project_and_meta_requests() {
        let req = add_comment("ACME-1", "hello\n\nworld").unwrap();
        assert_eq!(req.method, Method::Post);
        assert_eq!(
            req.body.unwrap()["body"]["content"]
                .as_array()
                .unwrap()
                .len(),
            2
        );
        let req = comments("ACME-1", 10, Some(5)).unwrap();
        assert_eq!(
            (req.path.as_str(), q(&req)),
            (
                "/rest/api/3/issue/ACME-1/comment",
                vec![("startAt", "10"), ("maxResults", "5")]
            )
        );
        let req = transition_issue("ACME-1", "21").unwrap();
        assert_eq!(req.body.unwrap(), json!({"transition": {"id": "21"}}));
        assert_eq!(
            transitions("ACME-1").unwrap().path,
            "/rest/api/3/issue/ACME-1/transitions"
        );
        let req = issue_types("ACME", 50, Some(50)).unwrap();
        assert_eq!(req.path, "/rest/api/3/issue/createmeta/ACME/issuetypes");
        assert_eq!(q(&req), vec![("startAt", "50"), ("maxResults", "50")]);
        let req = search_projects(&ProjectSearch {
            query: Some("ac me".into()),
            start_at: Some(2),
            max_results: Some(1),
            order_by: Some("name".into()),
            keys: Some(vec!["A".into(), "B".into()]),
        });
        assert_eq!(
            q(&req),
            vec![
                ("startAt", "2"),
                ("maxResults", "1"),
                ("orderBy", "name"),
                ("query", "ac me"),
                ("keys", "A"),
                ("keys", "B")
            ]
        );
        assert_eq!(
            approximate_count("project = A").body.unwrap(),
            json!({"jql": "project = A"})
        );
        assert_eq!(myself().path, "/rest/api/3/myself");
    }
}
