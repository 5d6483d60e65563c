//! Jira Cloud REST v3 under `/ex/jira/{cloudId}/rest/api/3`: myself, JQL search with
//! `nextPageToken`, approximate count, issues (get, create, edit, assign, watchers), comments,
//! transitions, assignable users, project search (offset paging) and create metadata. Writes
//! persist in memory until reset.

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Map, Value};

use super::render::{self, FieldSel, Links};
use super::{gateway, jira_error, json_response, Caller};
use crate::jql;
use crate::seed::{
    self, Comment, Issue, SiteData, ISSUE_TYPES, MEDIUM, PRIORITIES, TODO, TRANSITIONS,
};
use crate::state::{AppState, State as World};
use crate::util::{base64url, base64url_decode, fnv1a};

const READ: &str = "read:jira-work";
const WRITE: &str = "write:jira-work";
const NO_ISSUE: &str = "Issue does not exist or you do not have permission to see it.";

/// Runs the gateway checks or returns its error response.
macro_rules! guard {
    ($st:expr, $headers:expr, $cloud:expr, $scope:expr) => {
        match gateway(&$st, &$headers, Some($cloud.as_str()), Some($scope)) {
            Ok(c) => c,
            Err(r) => return r,
        }
    };
}

fn query_pairs(raw: Option<&str>) -> Vec<(String, String)> {
    url::form_urlencoded::parse(raw.unwrap_or("").as_bytes())
        .into_owned()
        .collect()
}

fn first<'a>(q: &'a [(String, String)], name: &str) -> Option<&'a str> {
    q.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

fn all<'a>(q: &'a [(String, String)], name: &str) -> Vec<&'a str> {
    q.iter()
        .filter(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .collect()
}

fn bad_request(message: &str) -> Response {
    jira_error(StatusCode::BAD_REQUEST, &[message], json!({}))
}

fn parse_json_object(body: &[u8]) -> Result<Map<String, Value>, Response> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(bad_request("The request body must be a JSON object.")),
        Err(e) => Err(bad_request(&format!(
            "Unexpected character in the request body: {e}"
        ))),
    }
}

/// A number query parameter; a non-number is a 400 as in Jira.
fn number(q: &[(String, String)], name: &str) -> Result<Option<i64>, Response> {
    match first(q, name) {
        None => Ok(None),
        Some(v) => v.parse::<i64>().map(Some).map_err(|_| {
            bad_request(&format!(
                "The value '{v}' is not valid for the parameter '{name}'."
            ))
        }),
    }
}

/// `GET /rest/api/3/myself` (scope `read:jira-user`).
pub(crate) async fn myself(
    State(app): State<AppState>,
    Path(cloud): Path<String>,
    headers: HeaderMap,
) -> Response {
    let st = app.lock();
    let caller = guard!(st, headers, cloud, "read:jira-user");
    let links = Links::new(&app.base_url, &st.sites[caller.site]);
    json_response(StatusCode::OK, &render::user(&links, caller.user))
}

struct SearchParams {
    jql: String,
    next_page_token: Option<String>,
    max_results: Option<i64>,
    fields: Option<Vec<String>>,
}

/// `GET /rest/api/3/search/jql`.
pub(crate) async fn search_get(
    State(app): State<AppState>,
    Path(cloud): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Response {
    let st = app.lock();
    let caller = guard!(st, headers, cloud, READ);
    let q = query_pairs(raw.as_deref());
    let max_results = match number(&q, "maxResults") {
        Ok(v) => v,
        Err(r) => return r,
    };
    let fields = all(&q, "fields");
    let params = SearchParams {
        jql: first(&q, "jql").unwrap_or("").to_string(),
        next_page_token: first(&q, "nextPageToken").map(str::to_string),
        max_results,
        fields: (!fields.is_empty()).then(|| fields.iter().map(|s| s.to_string()).collect()),
    };
    search(&app, &st, &caller, params)
}

/// `POST /rest/api/3/search/jql` (body: `SearchAndReconcileRequestBean`).
pub(crate) async fn search_post(
    State(app): State<AppState>,
    Path(cloud): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let st = app.lock();
    let caller = guard!(st, headers, cloud, READ);
    let b = match parse_json_object(&body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let text = |name: &str| -> Result<Option<String>, Response> {
        match b.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(bad_request(&format!("'{name}' must be a string."))),
        }
    };
    let jql = match text("jql") {
        Ok(v) => v.unwrap_or_default(),
        Err(r) => return r,
    };
    let next_page_token = match text("nextPageToken") {
        Ok(v) => v,
        Err(r) => return r,
    };
    let max_results = match b.get("maxResults") {
        None | Some(Value::Null) => None,
        Some(v) => match v.as_i64() {
            Some(n) => Some(n),
            None => return bad_request("'maxResults' must be an integer."),
        },
    };
    let fields = match b.get("fields") {
        None | Some(Value::Null) => None,
        Some(Value::Array(items)) => {
            let mut out = Vec::new();
            for item in items {
                match item.as_str() {
                    Some(s) => out.push(s.to_string()),
                    None => return bad_request("'fields' must be a list of field names."),
                }
            }
            Some(out)
        }
        Some(_) => return bad_request("'fields' must be a list of field names."),
    };
    search(
        &app,
        &st,
        &caller,
        SearchParams {
            jql,
            next_page_token,
            max_results,
            fields,
        },
    )
}

/// Runs a query for the caller's site: 400 for a parse/resolve error or an unbounded query.
fn compile(st: &World, caller: &Caller, text: &str) -> Result<jql::Compiled, Response> {
    let query = jql::parse(text).map_err(|e| bad_request(&e.0))?;
    if !query.is_bounded() {
        return Err(bad_request(
            "Unbounded JQL queries are not allowed here. Please add a search restriction to your query.",
        ));
    }
    jql::compile(&query, &st.sites[caller.site], caller.user, st.now())
        .map_err(|e| bad_request(&e.0))
}

fn page_token(offset: usize, fingerprint: u64) -> String {
    base64url(format!("{offset}.{fingerprint:016x}").as_bytes())
}

fn read_page_token(token: &str, fingerprint: u64) -> Option<usize> {
    let raw = String::from_utf8(base64url_decode(token)?).ok()?;
    let (offset, fp) = raw.split_once('.')?;
    (u64::from_str_radix(fp, 16).ok()? == fingerprint).then_some(())?;
    offset.parse().ok()
}

fn search(app: &AppState, st: &World, caller: &Caller, p: SearchParams) -> Response {
    let compiled = match compile(st, caller, &p.jql) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let site = &st.sites[caller.site];
    // A page token is only good for the query (and site) that produced it.
    let fingerprint = fnv1a(format!("{}\n{}", site.info.cloud_id, p.jql).as_bytes());
    let offset = match p.next_page_token.as_deref() {
        None | Some("") => 0,
        Some(t) => match read_page_token(t, fingerprint) {
            Some(o) => o,
            None => return bad_request("The provided next page token is invalid or expired."),
        },
    };
    let sel = p
        .fields
        .as_ref()
        .map(|f| FieldSel::parse(f.iter().map(String::as_str)));
    // Jira returns more per page when only ids/keys are asked for.
    let cap = if sel.is_none_or(|s| s == FieldSel::parse(["id"])) {
        5000
    } else {
        100
    };
    let max = p.max_results.unwrap_or(50).clamp(1, cap) as usize;

    let mut hits: Vec<&Issue> = site.issues.iter().filter(|i| compiled.matches(i)).collect();
    compiled.sort(site, &mut hits);
    let end = (offset + max).min(hits.len());
    let start = offset.min(end);
    let links = Links::new(&app.base_url, site);
    let issues: Vec<Value> = hits[start..end]
        .iter()
        .map(|i| match sel {
            // The new search returns only ids unless fields are asked for.
            None => json!({"id": i.id.to_string()}),
            Some(sel) => render::issue(&links, i, sel),
        })
        .collect();
    let is_last = end >= hits.len();
    let mut body = json!({"issues": issues, "isLast": is_last});
    if !is_last {
        body["nextPageToken"] = Value::String(page_token(end, fingerprint));
    }
    json_response(StatusCode::OK, &body)
}

/// `POST /rest/api/3/search/approximate-count` body `{"jql": "..."}` → `{"count": n}`.
pub(crate) async fn approximate_count(
    State(app): State<AppState>,
    Path(cloud): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let st = app.lock();
    let caller = guard!(st, headers, cloud, READ);
    let b = match parse_json_object(&body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let Some(text) = b.get("jql").and_then(Value::as_str) else {
        return bad_request("'jql' is required.");
    };
    let compiled = match compile(&st, &caller, text) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let count = st.sites[caller.site]
        .issues
        .iter()
        .filter(|i| compiled.matches(i))
        .count();
    json_response(StatusCode::OK, &json!({"count": count}))
}

/// The removed `/rest/api/3/search` answers 410, as on Jira Cloud since 2025.
pub(crate) async fn removed_search(
    State(app): State<AppState>,
    Path(cloud): Path<String>,
    headers: HeaderMap,
) -> Response {
    let st = app.lock();
    let _caller = guard!(st, headers, cloud, READ);
    json_response(
        StatusCode::GONE,
        &json!({"errorMessages": ["The requested API has been removed. Please migrate to the /rest/api/3/search/jql API. A full migration guideline is available at https://developer.atlassian.com/changelog/#CHANGE-2046"]}),
    )
}

fn find(site: &SiteData, key: &str) -> Result<usize, Response> {
    site.find_issue(key)
        .ok_or_else(|| jira_error(StatusCode::NOT_FOUND, &[NO_ISSUE], json!({})))
}

/// Writes into a read-only project (seed: acme's SEC) are a 403 ErrorCollection.
fn writable(site: &SiteData, project: usize, action: &str) -> Result<(), Response> {
    if site.projects[project].read_only {
        let msg = format!("You do not have permission to {action} issues in this project.");
        return Err(jira_error(StatusCode::FORBIDDEN, &[&msg], json!({})));
    }
    Ok(())
}

/// The preamble of a write to one issue: finds it (404), checks its project is
/// writable (403), then parses the body as a JSON object (400), in that order.
fn writable_issue(
    site: &SiteData,
    key: &str,
    action: &str,
    body: &[u8],
) -> Result<(usize, Map<String, Value>), Response> {
    let idx = find(site, key)?;
    writable(site, site.issues[idx].project, action)?;
    Ok((idx, parse_json_object(body)?))
}

/// `GET /rest/api/3/issue/{issueIdOrKey}` (`fields` default `*all`; `expand=transitions`).
pub(crate) async fn get_issue(
    State(app): State<AppState>,
    Path((cloud, key)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Response {
    let st = app.lock();
    let caller = guard!(st, headers, cloud, READ);
    let site = &st.sites[caller.site];
    let idx = match find(site, &key) {
        Ok(i) => i,
        Err(r) => return r,
    };
    let q = query_pairs(raw.as_deref());
    let fields = all(&q, "fields");
    let sel = if fields.is_empty() {
        FieldSel::ALL
    } else {
        FieldSel::parse(fields)
    };
    let links = Links::new(&app.base_url, site);
    let issue = &site.issues[idx];
    let mut body = render::issue(&links, issue, sel);
    if first(&q, "expand").is_some_and(|e| e.split(',').any(|x| x.trim() == "transitions")) {
        body["transitions"] = available_transitions(&links, issue, None);
    }
    json_response(StatusCode::OK, &body)
}

/// An ADF document: `{"type": "doc", "version": 1, "content": [nodes with a type]}`.
fn is_adf(v: &Value) -> bool {
    let Some(doc) = v.as_object() else {
        return false;
    };
    doc.get("type").and_then(Value::as_str) == Some("doc")
        && doc.get("version").and_then(Value::as_u64) == Some(1)
        && doc
            .get("content")
            .and_then(Value::as_array)
            .is_some_and(|nodes| {
                nodes
                    .iter()
                    .all(|n| n.get("type").and_then(Value::as_str).is_some())
            })
}

/// Resolves `{"id": ..}` / `{"name": ..}` against a catalog of (id, name).
fn by_id_or_name(v: &Value, catalog: &[(&str, &str)]) -> Option<usize> {
    let o = v.as_object()?;
    let id = o.get("id").map(|x| {
        x.as_str()
            .map(str::to_string)
            .unwrap_or_else(|| x.to_string())
    });
    let name = o.get("name").and_then(Value::as_str);
    catalog.iter().position(|(cid, cname)| {
        id.as_deref() == Some(*cid) || name.is_some_and(|n| n.eq_ignore_ascii_case(cname))
    })
}

#[derive(Default)]
struct Changes {
    summary: Option<String>,
    description: Option<Option<Value>>,
    labels: Option<Vec<String>>,
    add_labels: Vec<String>,
    remove_labels: Vec<String>,
    assignee: Option<Option<usize>>,
    priority: Option<usize>,
    issue_type: Option<usize>,
    comments: Vec<Value>,
}

fn cannot_set(field: &str) -> Value {
    json!(format!(
        "Field '{field}' cannot be set. It is not on the appropriate screen, or unknown."
    ))
}

fn label_ok(l: &str) -> bool {
    !l.is_empty() && !l.chars().any(char::is_whitespace) && l.len() <= 255
}

/// Validates `fields` and `update` of an edit or create; every problem lands in `errors`.
fn read_changes(
    site: &SiteData,
    fields: Option<&Map<String, Value>>,
    update: Option<&Map<String, Value>>,
    creating: bool,
    errors: &mut Map<String, Value>,
) -> Changes {
    let mut c = Changes::default();
    let types: Vec<(&str, &str)> = ISSUE_TYPES.iter().map(|t| (t.id, t.name)).collect();
    let priorities: Vec<(&str, &str)> = PRIORITIES.iter().map(|p| (p.id, p.name)).collect();
    for (name, v) in fields.into_iter().flatten() {
        match name.as_str() {
            "summary" => match v.as_str().map(str::trim) {
                Some(s) if !s.is_empty() && s.len() <= 255 => c.summary = Some(s.to_string()),
                _ => {
                    errors.insert(
                        "summary".into(),
                        json!("You must specify a summary of the issue."),
                    );
                }
            },
            "description" => {
                if v.is_null() {
                    c.description = Some(None);
                } else if is_adf(v) {
                    c.description = Some(Some(v.clone()));
                } else {
                    errors.insert(
                        "description".into(),
                        json!("Operation value must be an Atlassian Document (see the Atlassian Document Format)"),
                    );
                }
            }
            "labels" => match v.as_array().map(|a| {
                a.iter()
                    .map(|x| x.as_str().map(str::to_string))
                    .collect::<Option<Vec<_>>>()
            }) {
                Some(Some(labels)) if labels.iter().all(|l| label_ok(l)) => c.labels = Some(labels),
                _ => {
                    errors.insert(
                        "labels".into(),
                        json!("Labels must be a list of strings without spaces."),
                    );
                }
            },
            "assignee" => {
                if v.is_null() {
                    c.assignee = Some(None);
                } else {
                    let account = v.get("accountId").and_then(Value::as_str).unwrap_or("");
                    match seed::user_by_account(account).filter(|u| site.members().contains(u)) {
                        Some(u) => c.assignee = Some(Some(u)),
                        None => {
                            errors.insert(
                                "assignee".into(),
                                json!(format!("User '{account}' cannot be assigned issues.")),
                            );
                        }
                    }
                }
            }
            "priority" => match by_id_or_name(v, &priorities) {
                Some(p) => c.priority = Some(p),
                None => {
                    errors.insert(
                        "priority".into(),
                        json!("Specify a valid priority id or name"),
                    );
                }
            },
            "issuetype" => match by_id_or_name(v, &types) {
                Some(t) => c.issue_type = Some(t),
                None => {
                    errors.insert("issuetype".into(), json!("Specify a valid issue type"));
                }
            },
            "project" if creating => {}
            other => {
                errors.insert(other.to_string(), cannot_set(other));
            }
        }
    }
    for (name, ops) in update.into_iter().flatten() {
        let Some(ops) = ops.as_array() else {
            errors.insert(name.clone(), json!("Update operations must be a list."));
            continue;
        };
        for op in ops {
            match (name.as_str(), op.as_object().and_then(|o| o.iter().next())) {
                ("labels", Some((verb, Value::String(l))))
                    if label_ok(l) && (verb == "add" || verb == "remove") =>
                {
                    if verb == "add" {
                        c.add_labels.push(l.clone());
                    } else {
                        c.remove_labels.push(l.clone());
                    }
                }
                ("summary", Some((verb, Value::String(s))))
                    if verb == "set" && !s.trim().is_empty() =>
                {
                    c.summary = Some(s.trim().to_string());
                }
                ("comment", Some((verb, body))) if verb == "add" => match body.get("body") {
                    Some(b) if is_adf(b) => c.comments.push(b.clone()),
                    _ => {
                        errors.insert("comment".into(), json!("Comment body is not valid!"));
                    }
                },
                ("labels" | "summary" | "comment", _) => {
                    errors.insert(
                        name.clone(),
                        json!(format!("The update operation for '{name}' is not valid.")),
                    );
                }
                _ => {
                    errors.insert(name.clone(), cannot_set(name));
                }
            }
        }
    }
    c
}

fn apply(site: &mut SiteData, idx: usize, c: Changes, author: usize, now: u64) {
    let mut comment_id = site.next_comment_id;
    let issue = &mut site.issues[idx];
    if let Some(s) = c.summary {
        issue.summary = s;
    }
    if let Some(d) = c.description {
        issue.description = d;
    }
    if let Some(l) = c.labels {
        issue.labels = l;
    }
    for l in c.add_labels {
        if !issue.labels.contains(&l) {
            issue.labels.push(l);
        }
    }
    issue.labels.retain(|l| !c.remove_labels.contains(l));
    if let Some(a) = c.assignee {
        issue.assignee = a;
    }
    if let Some(p) = c.priority {
        issue.priority = p;
    }
    if let Some(t) = c.issue_type {
        issue.issue_type = t;
    }
    if !c.comments.is_empty() && !issue.watchers.contains(&author) {
        issue.watchers.push(author); // autowatch: commenting on an issue watches it
    }
    for body in c.comments {
        issue.comments.push(Comment {
            id: comment_id,
            author,
            body,
            created: now,
            updated: now,
        });
        comment_id += 1;
    }
    issue.updated = now;
    site.next_comment_id = comment_id;
}

/// `PUT /rest/api/3/issue/{issueIdOrKey}` → 204 (or 200 with the issue for `returnIssue=true`).
pub(crate) async fn edit_issue(
    State(app): State<AppState>,
    Path((cloud, key)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut st = app.lock();
    let caller = guard!(st, headers, cloud, WRITE);
    let (idx, b) = match writable_issue(&st.sites[caller.site], &key, "edit", &body) {
        Ok(found) => found,
        Err(r) => return r,
    };
    let mut errors = Map::new();
    let fields = b.get("fields").and_then(Value::as_object);
    let update = b.get("update").and_then(Value::as_object);
    let changes = read_changes(&st.sites[caller.site], fields, update, false, &mut errors);
    if !errors.is_empty() {
        return jira_error(StatusCode::BAD_REQUEST, &[], Value::Object(errors));
    }
    let now = st.now();
    apply(&mut st.sites[caller.site], idx, changes, caller.user, now);
    let q = query_pairs(raw.as_deref());
    if first(&q, "returnIssue") == Some("true") {
        let site = &st.sites[caller.site];
        return json_response(
            StatusCode::OK,
            &render::issue(
                &Links::new(&app.base_url, site),
                &site.issues[idx],
                FieldSel::ALL,
            ),
        );
    }
    StatusCode::NO_CONTENT.into_response()
}

/// `POST /rest/api/3/issue` → 201 `{"id", "key", "self"}`.
pub(crate) async fn create_issue(
    State(app): State<AppState>,
    Path(cloud): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut st = app.lock();
    let caller = guard!(st, headers, cloud, WRITE);
    let b = match parse_json_object(&body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let Some(fields) = b.get("fields").and_then(Value::as_object) else {
        return jira_error(
            StatusCode::BAD_REQUEST,
            &[],
            json!({"project": "Specify a valid project ID or key", "summary": "You must specify a summary of the issue.", "issuetype": "Specify an issue type"}),
        );
    };
    let site = &st.sites[caller.site];
    let mut errors = Map::new();
    let project = fields.get("project").and_then(|p| {
        let key = p.get("key").and_then(Value::as_str).map(str::to_string);
        let id = p.get("id").map(|x| {
            x.as_str()
                .map(str::to_string)
                .unwrap_or_else(|| x.to_string())
        });
        key.or(id).and_then(|k| site.find_project(&k))
    });
    if project.is_none() {
        errors.insert("project".into(), json!("Specify a valid project ID or key"));
    }
    if !fields.contains_key("issuetype") {
        errors.insert("issuetype".into(), json!("Specify an issue type"));
    }
    if !fields.contains_key("summary") {
        errors.insert(
            "summary".into(),
            json!("You must specify a summary of the issue."),
        );
    }
    let changes = read_changes(
        site,
        Some(fields),
        b.get("update").and_then(Value::as_object),
        true,
        &mut errors,
    );
    let (Some(project), true) = (project, errors.is_empty()) else {
        return jira_error(StatusCode::BAD_REQUEST, &[], Value::Object(errors));
    };
    if let Err(r) = writable(&st.sites[caller.site], project, "create") {
        return r;
    }
    let now = st.now();
    let site = &mut st.sites[caller.site];
    let number = site
        .issues
        .iter()
        .filter(|i| i.project == project)
        .map(|i| i.number)
        .max()
        .unwrap_or(0)
        + 1;
    let id = site.next_issue_id;
    site.next_issue_id += 1;
    site.issues.push(Issue {
        id,
        project,
        number,
        summary: String::new(),
        description: None,
        status: TODO,
        issue_type: 0,
        priority: MEDIUM,
        assignee: None,
        reporter: caller.user,
        labels: Vec::new(),
        watchers: vec![caller.user],
        duedate: None,
        created: now,
        updated: now,
        comments: Vec::new(),
    });
    let idx = site.issues.len() - 1;
    apply(site, idx, changes, caller.user, now);
    // Autowatch: the reporter and the assignee a new issue starts with.
    let issue = &mut site.issues[idx];
    if let Some(a) = issue.assignee.filter(|a| !issue.watchers.contains(a)) {
        issue.watchers.push(a);
    }
    let links = Links::new(&app.base_url, site);
    let key = site.issue_key(&site.issues[idx]);
    json_response(
        StatusCode::CREATED,
        &json!({"id": id.to_string(), "key": key, "self": format!("{}/issue/{}", links.api, id)}),
    )
}

/// `GET /rest/api/3/issue/{issueIdOrKey}/comment` (`startAt`, `maxResults`, `orderBy`).
pub(crate) async fn get_comments(
    State(app): State<AppState>,
    Path((cloud, key)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Response {
    let st = app.lock();
    let caller = guard!(st, headers, cloud, READ);
    let site = &st.sites[caller.site];
    let idx = match find(site, &key) {
        Ok(i) => i,
        Err(r) => return r,
    };
    let q = query_pairs(raw.as_deref());
    let (start, max) = match (number(&q, "startAt"), number(&q, "maxResults")) {
        (Ok(s), Ok(m)) => (
            s.unwrap_or(0).max(0) as usize,
            m.unwrap_or(5000).clamp(0, 5000) as usize,
        ),
        (Err(r), _) | (_, Err(r)) => return r,
    };
    let issue = &site.issues[idx];
    let mut comments: Vec<&Comment> = issue.comments.iter().collect();
    if first(&q, "orderBy") == Some("-created") {
        comments.reverse();
    }
    let links = Links::new(&app.base_url, site);
    let page: Vec<Value> = comments
        .iter()
        .skip(start)
        .take(max)
        .map(|c| render::comment(&links, issue.id, c))
        .collect();
    json_response(
        StatusCode::OK,
        &json!({"startAt": start, "maxResults": max, "total": comments.len(), "comments": page}),
    )
}

/// `POST /rest/api/3/issue/{issueIdOrKey}/comment` body `{"body": <ADF>}` → 201 Comment.
pub(crate) async fn add_comment(
    State(app): State<AppState>,
    Path((cloud, key)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut st = app.lock();
    let caller = guard!(st, headers, cloud, WRITE);
    let (idx, b) = match writable_issue(&st.sites[caller.site], &key, "comment on", &body) {
        Ok(found) => found,
        Err(r) => return r,
    };
    // v3 takes ADF only; a plain string body is refused.
    let Some(doc) = b.get("body").filter(|d| is_adf(d)) else {
        return jira_error(
            StatusCode::BAD_REQUEST,
            &[],
            json!({"comment": "Comment body is not valid!"}),
        );
    };
    let now = st.now();
    let changes = Changes {
        comments: vec![doc.clone()],
        ..Changes::default()
    };
    let site = &mut st.sites[caller.site];
    apply(site, idx, changes, caller.user, now);
    let issue = &site.issues[idx];
    let links = Links::new(&app.base_url, site);
    let created = issue
        .comments
        .last()
        .map(|c| render::comment(&links, issue.id, c))
        .unwrap_or(Value::Null);
    json_response(StatusCode::CREATED, &created)
}

fn available_transitions(links: &Links, issue: &Issue, only: Option<&str>) -> Value {
    Value::Array(
        TRANSITIONS
            .iter()
            .filter(|t| t.from.contains(&issue.status) && only.is_none_or(|id| id == t.id))
            .map(|t| render::transition(links, t))
            .collect(),
    )
}

/// `GET /rest/api/3/issue/{issueIdOrKey}/transitions` (`transitionId` filters; unknown → empty).
pub(crate) async fn get_transitions(
    State(app): State<AppState>,
    Path((cloud, key)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Response {
    let st = app.lock();
    let caller = guard!(st, headers, cloud, READ);
    let site = &st.sites[caller.site];
    let idx = match find(site, &key) {
        Ok(i) => i,
        Err(r) => return r,
    };
    let q = query_pairs(raw.as_deref());
    let links = Links::new(&app.base_url, site);
    let transitions = available_transitions(&links, &site.issues[idx], first(&q, "transitionId"));
    json_response(
        StatusCode::OK,
        &json!({"expand": "transitions", "transitions": transitions}),
    )
}

/// `POST /rest/api/3/issue/{issueIdOrKey}/transitions` body `{"transition": {"id": ".."}}` → 204.
pub(crate) async fn do_transition(
    State(app): State<AppState>,
    Path((cloud, key)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut st = app.lock();
    let caller = guard!(st, headers, cloud, WRITE);
    let (idx, b) = match writable_issue(&st.sites[caller.site], &key, "transition", &body) {
        Ok(found) => found,
        Err(r) => return r,
    };
    let id = b.get("transition").and_then(|t| t.get("id")).map(|x| {
        x.as_str()
            .map(str::to_string)
            .unwrap_or_else(|| x.to_string())
    });
    let Some(id) = id else {
        return bad_request("Missing 'transition' identifier");
    };
    let status = st.sites[caller.site].issues[idx].status;
    let Some(t) = TRANSITIONS
        .iter()
        .find(|t| t.id == id && t.from.contains(&status))
    else {
        return bad_request(&format!(
            "Transition id '{id}' is not valid for this issue."
        ));
    };
    let mut errors = Map::new();
    let changes = read_changes(
        &st.sites[caller.site],
        b.get("fields").and_then(Value::as_object),
        b.get("update").and_then(Value::as_object),
        false,
        &mut errors,
    );
    if !errors.is_empty() {
        return jira_error(StatusCode::BAD_REQUEST, &[], Value::Object(errors));
    }
    let now = st.now();
    let site = &mut st.sites[caller.site];
    site.issues[idx].status = t.to;
    apply(site, idx, changes, caller.user, now);
    StatusCode::NO_CONTENT.into_response()
}

/// `PUT /rest/api/3/issue/{issueIdOrKey}/assignee` body `{"accountId": ".."}` → 204;
/// `"accountId": null` unassigns, `"-1"` assigns the project's default assignee (its lead).
/// Someone who is not a member of the site is a 400 `errors.assignee`.
pub(crate) async fn assign(
    State(app): State<AppState>,
    Path((cloud, key)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut st = app.lock();
    let caller = guard!(st, headers, cloud, WRITE);
    let site = &st.sites[caller.site];
    let (idx, b) = match writable_issue(site, &key, "assign", &body) {
        Ok(found) => found,
        Err(r) => return r,
    };
    let assignee = match b.get("accountId") {
        Some(Value::Null) => None,
        Some(Value::String(a)) if a == "-1" => Some(site.projects[site.issues[idx].project].lead),
        Some(Value::String(a)) => {
            match seed::user_by_account(a).filter(|u| site.members().contains(u)) {
                Some(u) => Some(u),
                None => {
                    return jira_error(
                        StatusCode::BAD_REQUEST,
                        &[],
                        json!({"assignee": format!("User '{a}' cannot be assigned issues.")}),
                    )
                }
            }
        }
        _ => return bad_request("'accountId' is required: an account id, \"-1\" or null."),
    };
    let now = st.now();
    let changes = Changes {
        assignee: Some(assignee),
        ..Changes::default()
    };
    apply(&mut st.sites[caller.site], idx, changes, caller.user, now);
    StatusCode::NO_CONTENT.into_response()
}

/// `GET /rest/api/3/issue/{issueIdOrKey}/watchers` → `{self, isWatching, watchCount, watchers}`.
pub(crate) async fn watchers(
    State(app): State<AppState>,
    Path((cloud, key)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let st = app.lock();
    let caller = guard!(st, headers, cloud, READ);
    let site = &st.sites[caller.site];
    let idx = match find(site, &key) {
        Ok(i) => i,
        Err(r) => return r,
    };
    let links = Links::new(&app.base_url, site);
    let issue = &site.issues[idx];
    let watchers: Vec<Value> = issue
        .watchers
        .iter()
        .map(|&u| render::user(&links, u))
        .collect();
    json_response(
        StatusCode::OK,
        &json!({
            "self": format!("{}/issue/{}/watchers", links.api, key),
            "isWatching": issue.watchers.contains(&caller.user),
            "watchCount": watchers.len(),
            "watchers": watchers,
        }),
    )
}

/// `GET /rest/api/3/user/assignable/search` (scope `read:jira-user`): the site members who can
/// be assigned an issue (`issueKey` / `issueId`) or issues of a project (`project`), one of
/// which is required; `query` matches the start of a name word or the email, `accountId`
/// exactly; `startAt`, `maxResults` (default 50). A bare list of `User`s. Nobody can be
/// assigned in a read-only project.
pub(crate) async fn assignable_users(
    State(app): State<AppState>,
    Path(cloud): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Response {
    let st = app.lock();
    let caller = guard!(st, headers, cloud, "read:jira-user");
    let site = &st.sites[caller.site];
    let q = query_pairs(raw.as_deref());
    let issue = first(&q, "issueKey").or_else(|| first(&q, "issueId"));
    let project = match (issue, first(&q, "project")) {
        (Some(key), _) => match find(site, key) {
            Ok(i) => site.issues[i].project,
            Err(r) => return r,
        },
        (None, Some(p)) => match site.find_project(p) {
            Some(p) => p,
            None => {
                return jira_error(
                    StatusCode::NOT_FOUND,
                    &[&format!("No project could be found with key '{p}'.")],
                    json!({}),
                )
            }
        },
        (None, None) => {
            return bad_request(
                "One of the following parameters must be provided: issueKey, issueId, project.",
            )
        }
    };
    let (start, max) = match (number(&q, "startAt"), number(&q, "maxResults")) {
        (Ok(s), Ok(m)) => (
            s.unwrap_or(0).max(0) as usize,
            m.unwrap_or(50).clamp(0, 1000) as usize,
        ),
        (Err(r), _) | (_, Err(r)) => return r,
    };
    let needle = first(&q, "query").map(|n| n.trim().to_lowercase());
    let account = first(&q, "accountId");
    let links = Links::new(&app.base_url, site);
    let users: Vec<Value> = if site.projects[project].read_only {
        Vec::new()
    } else {
        site.members()
            .into_iter()
            .filter(|&u| {
                let user = &seed::USERS[u];
                account.is_none_or(|a| a == user.account_id)
                    && needle.as_deref().is_none_or(|n| {
                        n.is_empty()
                            || user.email.starts_with(n)
                            || user
                                .name
                                .to_lowercase()
                                .split(' ')
                                .any(|w| w.starts_with(n))
                    })
            })
            .skip(start)
            .take(max)
            .map(|u| render::user(&links, u))
            .collect()
    };
    json_response(StatusCode::OK, &Value::Array(users))
}

/// `GET /rest/api/3/project/search`: offset paging (`startAt`, `maxResults` ≤ 100), `query`,
/// `keys`, `id`, `orderBy` (`key`, `name`, `id`, optionally prefixed `+`/`-`). Like the
/// spec says, no match at all is a 404.
pub(crate) async fn project_search(
    State(app): State<AppState>,
    Path(cloud): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Response {
    let st = app.lock();
    let caller = guard!(st, headers, cloud, READ);
    let site = &st.sites[caller.site];
    let q = query_pairs(raw.as_deref());
    let (start, max) = match (number(&q, "startAt"), number(&q, "maxResults")) {
        (Ok(s), Ok(m)) => (
            s.unwrap_or(0).max(0) as usize,
            m.unwrap_or(50).clamp(1, 100) as usize,
        ),
        (Err(r), _) | (_, Err(r)) => return r,
    };
    let needle = first(&q, "query").map(str::to_lowercase);
    let keys: Vec<&str> = all(&q, "keys")
        .into_iter()
        .flat_map(|k| k.split(','))
        .collect();
    let ids: Vec<&str> = all(&q, "id")
        .into_iter()
        .flat_map(|k| k.split(','))
        .collect();
    let type_ok = first(&q, "typeKey").is_none_or(|t| t == "software");
    let mut projects: Vec<&seed::Project> = site
        .projects
        .iter()
        .filter(|p| {
            type_ok
                && needle.as_ref().is_none_or(|n| {
                    p.key.to_lowercase().contains(n) || p.name.to_lowercase().contains(n)
                })
                && (keys.is_empty() || keys.iter().any(|k| k.eq_ignore_ascii_case(&p.key)))
                && (ids.is_empty() || ids.contains(&p.id.to_string().as_str()))
        })
        .collect();
    let order = first(&q, "orderBy").unwrap_or("key");
    let (desc, by) = match order.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, order.trim_start_matches('+')),
    };
    match by {
        "name" => projects.sort_by_key(|p| p.name.to_lowercase()),
        "id" => projects.sort_by_key(|p| p.id),
        "key" => projects.sort_by(|a, b| a.key.cmp(&b.key)),
        other => {
            return bad_request(&format!(
                "The value '{other}' is not valid for the parameter 'orderBy'."
            ))
        }
    }
    if desc {
        projects.reverse();
    }
    if projects.is_empty() {
        return jira_error(
            StatusCode::NOT_FOUND,
            &["No projects were found matching the search criteria."],
            json!({}),
        );
    }
    let links = Links::new(&app.base_url, site);
    let total = projects.len();
    let end = (start + max).min(total);
    let values: Vec<Value> = projects[start.min(end)..end]
        .iter()
        .map(|p| render::project_full(&links, p))
        .collect();
    let is_last = end >= total;
    let mut body = json!({
        "self": format!("{}/project/search?startAt={start}&maxResults={max}", links.api),
        "maxResults": max,
        "startAt": start,
        "total": total,
        "isLast": is_last,
        "values": values,
    });
    if !is_last {
        body["nextPage"] = json!(format!(
            "{}/project/search?startAt={end}&maxResults={max}",
            links.api
        ));
    }
    json_response(StatusCode::OK, &body)
}

/// `GET /rest/api/3/issue/createmeta/{projectIdOrKey}/issuetypes` (scope `write:jira-work`:
/// create metadata serves issue creation).
pub(crate) async fn createmeta_issuetypes(
    State(app): State<AppState>,
    Path((cloud, project)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Response {
    let st = app.lock();
    let caller = guard!(st, headers, cloud, WRITE);
    let site = &st.sites[caller.site];
    if site.find_project(&project).is_none() {
        return jira_error(
            StatusCode::NOT_FOUND,
            &[&format!("No project could be found with key '{project}'.")],
            json!({}),
        );
    }
    let q = query_pairs(raw.as_deref());
    let (start, max) = match (number(&q, "startAt"), number(&q, "maxResults")) {
        (Ok(s), Ok(m)) => (
            s.unwrap_or(0).max(0) as usize,
            m.unwrap_or(50).clamp(1, 200) as usize,
        ),
        (Err(r), _) | (_, Err(r)) => return r,
    };
    let links = Links::new(&app.base_url, site);
    let types: Vec<Value> = (0..ISSUE_TYPES.len())
        .skip(start)
        .take(max)
        .map(|t| render::issue_type(&links, t))
        .collect();
    json_response(
        StatusCode::OK,
        &json!({"issueTypes": types, "maxResults": max, "startAt": start, "total": ISSUE_TYPES.len()}),
    )
}
