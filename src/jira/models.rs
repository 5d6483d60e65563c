//! Typed Jira Cloud REST v3 shapes (reference §8), camelCase on the wire and in JavaScript.
//!
//! Response models type what a popup uses and keep everything else reachable: issue fields
//! not typed here (custom fields, `environment`, ...) land in [`IssueFields::extra`], and the
//! expansions of an issue (`renderedFields`, `names`, `changelog`, ...) in [`Issue::extra`].
//! An `Option` is `null` in JavaScript when Jira sent `null` or nothing (a field that was not
//! requested through `fields` is simply absent on Jira's side). Dates stay ISO-8601 strings.
//!
//! On wasm every model derives `tsify::Tsify`, so the generated `.d.ts` names each of them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::adf::AdfDocument;
use crate::core::json::{string_object, JsonValue};

/// A Jira user (`/rest/api/3/myself`, assignee, reporter, comment author).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(
    target_arch = "wasm32",
    derive(tsify::Tsify),
    tsify(missing_as_null, hashmap_as_object)
)]
#[serde(rename_all = "camelCase")]
pub struct User {
    pub account_id: String,
    /// `atlassian`, `app` or `customer`.
    pub account_type: Option<String>,
    /// Absent for some privacy settings and for deleted users.
    pub display_name: Option<String>,
    /// Only present when the user's privacy settings allow it.
    pub email_address: Option<String>,
    #[serde(default)]
    pub active: bool,
    /// Avatar URL per size (`"16x16"`, `"24x24"`, `"32x32"`, `"48x48"`).
    #[serde(default)]
    pub avatar_urls: BTreeMap<String, String>,
    pub time_zone: Option<String>,
    pub locale: Option<String>,
    #[serde(rename = "self")]
    pub self_url: Option<String>,
}

/// The category of a status, which is what "open" vs "done" is decided on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(
    target_arch = "wasm32",
    derive(tsify::Tsify),
    tsify(missing_as_null, hashmap_as_object)
)]
#[serde(rename_all = "camelCase")]
pub struct StatusCategory {
    pub id: Option<u32>,
    /// `new`, `indeterminate`, `done` (or `undefined` for "No Category").
    pub key: String,
    pub name: String,
    /// `blue-gray`, `yellow`, `green`, ...
    pub color_name: Option<String>,
}

/// An issue status (`fields.status`, `transition.to`; Jira's `StatusDetails`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(
    target_arch = "wasm32",
    derive(tsify::Tsify),
    tsify(missing_as_null, hashmap_as_object)
)]
#[serde(rename_all = "camelCase")]
pub struct IssueStatus {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    pub icon_url: Option<String>,
    pub status_category: Option<StatusCategory>,
}

/// An issue priority.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(
    target_arch = "wasm32",
    derive(tsify::Tsify),
    tsify(missing_as_null, hashmap_as_object)
)]
#[serde(rename_all = "camelCase")]
pub struct Priority {
    pub id: String,
    pub name: String,
    pub icon_url: Option<String>,
}

/// An issue type as it appears in `fields.issuetype` (and in create-issue metadata).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(
    target_arch = "wasm32",
    derive(tsify::Tsify),
    tsify(missing_as_null, hashmap_as_object)
)]
#[serde(rename_all = "camelCase")]
pub struct IssueType {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    pub icon_url: Option<String>,
    #[serde(default)]
    pub subtask: bool,
    /// -1 subtask, 0 standard, 1 epic (team-managed hierarchies can go higher).
    pub hierarchy_level: Option<i32>,
}

/// A project (`/rest/api/3/project/search` values, `fields.project`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(
    target_arch = "wasm32",
    derive(tsify::Tsify),
    tsify(missing_as_null, hashmap_as_object)
)]
#[serde(rename_all = "camelCase")]
pub struct Project {
    pub id: String,
    pub key: String,
    pub name: String,
    /// `software`, `service_desk`, `business`.
    pub project_type_key: Option<String>,
    /// True for team-managed projects.
    pub simplified: Option<bool>,
    /// `classic` or `next-gen`.
    pub style: Option<String>,
    #[serde(default)]
    pub avatar_urls: BTreeMap<String, String>,
    #[serde(rename = "self")]
    pub self_url: Option<String>,
}

/// The `fields` of an issue: the common ones typed, the rest (custom fields, fields this
/// crate does not model) in `extra`, keyed by field id (`customfield_10010`, ...).
///
/// Every typed field is optional because a search returns only the fields it asked for.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(
    target_arch = "wasm32",
    derive(tsify::Tsify),
    tsify(missing_as_null, hashmap_as_object)
)]
#[serde(rename_all = "camelCase")]
pub struct IssueFields {
    pub summary: Option<String>,
    pub status: Option<IssueStatus>,
    /// `null` when unassigned.
    pub assignee: Option<User>,
    pub reporter: Option<User>,
    pub priority: Option<Priority>,
    #[serde(rename = "issuetype")]
    pub issue_type: Option<IssueType>,
    pub project: Option<Project>,
    /// ISO-8601 with offset, e.g. `2024-05-01T10:00:00.000+0000`.
    pub created: Option<String>,
    pub updated: Option<String>,
    pub labels: Option<Vec<String>>,
    pub duedate: Option<String>,
    /// ADF; `null` when the issue has no description.
    #[cfg_attr(target_arch = "wasm32", tsify(type = "AdfDocument | null"))]
    pub description: Option<AdfDocument>,
    /// The parent (epic or parent task): `{id, key, fields?}`.
    #[cfg_attr(target_arch = "wasm32", tsify(type = "IssueRef | null"))]
    pub parent: Option<Value>,
    /// Every other field Jira returned, by field id.
    #[serde(flatten)]
    #[cfg_attr(target_arch = "wasm32", tsify(type = "JsonObject"))]
    pub extra: Map<String, Value>,
}

/// An issue (IssueBean).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(
    target_arch = "wasm32",
    derive(tsify::Tsify),
    tsify(missing_as_null, hashmap_as_object)
)]
#[serde(rename_all = "camelCase", from = "IssueWire")]
pub struct Issue {
    pub id: String,
    pub key: String,
    #[serde(rename = "self")]
    pub self_url: Option<String>,
    /// Empty when the request asked for no fields (absent on the wire).
    pub fields: IssueFields,
    /// Expansions and anything else at the top level (`renderedFields`, `names`,
    /// `transitions`, `changelog`, `expand`, ...).
    #[serde(flatten)]
    #[cfg_attr(target_arch = "wasm32", tsify(type = "JsonObject"))]
    pub extra: Map<String, Value>,
}

// Wire shapes: lenient about what Jira may omit, while the public structs (and so the
// TypeScript types, which describe what JavaScript receives) have every member present.

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct IssueWire {
    id: String,
    key: String,
    #[serde(rename = "self")]
    self_url: Option<String>,
    #[serde(default)]
    fields: IssueFields,
    #[serde(flatten)]
    extra: Map<String, Value>,
}

impl From<IssueWire> for Issue {
    fn from(w: IssueWire) -> Self {
        Issue {
            id: w.id,
            key: w.key,
            self_url: w.self_url,
            fields: w.fields,
            extra: w.extra,
        }
    }
}

impl Issue {
    /// The description as plain text ("" when there is none or it was not requested).
    pub fn description_text(&self) -> String {
        self.fields
            .description
            .as_ref()
            .map(AdfDocument::to_plain_text)
            .unwrap_or_default()
    }
}

/// One page of an offset-paged list (`PageBean`), e.g. `/rest/api/3/project/search`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(
    target_arch = "wasm32",
    derive(tsify::Tsify),
    tsify(missing_as_null, hashmap_as_object)
)]
#[serde(rename_all = "camelCase", from = "PageBeanWire<T>")]
#[serde(bound(deserialize = "T: Deserialize<'de>"))]
pub struct PageBean<T> {
    pub start_at: u64,
    pub max_results: u64,
    /// Jira may omit it for expensive lists.
    pub total: Option<u64>,
    pub is_last: bool,
    /// URL of the next page (prefer `startAt + values.length`: this URL is the site's, not the gateway's).
    pub next_page: Option<String>,
    pub values: Vec<T>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PageBeanWire<T> {
    #[serde(default)]
    start_at: u64,
    #[serde(default)]
    max_results: u64,
    total: Option<u64>,
    is_last: Option<bool>,
    next_page: Option<String>,
    #[serde(default = "Vec::new")]
    values: Vec<T>,
}

impl<T> From<PageBeanWire<T>> for PageBean<T> {
    fn from(w: PageBeanWire<T>) -> Self {
        // Without `isLast`, the page is last when it reaches the total (or there is no next page).
        let reached = w.total.map(|t| w.start_at + w.values.len() as u64 >= t);
        let is_last = w.is_last.or(reached).unwrap_or(w.next_page.is_none());
        PageBean {
            start_at: w.start_at,
            max_results: w.max_results,
            total: w.total,
            is_last,
            next_page: w.next_page,
            values: w.values,
        }
    }
}

/// One page of a JQL search (`/rest/api/3/search/jql`): token paging, no totals.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(
    target_arch = "wasm32",
    derive(tsify::Tsify),
    tsify(missing_as_null, hashmap_as_object)
)]
#[serde(rename_all = "camelCase", from = "SearchPageWire")]
pub struct SearchPage {
    pub issues: Vec<Issue>,
    /// Pass it back as `nextPageToken` for the next page; `null` on the last page.
    pub next_page_token: Option<String>,
    /// True on the last page (also when Jira omits it and sends no token).
    pub is_last: bool,
    /// Field id → name, when `expand` asked for `names`.
    #[cfg_attr(target_arch = "wasm32", tsify(type = "Record<string, string> | null"))]
    pub names: Option<Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SearchPageWire {
    #[serde(default)]
    issues: Vec<Issue>,
    next_page_token: Option<String>,
    #[serde(default)]
    is_last: bool,
    names: Option<Value>,
}

impl From<SearchPageWire> for SearchPage {
    fn from(w: SearchPageWire) -> Self {
        super::paging::normalize(SearchPage {
            issues: w.issues,
            next_page_token: w.next_page_token,
            is_last: w.is_last,
            names: w.names,
        })
    }
}

/// The result of `POST /rest/api/3/search/approximate-count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(
    target_arch = "wasm32",
    derive(tsify::Tsify),
    tsify(missing_as_null, hashmap_as_object)
)]
pub struct ApproximateCount {
    pub count: u64,
}

/// A workflow transition the current user can perform on an issue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(
    target_arch = "wasm32",
    derive(tsify::Tsify),
    tsify(missing_as_null, hashmap_as_object)
)]
#[serde(rename_all = "camelCase")]
pub struct Transition {
    pub id: String,
    pub name: String,
    /// The status the issue moves to.
    pub to: IssueStatus,
    #[serde(default)]
    pub has_screen: bool,
    #[serde(default)]
    pub is_global: bool,
    #[serde(default)]
    pub is_initial: bool,
    #[serde(default = "yes")]
    pub is_available: bool,
    #[serde(default)]
    pub is_conditional: bool,
    /// Screen fields, with `expand=transitions.fields`.
    #[cfg_attr(target_arch = "wasm32", tsify(type = "JsonObject | null"))]
    pub fields: Option<Map<String, Value>>,
}

fn yes() -> bool {
    true
}

/// A comment on an issue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(
    target_arch = "wasm32",
    derive(tsify::Tsify),
    tsify(missing_as_null, hashmap_as_object)
)]
#[serde(rename_all = "camelCase")]
pub struct Comment {
    pub id: String,
    #[serde(rename = "self")]
    pub self_url: Option<String>,
    pub author: Option<User>,
    pub update_author: Option<User>,
    /// ADF.
    #[cfg_attr(target_arch = "wasm32", tsify(type = "AdfDocument | null"))]
    pub body: Option<AdfDocument>,
    pub created: Option<String>,
    pub updated: Option<String>,
    /// Restriction to a role or group: `{type, value}`.
    #[cfg_attr(target_arch = "wasm32", tsify(type = "JsonObject | null"))]
    pub visibility: Option<Map<String, Value>>,
}

impl Comment {
    /// The body as plain text.
    pub fn body_text(&self) -> String {
        self.body
            .as_ref()
            .map(AdfDocument::to_plain_text)
            .unwrap_or_default()
    }
}

/// One page of the comments of an issue (`PageOfComments`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(
    target_arch = "wasm32",
    derive(tsify::Tsify),
    tsify(missing_as_null, hashmap_as_object)
)]
#[serde(rename_all = "camelCase", from = "CommentPageWire")]
pub struct CommentPage {
    pub start_at: u64,
    pub max_results: u64,
    pub total: u64,
    pub comments: Vec<Comment>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CommentPageWire {
    #[serde(default)]
    start_at: u64,
    #[serde(default)]
    max_results: u64,
    total: Option<u64>,
    #[serde(default)]
    comments: Vec<Comment>,
}

impl From<CommentPageWire> for CommentPage {
    fn from(w: CommentPageWire) -> Self {
        let total = w.total.unwrap_or(w.start_at + w.comments.len() as u64);
        CommentPage {
            start_at: w.start_at,
            max_results: w.max_results,
            total,
            comments: w.comments,
        }
    }
}

/// What `POST /rest/api/3/issue` answers (201).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(
    target_arch = "wasm32",
    derive(tsify::Tsify),
    tsify(missing_as_null, hashmap_as_object)
)]
pub struct CreatedIssue {
    pub id: String,
    pub key: String,
    #[serde(rename = "self")]
    pub self_url: Option<String>,
}

/// An issue type that can be created in a project (create-issue metadata), for a create form:
/// the members of [`IssueType`].
pub type IssueTypeMeta = IssueType;

/// One page of `/rest/api/3/issue/createmeta/{project}/issuetypes`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(
    target_arch = "wasm32",
    derive(tsify::Tsify),
    tsify(missing_as_null, hashmap_as_object)
)]
#[serde(rename_all = "camelCase")]
pub struct IssueTypeMetaPage {
    #[serde(default)]
    pub start_at: u64,
    #[serde(default)]
    pub max_results: u64,
    #[serde(default)]
    pub total: u64,
    /// Jira names this array `issueTypes` (older builds: `values`).
    #[serde(default, alias = "values")]
    pub issue_types: Vec<IssueTypeMeta>,
}

// ---------------------------------------------------------------------------------------------
// Inputs

/// Parameters of a JQL search.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(
    target_arch = "wasm32",
    derive(tsify::Tsify),
    tsify(missing_as_null, hashmap_as_object)
)]
#[serde(rename_all = "camelCase")]
pub struct SearchParams {
    /// Sent verbatim. Jira rejects unbounded queries (a bare `ORDER BY ...`).
    pub jql: String,
    /// Field ids, `*all`, `*navigable`, `-field`. When not given, the typed common fields of
    /// `IssueFields` (without the description) are requested, rather than Jira's default of
    /// `id` only, so that a list can be rendered from the result.
    #[serde(default)]
    pub fields: Option<Vec<String>>,
    /// `renderedFields`, `names`, `schema`, `transitions`, `operations`, `editmeta`,
    /// `changelog`, `versionedRepresentations`.
    #[serde(default)]
    pub expand: Option<Vec<String>>,
    /// Page size (Jira's default is 50; it may return fewer).
    #[serde(default)]
    pub max_results: Option<u32>,
    /// The token of the page to fetch (from the previous page's `nextPageToken`).
    #[serde(default)]
    pub next_page_token: Option<String>,
}

impl SearchParams {
    pub fn new(jql: impl Into<String>) -> Self {
        SearchParams {
            jql: jql.into(),
            ..Default::default()
        }
    }
}

/// Options of an issue read.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(
    target_arch = "wasm32",
    derive(tsify::Tsify),
    tsify(missing_as_null, hashmap_as_object)
)]
#[serde(rename_all = "camelCase")]
pub struct GetIssueOptions {
    /// Field ids (Jira's default for a single issue: all fields).
    #[serde(default)]
    pub fields: Option<Vec<String>>,
    #[serde(default)]
    pub expand: Option<Vec<String>>,
}

/// A reference to a named Jira object (issue type, priority) by id or by name.
///
/// In JavaScript: `"10001"` / `"Bug"` (all digits = an id), `{id: "10001"}` or `{name: "Bug"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(
    target_arch = "wasm32",
    derive(tsify::Tsify),
    tsify(missing_as_null, hashmap_as_object)
)]
#[serde(untagged)]
pub enum IdOrName {
    Id { id: String },
    Name { name: String },
    Text(String),
}

impl IdOrName {
    /// The Jira body object: `{"id": ..}` or `{"name": ..}`.
    pub fn to_json(&self) -> JsonValue {
        let (key, value) = match self {
            IdOrName::Id { id } => ("id", id),
            IdOrName::Name { name } => ("name", name),
            IdOrName::Text(t) if is_numeric_id(t) => ("id", t),
            IdOrName::Text(t) => ("name", t),
        };
        string_object(&[(key, value)])
    }
}

impl From<&str> for IdOrName {
    fn from(s: &str) -> Self {
        IdOrName::Text(s.to_string())
    }
}

impl From<String> for IdOrName {
    fn from(s: String) -> Self {
        IdOrName::Text(s)
    }
}

pub(crate) fn is_numeric_id(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// A new issue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(
    target_arch = "wasm32",
    derive(tsify::Tsify),
    tsify(missing_as_null, hashmap_as_object)
)]
#[serde(rename_all = "camelCase")]
pub struct CreateIssue {
    /// Project key (or numeric id).
    pub project_key: String,
    pub issue_type: IdOrName,
    pub summary: String,
    /// Plain text; sent as ADF (blank lines separate paragraphs, line breaks are kept).
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub priority: Option<IdOrName>,
    #[serde(default)]
    pub assignee_account_id: Option<String>,
    #[serde(default)]
    pub labels: Option<Vec<String>>,
    /// Parent issue key (or numeric id): needed for subtasks, optional for child issues.
    #[serde(default)]
    pub parent: Option<String>,
    /// Any other fields by id (custom fields ...), sent as given; they win over the above.
    #[serde(default)]
    #[cfg_attr(target_arch = "wasm32", tsify(type = "JsonObject | null"))]
    pub fields: Option<Map<String, Value>>,
}

impl CreateIssue {
    pub fn new(
        project_key: impl Into<String>,
        issue_type: impl Into<IdOrName>,
        summary: impl Into<String>,
    ) -> Self {
        CreateIssue {
            project_key: project_key.into(),
            issue_type: issue_type.into(),
            summary: summary.into(),
            description: None,
            priority: None,
            assignee_account_id: None,
            labels: None,
            parent: None,
            fields: None,
        }
    }
}

/// Changes to an issue; what is not given is left alone.
///
/// To unassign or clear a field, set it to `null` in `fields`, e.g. `fields: {assignee: null}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(
    target_arch = "wasm32",
    derive(tsify::Tsify),
    tsify(missing_as_null, hashmap_as_object)
)]
#[serde(rename_all = "camelCase")]
pub struct EditIssue {
    #[serde(default)]
    pub summary: Option<String>,
    /// Plain text, sent as ADF; an empty or blank string removes the description.
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub priority: Option<IdOrName>,
    #[serde(default)]
    pub assignee_account_id: Option<String>,
    /// Replaces the labels.
    #[serde(default)]
    pub labels: Option<Vec<String>>,
    /// Any other fields by id, sent as given; they win over the above.
    #[serde(default)]
    #[cfg_attr(target_arch = "wasm32", tsify(type = "JsonObject | null"))]
    pub fields: Option<Map<String, Value>>,
}

/// Parameters of an assignable-users search (`/rest/api/3/user/assignable/search`): who can be
/// assigned an issue (`issueKey`) or new issues of a project (`project`); one of the two is required.
// No TypeScript type: JavaScript passes the issue key and the query to `assignableUsers`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AssignableSearch {
    /// The issue being edited (key or id).
    #[serde(default)]
    pub issue_key: Option<String>,
    /// A project key or id, for issues not created yet.
    #[serde(default)]
    pub project: Option<String>,
    /// Matched against the start of the users' names and email addresses.
    #[serde(default)]
    pub query: Option<String>,
    /// Jira's default 50.
    #[serde(default)]
    pub max_results: Option<u32>,
}

/// Parameters of a project search (offset paging).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(
    target_arch = "wasm32",
    derive(tsify::Tsify),
    tsify(missing_as_null, hashmap_as_object)
)]
#[serde(rename_all = "camelCase")]
pub struct ProjectSearch {
    /// Matched against project key and name (case-insensitive).
    #[serde(default)]
    pub query: Option<String>,
    #[serde(default)]
    pub start_at: Option<u64>,
    /// Jira's default 50, maximum 100.
    #[serde(default)]
    pub max_results: Option<u32>,
    /// `key`, `name`, `category`, ... (`-` prefix for descending).
    #[serde(default)]
    pub order_by: Option<String>,
    /// Only these project keys.
    #[serde(default)]
    pub keys: Option<Vec<String>>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn issue_keeps_typed_fields_and_the_rest() {
        let wire = json!({
            "id": "10001", "key": "ACME-1", "self": "https://api/rest/api/3/issue/10001",
            "expand": "renderedFields,names",
            "renderedFields": {"description": "<p>x</p>"},
            "fields": {
                "summary": "Crash on start",
                "status": {"id": "3", "name": "In Progress",
                           "statusCategory": {"id": 4, "key": "indeterminate", "name": "In Progress", "colorName": "yellow"}},
                "assignee": null,
                "reporter": {"accountId": "557058:alice", "displayName": "Alice", "active": true,
                             "avatarUrls": {"48x48": "https://a/48.png"}},
                "priority": {"id": "2", "name": "High"},
                "issuetype": {"id": "10002", "name": "Bug", "subtask": false},
                "project": {"id": "10000", "key": "ACME", "name": "Acme"},
                "created": "2024-05-01T10:00:00.000+0000",
                "updated": "2024-05-02T10:00:00.000+0000",
                "labels": ["ui", "p1"],
                "description": {"type": "doc", "version": 1, "content": [
                    {"type": "paragraph", "content": [{"type": "text", "text": "It crashes."}]}]},
                "customfield_10010": {"value": "Team A"},
                "environment": null
            }
        });
        let issue: Issue = serde_json::from_value(wire.clone()).unwrap();
        assert_eq!(issue.key, "ACME-1");
        assert_eq!(issue.fields.summary.as_deref(), Some("Crash on start"));
        let status = issue.fields.status.as_ref().unwrap();
        assert_eq!(
            status.status_category.as_ref().unwrap().key,
            "indeterminate"
        );
        assert!(issue.fields.assignee.is_none());
        assert_eq!(
            issue.fields.reporter.as_ref().unwrap().avatar_urls["48x48"],
            "https://a/48.png"
        );
        assert_eq!(issue.fields.issue_type.as_ref().unwrap().name, "Bug");
        assert_eq!(
            issue.fields.labels.as_deref(),
            Some(&["ui".to_string(), "p1".to_string()][..])
        );
        assert_eq!(issue.description_text(), "It crashes.");
        assert_eq!(
            issue.fields.extra["customfield_10010"],
            json!({"value": "Team A"})
        );
        assert_eq!(issue.fields.extra["environment"], Value::Null);
        assert!(!issue.fields.extra.contains_key("summary"));
        assert_eq!(issue.extra["renderedFields"]["description"], "<p>x</p>");

        // Serializing gives back the wire names (what JavaScript sees).
        let out = serde_json::to_value(&issue).unwrap();
        assert_eq!(out["self"], wire["self"]);
        assert_eq!(out["fields"]["issuetype"]["name"], "Bug");
        assert_eq!(out["fields"]["customfield_10010"]["value"], "Team A");
        assert_eq!(
            out["fields"]["status"]["statusCategory"]["colorName"],
            "yellow"
        );
        assert_eq!(out["renderedFields"], wire["renderedFields"]);
        assert_eq!(out["fields"]["assignee"], Value::Null);
    }

    #[test]
    fn an_id_only_search_hit_parses() {
        let issue: Issue = serde_json::from_value(json!({"id": "10001", "key": "ACME-1"})).unwrap();
        assert_eq!(issue.fields, IssueFields::default());
        let bare: Issue =
            serde_json::from_value(json!({"id": "1", "key": "A-1", "fields": {}})).unwrap();
        assert!(bare.fields.summary.is_none() && bare.fields.extra.is_empty());
    }

    #[test]
    fn id_or_name_accepts_the_three_shapes() {
        let parse = |v: Value| serde_json::from_value::<IdOrName>(v).unwrap().to_json();
        assert_eq!(parse(json!("10001")), json!({"id": "10001"}));
        assert_eq!(parse(json!("Bug")), json!({"name": "Bug"}));
        assert_eq!(parse(json!({"id": "7"})), json!({"id": "7"}));
        assert_eq!(parse(json!({"name": "Task"})), json!({"name": "Task"}));
        assert!(serde_json::from_value::<IdOrName>(json!(5)).is_err());
    }

    #[test]
    fn pages_and_small_models_parse() {
        let page: PageBean<Project> = serde_json::from_value(json!({
            "self": "x", "maxResults": 2, "startAt": 0, "total": 3, "isLast": false,
            "nextPage": "https://site/rest/api/3/project/search?startAt=2&maxResults=2",
            "values": [{"id": "1", "key": "A", "name": "Alpha", "projectTypeKey": "software", "simplified": false, "style": "classic"},
                       {"id": "2", "key": "B", "name": "Beta"}]
        }))
        .unwrap();
        assert_eq!(page.values.len(), 2);
        assert_eq!(page.total, Some(3));
        assert!(!page.is_last);

        let t: Transition = serde_json::from_value(json!({
            "id": "21", "name": "Start", "hasScreen": false, "isGlobal": true,
            "to": {"id": "3", "name": "In Progress", "statusCategory": {"key": "indeterminate", "name": "In Progress", "colorName": "yellow"}}
        }))
        .unwrap();
        assert!(t.is_available && t.is_global && !t.has_screen);

        let c: Comment = serde_json::from_value(json!({
            "id": "100", "author": {"accountId": "a"}, "created": "2024-01-01T00:00:00.000+0000",
            "body": {"type": "doc", "version": 1, "content": [{"type": "paragraph", "content": [{"type": "text", "text": "hi"}]}]}
        }))
        .unwrap();
        assert_eq!(c.body_text(), "hi");

        let metas: IssueTypeMetaPage = serde_json::from_value(json!({
            "maxResults": 50, "startAt": 0, "total": 1, "issueTypes": [{"id": "1", "name": "Task", "subtask": false}]
        }))
        .unwrap();
        assert_eq!(metas.issue_types[0].name, "Task");
    }

    #[test]
    fn pages_fill_what_jira_omits() {
        let page: PageBean<Project> =
            serde_json::from_value(json!({"startAt": 2, "maxResults": 2, "total": 3, "values": [{"id": "3", "key": "C", "name": "C"}]}))
                .unwrap();
        assert!(page.is_last, "start + len reaches total");
        let page: PageBean<Project> =
            serde_json::from_value(json!({"values": [], "nextPage": "x"})).unwrap();
        assert!(!page.is_last && page.values.is_empty());
        let page: PageBean<Project> = serde_json::from_value(json!({})).unwrap();
        assert!(page.is_last);

        let search: SearchPage = serde_json::from_value(
            json!({"issues": [{"id": "1", "key": "A-1"}], "nextPageToken": "t"}),
        )
        .unwrap();
        assert!(!search.is_last);
        let search: SearchPage =
            serde_json::from_value(json!({"issues": [], "isLast": false})).unwrap();
        assert!(search.is_last, "no token: nothing more to fetch");
        let search: SearchPage = serde_json::from_value(json!({"nextPageToken": ""})).unwrap();
        assert!(search.is_last && search.next_page_token.is_none() && search.issues.is_empty());

        let comments: CommentPage =
            serde_json::from_value(json!({"comments": [{"id": "1"}]})).unwrap();
        assert_eq!((comments.total, comments.comments.len()), (1, 1));

        // What JavaScript receives has every member.
        let out = serde_json::to_value(SearchPage::from(SearchPageWire {
            issues: vec![],
            next_page_token: None,
            is_last: false,
            names: None,
        }))
        .unwrap();
        assert_eq!(
            out,
            json!({"issues": [], "nextPageToken": null, "isLast": true, "names": null})
        );
        let issue: Issue = serde_json::from_value(json!({"id": "1", "key": "A-1"})).unwrap();
        assert!(serde_json::to_value(issue).unwrap()["fields"].is_object());
    }

    #[test]
    fn inputs_parse_from_camel_case_with_defaults() {
        let p: SearchParams =
            serde_json::from_value(json!({"jql": "project = A", "maxResults": 10})).unwrap();
        assert_eq!(p.max_results, Some(10));
        assert!(p.fields.is_none() && p.next_page_token.is_none());
        let c: CreateIssue = serde_json::from_value(json!({
            "projectKey": "A", "issueType": "Bug", "summary": "s", "assigneeAccountId": "x", "labels": ["l"]
        }))
        .unwrap();
        assert_eq!(c.issue_type, IdOrName::Text("Bug".into()));
        assert!(
            serde_json::from_value::<CreateIssue>(json!({"projectKey": "A", "summary": "s"}))
                .is_err()
        );
    }
}
