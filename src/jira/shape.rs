//! The JSON shapes of [`super::models`] as data, read by one small interpreter instead of a
//! serde implementation per model. The JavaScript bindings use it on values from the
//! browser's `JSON.parse` (and on the objects JavaScript passes in), which keeps the wasm
//! small; the tests below check it against the serde derives of the models, which stay the
//! reference (the Rust API and its native tests use them).
//!
//! What a model's serde round trip does, the interpreter does too: a required member that is
//! missing or of the wrong type is an error, an `Option` is `null` when absent, defaults fill
//! what Jira omits, members a model does not keep are dropped (or kept in the flattened
//! `extra`, sorted by key like a `serde_json::Map`), and free-form JSON comes out with its
//! object keys sorted.

use crate::core::json::{
    is_safe_integer, map_all, sort, sorted, sorted_object, Json, Kind, MAX_SAFE_INTEGER,
};

use super::models::{
    CreateIssue, EditIssue, GetIssueOptions, IdOrName, ProjectSearch, SearchParams,
};

/// How one member of a model is read (the serde type it has in [`super::models`]).
#[derive(Clone, Copy)]
pub(crate) enum Field {
    /// `String`.
    Str,
    /// `Option<String>`.
    OptStr,
    /// `bool` with a default when absent.
    Bool(bool),
    /// `Option<bool>`.
    OptBool,
    /// `Option<u32>` / `Option<i32>` / `Option<u64>`, as an inclusive range.
    OptInt(f64, f64),
    /// `u64` with `#[serde(default)]`.
    Count,
    /// `u64`, required.
    ReqCount,
    /// `BTreeMap<String, String>` with `#[serde(default)]`.
    StrMap,
    /// `Option<Vec<String>>`.
    OptStrList,
    /// `Option<Value>` (and `Option<AdfDocument>`): any JSON, `null` when absent.
    OptJson,
    /// `Option<Map<String, Value>>`.
    OptObject,
    /// A nested model, required.
    Obj(&'static Shape),
    /// `Option<model>`.
    OptObj(&'static Shape),
    /// A nested model with `#[serde(default)]` (an empty object when absent).
    DefaultObj(&'static Shape),
    /// `Vec<model>` with `#[serde(default)]`.
    List(&'static Shape),
}

/// A model: its members in declaration order, and whether the others are kept (`flatten`).
pub(crate) struct Shape {
    pub name: &'static str,
    pub fields: &'static [(&'static str, Field)],
    pub rest: bool,
}

const U32: Field = Field::OptInt(0.0, 4_294_967_295.0);
const I32: Field = Field::OptInt(-2_147_483_648.0, 2_147_483_647.0);
const U64: Field = Field::OptInt(0.0, MAX_SAFE_INTEGER as f64);

use Field::*;

pub(crate) static USER: Shape = Shape {
    name: "User",
    fields: &[
        ("accountId", Str),
        ("accountType", OptStr),
        ("displayName", OptStr),
        ("emailAddress", OptStr),
        ("active", Bool(false)),
        ("avatarUrls", StrMap),
        ("timeZone", OptStr),
        ("locale", OptStr),
        ("self", OptStr),
    ],
    rest: false,
};

static STATUS_CATEGORY: Shape = Shape {
    name: "StatusCategory",
    fields: &[
        ("id", U32),
        ("key", Str),
        ("name", Str),
        ("colorName", OptStr),
    ],
    rest: false,
};

static ISSUE_STATUS: Shape = Shape {
    name: "IssueStatus",
    fields: &[
        ("id", Str),
        ("name", Str),
        ("description", OptStr),
        ("iconUrl", OptStr),
        ("statusCategory", OptObj(&STATUS_CATEGORY)),
    ],
    rest: false,
};

static PRIORITY: Shape = Shape {
    name: "Priority",
    fields: &[("id", Str), ("name", Str), ("iconUrl", OptStr)],
    rest: false,
};

/// `IssueType` and `IssueTypeMeta` have the same members.
static ISSUE_TYPE: Shape = Shape {
    name: "IssueType",
    fields: &[
        ("id", Str),
        ("name", Str),
        ("description", OptStr),
        ("iconUrl", OptStr),
        ("subtask", Bool(false)),
        ("hierarchyLevel", I32),
    ],
    rest: false,
};

static PROJECT: Shape = Shape {
    name: "Project",
    fields: &[
        ("id", Str),
        ("key", Str),
        ("name", Str),
        ("projectTypeKey", OptStr),
        ("simplified", OptBool),
        ("style", OptStr),
        ("avatarUrls", StrMap),
        ("self", OptStr),
    ],
    rest: false,
};

static ISSUE_FIELDS: Shape = Shape {
    name: "IssueFields",
    fields: &[
        ("summary", OptStr),
        ("status", OptObj(&ISSUE_STATUS)),
        ("assignee", OptObj(&USER)),
        ("reporter", OptObj(&USER)),
        ("priority", OptObj(&PRIORITY)),
        ("issuetype", OptObj(&ISSUE_TYPE)),
        ("project", OptObj(&PROJECT)),
        ("created", OptStr),
        ("updated", OptStr),
        ("labels", OptStrList),
        ("description", OptJson),
        ("parent", OptJson),
    ],
    rest: true,
};

pub(crate) static ISSUE: Shape = Shape {
    name: "Issue",
    fields: &[
        ("id", Str),
        ("key", Str),
        ("self", OptStr),
        ("fields", DefaultObj(&ISSUE_FIELDS)),
    ],
    rest: true,
};

/// `PageBean<Project>`; `isLast` is settled by [`fix_page_bean`].
pub(crate) static PROJECT_PAGE: Shape = Shape {
    name: "PageBean",
    fields: &[
        ("startAt", Count),
        ("maxResults", Count),
        ("total", U64),
        ("isLast", OptBool),
        ("nextPage", OptStr),
        ("values", List(&PROJECT)),
    ],
    rest: false,
};

/// `SearchPage`; the token and `isLast` are settled by [`fix_search_page`].
pub(crate) static SEARCH_PAGE: Shape = Shape {
    name: "SearchPage",
    fields: &[
        ("issues", List(&ISSUE)),
        ("nextPageToken", OptStr),
        ("isLast", Bool(false)),
        ("names", OptJson),
    ],
    rest: false,
};

pub(crate) static APPROXIMATE_COUNT: Shape = Shape {
    name: "ApproximateCount",
    fields: &[("count", ReqCount)],
    rest: false,
};

static TRANSITION: Shape = Shape {
    name: "Transition",
    fields: &[
        ("id", Str),
        ("name", Str),
        ("to", Obj(&ISSUE_STATUS)),
        ("hasScreen", Bool(false)),
        ("isGlobal", Bool(false)),
        ("isInitial", Bool(false)),
        ("isAvailable", Bool(true)),
        ("isConditional", Bool(false)),
        ("fields", OptObject),
    ],
    rest: false,
};

/// The body of `GET .../transitions`.
pub(crate) static TRANSITIONS: Shape = Shape {
    name: "Transitions",
    fields: &[("transitions", List(&TRANSITION))],
    rest: false,
};

pub(crate) static COMMENT: Shape = Shape {
    name: "Comment",
    fields: &[
        ("id", Str),
        ("self", OptStr),
        ("author", OptObj(&USER)),
        ("updateAuthor", OptObj(&USER)),
        ("body", OptJson),
        ("created", OptStr),
        ("updated", OptStr),
        ("visibility", OptObject),
    ],
    rest: false,
};

/// `CommentPage`; `total` is settled by [`fix_comment_page`].
pub(crate) static COMMENT_PAGE: Shape = Shape {
    name: "CommentPage",
    fields: &[
        ("startAt", Count),
        ("maxResults", Count),
        ("total", U64),
        ("comments", List(&COMMENT)),
    ],
    rest: false,
};

pub(crate) static CREATED_ISSUE: Shape = Shape {
    name: "CreatedIssue",
    fields: &[("id", Str), ("key", Str), ("self", OptStr)],
    rest: false,
};

/// `IssueTypeMetaPage` (Jira's older builds name the list `values`; see [`issue_type_page`]).
static ISSUE_TYPE_PAGE: Shape = Shape {
    name: "IssueTypeMetaPage",
    fields: &[
        ("startAt", Count),
        ("maxResults", Count),
        ("total", Count),
        ("issueTypes", List(&ISSUE_TYPE)),
    ],
    rest: false,
};

/// A serde-style "invalid type" message (without float formatting, which costs wasm).
fn invalid<J: Json>(value: &J, expected: &str) -> String {
    let got = match value.kind() {
        Kind::Null => "unit value".to_string(),
        Kind::Bool => format!("boolean `{}`", value.as_bool() == Some(true)),
        Kind::Number => "floating point".to_string(),
        Kind::String => format!("string \"{}\"", value.as_string().unwrap_or_default()),
        Kind::Array => "sequence".to_string(),
        Kind::Object => "map".to_string(),
        Kind::Other => "a value JSON cannot hold".to_string(),
    };
    format!("invalid type: {got}, expected {expected}")
}

fn missing(key: &str) -> String {
    format!("missing field `{key}`")
}

/// `value` when it is of `kind`, else the serde-style error.
fn expect<J: Json>(value: J, kind: Kind, expected: &str) -> Result<J, String> {
    if value.kind() == kind {
        Ok(value)
    } else {
        Err(invalid(&value, expected))
    }
}

/// An integer in `lo..=hi` (what serde-wasm-bindgen accepts: a safe integer, range-checked).
fn int<J: Json>(value: J, lo: f64, hi: f64) -> Result<J, String> {
    match value.as_f64() {
        Some(n) if n.fract() == 0.0 && (lo..=hi).contains(&n) => Ok(value),
        Some(n) if is_safe_integer(n) => Err(format!(
            "invalid value: integer `{}`, expected an integer in range",
            n as i64
        )),
        _ => Err(invalid(&value, "an integer")),
    }
}

fn is_null<J: Json>(value: &Option<J>) -> bool {
    value.as_ref().is_none_or(|v| v.kind() == Kind::Null)
}

fn field<J: Json>(key: &str, kind: Field, value: Option<J>) -> Result<J, String> {
    let optional = matches!(
        kind,
        OptStr | OptBool | OptInt(..) | OptStrList | OptJson | OptObject | OptObj(_)
    );
    if optional && is_null(&value) {
        return Ok(J::null());
    }
    let value = match (value, kind) {
        (Some(v), _) => v,
        (None, Bool(default)) => return Ok(J::from_bool(default)),
        (None, Count) => return Ok(J::from_f64(0.0)),
        (None, StrMap) => return Ok(J::object(Vec::new())),
        (None, List(_)) => return Ok(J::array(Vec::new())),
        (None, DefaultObj(shape)) => return read(shape, &J::object(Vec::new())),
        (None, _) => return Err(missing(key)),
    };
    match kind {
        Str | OptStr => expect(value, Kind::String, "a string"),
        Bool(_) | OptBool => expect(value, Kind::Bool, "a boolean"),
        OptInt(lo, hi) => int(value, lo, hi),
        Count | ReqCount => int(value, 0.0, MAX_SAFE_INTEGER as f64),
        StrMap => {
            let map = expect(value, Kind::Object, "a map")?;
            let mut keys = map.keys();
            sort(&mut keys);
            let mut members = Vec::with_capacity(keys.len());
            for k in keys {
                let v = map.member(&k).unwrap_or_else(J::null);
                members.push((k, expect(v, Kind::String, "a string")?));
            }
            Ok(J::object(members))
        }
        OptStrList => {
            let list = expect(value, Kind::Array, "a sequence")?;
            for item in list.elements() {
                expect(item, Kind::String, "a string")?;
            }
            Ok(list)
        }
        OptJson => Ok(sorted(&value)),
        OptObject => Ok(sorted_object(&expect(value, Kind::Object, "a map")?)),
        Obj(shape) | OptObj(shape) | DefaultObj(shape) => read(shape, &value),
        List(shape) => {
            let list = expect(value, Kind::Array, "a sequence")?;
            map_all(&list.elements(), |item| read(shape, item)).map(J::array)
        }
    }
}

/// The members of `value` read as `shape`, in the model's order (then the kept rest, sorted).
fn members<J: Json>(shape: &Shape, value: &J) -> Result<Vec<(String, J)>, String> {
    if value.kind() != Kind::Object {
        return Err(invalid(value, &format!("struct {}", shape.name)));
    }
    let mut out = Vec::with_capacity(shape.fields.len());
    for (key, kind) in shape.fields {
        out.push((key.to_string(), field(key, *kind, value.member(key))?));
    }
    if shape.rest {
        let mut rest: Vec<String> = value
            .keys()
            .into_iter()
            .filter(|k| !shape.fields.iter().any(|(name, _)| name == k))
            .collect();
        sort(&mut rest);
        for k in rest {
            let v = value.member(&k).map_or_else(J::null, |v| sorted(&v));
            out.push((k, v));
        }
    }
    Ok(out)
}

/// Reads `value` as the model `shape` describes and returns what JavaScript receives.
pub(crate) fn read<J: Json>(shape: &Shape, value: &J) -> Result<J, String> {
    members(shape, value).map(J::object)
}

fn number<J: Json>(members: &[(String, J)], i: usize) -> Option<f64> {
    members[i].1.as_f64()
}

fn length<J: Json>(members: &[(String, J)], i: usize) -> f64 {
    members[i].1.elements().len() as f64
}

/// `PageBean<Project>`: without `isLast`, the page is last when it reaches `total` (or,
/// without a total, when there is no next page).
pub(crate) fn project_page<J: Json>(value: &J) -> Result<J, String> {
    let mut m = members(&PROJECT_PAGE, value)?;
    if m[3].1.kind() == Kind::Null {
        let start = number(&m, 0).unwrap_or(0.0);
        let is_last = match number(&m, 2) {
            Some(total) => start + length(&m, 5) >= total,
            None => m[4].1.kind() == Kind::Null,
        };
        m[3].1 = J::from_bool(is_last);
    }
    Ok(J::object(m))
}

/// `SearchPage`: an empty token is no token, and a page without a token is last.
pub(crate) fn search_page<J: Json>(value: &J) -> Result<J, String> {
    let mut m = members(&SEARCH_PAGE, value)?;
    if m[1].1.as_string().is_some_and(|t| t.is_empty()) {
        m[1].1 = J::null();
    }
    if m[1].1.kind() == Kind::Null {
        m[2].1 = J::from_bool(true);
    }
    Ok(J::object(m))
}

/// The parts of a search page a walk needs: issues, next token, last.
pub(crate) fn search_page_parts<J: Json>(page: &J) -> (Vec<J>, Option<String>, bool) {
    let issues = page
        .member("issues")
        .map(|i| i.elements())
        .unwrap_or_default();
    let token = page.member("nextPageToken").and_then(|t| t.as_string());
    let last = page.member("isLast").and_then(|l| l.as_bool()) == Some(true);
    (issues, token, last)
}

/// `CommentPage`: without `total`, the page is taken to be the whole list.
pub(crate) fn comment_page<J: Json>(value: &J) -> Result<J, String> {
    let mut m = members(&COMMENT_PAGE, value)?;
    if m[2].1.kind() == Kind::Null {
        let total = number(&m, 0).unwrap_or(0.0) + length(&m, 3);
        m[2].1 = J::from_f64(total);
    }
    Ok(J::object(m))
}

/// `{"transitions": [...]}` → the list.
pub(crate) fn transitions<J: Json>(value: &J) -> Result<J, String> {
    Ok(members(&TRANSITIONS, value)?.swap_remove(0).1)
}

/// `{"count": n}` → n.
pub(crate) fn count<J: Json>(value: &J) -> Result<J, String> {
    Ok(members(&APPROXIMATE_COUNT, value)?.swap_remove(0).1)
}

/// A createmeta page: its issue types and Jira's `total`.
pub(crate) fn issue_type_page<J: Json>(value: &J) -> Result<(Vec<J>, u64), String> {
    let renamed;
    let value = match (value.member("issueTypes"), value.member("values")) {
        (None, Some(values)) if value.kind() == Kind::Object => {
            let mut m: Vec<(String, J)> = Vec::new();
            for k in value.keys() {
                if k != "values" {
                    m.push((k.clone(), value.member(&k).unwrap_or_else(J::null)));
                }
            }
            m.push(("issueTypes".to_string(), values));
            renamed = J::object(m);
            &renamed
        }
        _ => value,
    };
    let m = members(&ISSUE_TYPE_PAGE, value)?;
    let total = number(&m, 2).unwrap_or(0.0) as u64;
    Ok((m[3].1.elements(), total))
}

// ---------------------------------------------------------------------------------------------
// Inputs: what JavaScript passes in, read into the models (as serde-wasm-bindgen would).

/// Reads the members of an input object.
pub(crate) struct Input<'a, J: Json>(&'a J);

impl<'a, J: Json> Input<'a, J> {
    /// `value` must be an object (a struct input).
    pub fn new(value: &'a J, name: &str) -> Result<Self, String> {
        match value.kind() {
            Kind::Object | Kind::Array => Ok(Input(value)),
            _ => Err(invalid(value, &format!("struct {name}"))),
        }
    }

    fn get(&self, key: &str) -> Option<J> {
        self.0.member(key).filter(|v| v.kind() != Kind::Null)
    }

    pub fn string(&self, key: &str) -> Result<String, String> {
        match self.0.member(key) {
            Some(v) => v.as_string().ok_or_else(|| invalid(&v, "a string")),
            None => Err(missing(key)),
        }
    }

    pub fn opt_string(&self, key: &str) -> Result<Option<String>, String> {
        self.get(key)
            .map(|v| v.as_string().ok_or_else(|| invalid(&v, "a string")))
            .transpose()
    }

    pub fn opt_strings(&self, key: &str) -> Result<Option<Vec<String>>, String> {
        self.get(key).map(|v| strings(&v)).transpose()
    }

    pub fn opt_int(&self, key: &str, hi: f64) -> Result<Option<u64>, String> {
        self.get(key)
            .map(|v| int(v, 0.0, hi).map(|n| n.as_f64().unwrap_or(0.0) as u64))
            .transpose()
    }

    pub fn opt_u32(&self, key: &str) -> Result<Option<u32>, String> {
        Ok(self.opt_int(key, 4_294_967_295.0)?.map(|n| n as u32))
    }

    pub fn opt_u64(&self, key: &str) -> Result<Option<u64>, String> {
        self.opt_int(key, MAX_SAFE_INTEGER as f64)
    }

    /// An object member, as [`to_value`] copies it.
    pub fn opt_object(&self, key: &str) -> Result<Option<J>, String> {
        match self.get(key) {
            None => Ok(None),
            Some(v) if v.kind() == Kind::Object => to_value(&v).map(Some),
            Some(v) => Err(invalid(&v, "a map")),
        }
    }

    pub fn opt_id_or_name(&self, key: &str) -> Result<Option<IdOrName>, String> {
        self.get(key).map(|v| id_or_name(&v)).transpose()
    }

    pub fn id_or_name(&self, key: &str) -> Result<IdOrName, String> {
        match self.0.member(key) {
            Some(v) => id_or_name(&v),
            None => Err(missing(key)),
        }
    }
}

/// An array of strings (serde-wasm-bindgen accepts an array for a `Vec`).
pub(crate) fn strings<J: Json>(value: &J) -> Result<Vec<String>, String> {
    if value.kind() != Kind::Array {
        return Err(invalid(value, "a sequence"));
    }
    map_all(&value.elements(), |s| {
        s.as_string().ok_or_else(|| invalid(s, "a string"))
    })
}

/// `IdOrName` is untagged: `{id}` first, then `{name}`, then a string.
fn id_or_name<J: Json>(value: &J) -> Result<IdOrName, String> {
    let one = |key: &str| -> Option<String> {
        match value.kind() {
            Kind::Object => value.member(key).and_then(|v| v.as_string()),
            _ => None,
        }
    };
    if let Some(id) = one("id") {
        return Ok(IdOrName::Id { id });
    }
    if let Some(name) = one("name") {
        return Ok(IdOrName::Name { name });
    }
    value
        .as_string()
        .map(IdOrName::Text)
        .ok_or_else(|| "data did not match any variant of untagged enum IdOrName".to_string())
}

/// Free-form input copied as serde-wasm-bindgen read it into a `serde_json::Value`:
/// `undefined` and `null` are `null`, integers stay integers, a non-finite number is `null`,
/// and a value JSON cannot hold (a function, a symbol) is an error.
pub(crate) fn to_value<J: Json>(value: &J) -> Result<J, String> {
    Ok(match value.kind() {
        Kind::Null => J::null(),
        Kind::Bool => J::from_bool(value.as_bool() == Some(true)),
        Kind::Number => match value.as_f64() {
            Some(n) if n.is_finite() => J::from_f64(n),
            _ => J::null(),
        },
        Kind::String => J::from_str(&value.as_string().unwrap_or_default()),
        Kind::Array => J::array(map_all(&value.elements(), to_value)?),
        Kind::Object => {
            let mut members = Vec::new();
            for k in value.keys() {
                let v = value.member(&k).map_or(Ok(J::null()), |v| to_value(&v))?;
                members.push((k, v));
            }
            J::object(members)
        }
        Kind::Other => return Err(invalid(value, "any value")),
    })
}

pub(crate) fn search_params<J: Json>(value: &J) -> Result<SearchParams, String> {
    let i = Input::new(value, "SearchParams")?;
    Ok(SearchParams {
        jql: i.string("jql")?,
        fields: i.opt_strings("fields")?,
        expand: i.opt_strings("expand")?,
        max_results: i.opt_u32("maxResults")?,
        next_page_token: i.opt_string("nextPageToken")?,
    })
}

pub(crate) fn get_issue_options<J: Json>(value: &J) -> Result<GetIssueOptions, String> {
    let i = Input::new(value, "GetIssueOptions")?;
    Ok(GetIssueOptions {
        fields: i.opt_strings("fields")?,
        expand: i.opt_strings("expand")?,
    })
}

/// The issue (without `fields`) and its `fields` object, which goes into the request as given.
pub(crate) fn create_issue<J: Json>(value: &J) -> Result<(CreateIssue, Option<J>), String> {
    let i = Input::new(value, "CreateIssue")?;
    let issue = CreateIssue {
        project_key: i.string("projectKey")?,
        issue_type: i.id_or_name("issueType")?,
        summary: i.string("summary")?,
        description: i.opt_string("description")?,
        priority: i.opt_id_or_name("priority")?,
        assignee_account_id: i.opt_string("assigneeAccountId")?,
        labels: i.opt_strings("labels")?,
        parent: i.opt_string("parent")?,
        fields: None,
    };
    Ok((issue, i.opt_object("fields")?))
}

/// The changes (without `fields`) and their `fields` object, as [`create_issue`].
pub(crate) fn edit_issue<J: Json>(value: &J) -> Result<(EditIssue, Option<J>), String> {
    let i = Input::new(value, "EditIssue")?;
    let edit = EditIssue {
        summary: i.opt_string("summary")?,
        description: i.opt_string("description")?,
        priority: i.opt_id_or_name("priority")?,
        assignee_account_id: i.opt_string("assigneeAccountId")?,
        labels: i.opt_strings("labels")?,
        fields: None,
    };
    Ok((edit, i.opt_object("fields")?))
}

pub(crate) fn project_search<J: Json>(value: &J) -> Result<ProjectSearch, String> {
    let i = Input::new(value, "ProjectSearch")?;
    Ok(ProjectSearch {
        query: i.opt_string("query")?,
        start_at: i.opt_u64("startAt")?,
        max_results: i.opt_u32("maxResults")?,
        order_by: i.opt_string("orderBy")?,
        keys: i.opt_strings("keys")?,
    })
}

#[cfg(test)]
mod tests {
    //! Differential tests: for each input, the interpreter agrees with the serde round trip of
    //! the model (`from_value` then `to_value`) on the result, and on whether it is an error.
    use super::*;
    use crate::jira::models::*;
    use serde::de::DeserializeOwned;
    use serde::Serialize;
    use serde_json::{json, Value};

    fn serde_round_trip<T: DeserializeOwned + Serialize>(input: &Value) -> Option<Value> {
        serde_json::from_value::<T>(input.clone())
            .ok()
            .map(|t| serde_json::to_value(t).unwrap())
    }

    fn agree<T: DeserializeOwned + Serialize>(
        read: fn(&Value) -> Result<Value, String>,
        input: Value,
    ) {
        let ours = read(&input);
        let theirs = serde_round_trip::<T>(&input);
        match (&ours, &theirs) {
            (Ok(a), Some(b)) => assert_eq!(a, b, "input {input}"),
            (Err(_), None) => {}
            _ => panic!("disagree on {input}: ours {ours:?}, serde {theirs:?}"),
        }
    }

    fn user(v: &Value) -> Result<Value, String> {
        read(&USER, v)
    }
    fn issue(v: &Value) -> Result<Value, String> {
        read(&ISSUE, v)
    }
    fn comment(v: &Value) -> Result<Value, String> {
        read(&COMMENT, v)
    }
    fn created(v: &Value) -> Result<Value, String> {
        read(&CREATED_ISSUE, v)
    }

    fn full_issue() -> Value {
        json!({
            "id": "10001", "key": "ACME-1", "self": "https://api/rest/api/3/issue/10001",
            "expand": "renderedFields,names",
            "renderedFields": {"description": "<p>x</p>", "b": [{"z": 1, "a": 2}]},
            "fields": {
                "summary": "Crash on start",
                "status": {"id": "3", "name": "In Progress", "iconUrl": "i",
                           "statusCategory": {"id": 4, "key": "indeterminate", "name": "In Progress", "colorName": "yellow"}},
                "assignee": null,
                "reporter": {"accountId": "557058:alice", "displayName": "Alice", "active": true,
                             "avatarUrls": {"48x48": "https://a/48.png", "16x16": "https://a/16.png"},
                             "unknown": 1},
                "priority": {"id": "2", "name": "High"},
                "issuetype": {"id": "10002", "name": "Bug", "subtask": false, "hierarchyLevel": -1},
                "project": {"id": "10000", "key": "ACME", "name": "Acme", "simplified": true},
                "created": "2024-05-01T10:00:00.000+0000",
                "updated": "2024-05-02T10:00:00.000+0000",
                "labels": ["ui", "p1"],
                "description": {"type": "doc", "version": 1, "content": [
                    {"type": "paragraph", "content": [{"type": "text", "text": "It crashes."}]}]},
                "parent": {"key": "ACME-0", "id": "9"},
                "customfield_10010": {"value": "Team A"},
                "environment": null
            }
        })
    }

    #[test]
    fn models_read_like_their_serde_round_trip() {
        agree::<Issue>(issue, full_issue());
        agree::<Issue>(issue, json!({"id": "1", "key": "A-1"}));
        agree::<Issue>(issue, json!({"id": "1", "key": "A-1", "fields": {}}));
        agree::<Issue>(issue, json!({"id": "1", "key": "A-1", "fields": null}));
        agree::<Issue>(issue, json!({"id": 1, "key": "A-1"}));
        agree::<Issue>(issue, json!({"key": "A-1"}));
        agree::<Issue>(issue, json!([]));
        agree::<Issue>(issue, json!(null));
        agree::<Issue>(
            issue,
            json!({"id": "1", "key": "A-1", "fields": {"labels": [1]}}),
        );
        agree::<Issue>(
            issue,
            json!({"id": "1", "key": "A-1", "fields": {"status": {"id": "1"}}}),
        );
        agree::<Issue>(
            issue,
            json!({"id": "1", "key": "A-1", "fields": {"status": {"id": "1", "name": "x", "statusCategory": {"id": -1, "key": "k", "name": "n"}}}}),
        );
        agree::<User>(user, json!({"accountId": "a"}));
        agree::<User>(user, json!({"accountId": "a", "active": null}));
        agree::<User>(user, json!({"accountId": "a", "avatarUrls": {"a": 1}}));
        agree::<User>(user, json!({"accountId": "a", "avatarUrls": null}));
        agree::<User>(user, json!({"accountId": "a", "displayName": 5}));
        agree::<Comment>(
            comment,
            json!({"id": "1", "body": "plain", "visibility": {"value": "x", "type": "role"}}),
        );
        agree::<Comment>(comment, json!({"id": "1", "visibility": []}));
        agree::<Comment>(
            comment,
            json!({"id": "1", "author": {"accountId": "a"}, "updateAuthor": null, "created": "c"}),
        );
        agree::<CreatedIssue>(
            created,
            json!({"id": "1", "key": "A-1", "self": "s", "extra": true}),
        );
        agree::<CreatedIssue>(created, json!({"id": "1"}));
        agree::<SearchPage>(
            search_page,
            json!({"issues": [full_issue()], "nextPageToken": "t", "names": {"b": "B", "a": "A"}}),
        );
        agree::<SearchPage>(search_page, json!({"issues": [], "isLast": false}));
        agree::<SearchPage>(search_page, json!({"nextPageToken": ""}));
        agree::<SearchPage>(search_page, json!({"nextPageToken": "t", "isLast": true}));
        agree::<SearchPage>(search_page, json!({"issues": [{"id": "1"}]}));
        let page =
            search_page(&json!({"issues": [{"id": "1", "key": "A-1"}], "nextPageToken": "t"}))
                .unwrap();
        let (issues, token, last) = search_page_parts(&page);
        assert_eq!(
            (issues.len(), token.as_deref(), last),
            (1, Some("t"), false)
        );
        let page = search_page(&json!({"nextPageToken": ""})).unwrap();
        assert_eq!(search_page_parts(&page), (vec![], None, true));
        agree::<PageBean<Project>>(
            project_page,
            json!({
                "self": "x", "maxResults": 2, "startAt": 0, "total": 3, "isLast": false,
                "nextPage": "n",
                "values": [{"id": "1", "key": "A", "name": "Alpha", "projectTypeKey": "software", "simplified": false, "style": "classic", "avatarUrls": {"48x48": "u"}},
                           {"id": "2", "key": "B", "name": "Beta"}]
            }),
        );
        agree::<PageBean<Project>>(
            project_page,
            json!({"startAt": 2, "maxResults": 2, "total": 3, "values": [{"id": "3", "key": "C", "name": "C"}]}),
        );
        agree::<PageBean<Project>>(
            project_page,
            json!({"startAt": 0, "total": 3, "values": [{"id": "3", "key": "C", "name": "C"}]}),
        );
        agree::<PageBean<Project>>(project_page, json!({"values": [], "nextPage": "x"}));
        agree::<PageBean<Project>>(project_page, json!({}));
        agree::<PageBean<Project>>(project_page, json!({"startAt": -1}));
        agree::<PageBean<Project>>(project_page, json!({"startAt": null}));
        agree::<CommentPage>(comment_page, json!({"comments": [{"id": "1"}]}));
        agree::<CommentPage>(
            comment_page,
            json!({"startAt": 5, "maxResults": 10, "total": 50, "comments": []}),
        );
        agree::<CommentPage>(
            comment_page,
            json!({"startAt": 5, "comments": [{"id": "1"}, {"id": "2"}]}),
        );
    }

    #[test]
    fn transitions_count_and_issue_types_read_like_serde() {
        let body = json!({"transitions": [
            {"id": "21", "name": "Start", "hasScreen": false, "isGlobal": true,
             "to": {"id": "3", "name": "In Progress", "statusCategory": {"key": "indeterminate", "name": "In Progress", "colorName": "yellow"}}},
            {"id": "31", "name": "Done", "isAvailable": false, "fields": {"b": 1, "a": {"y": 1, "x": 2}},
             "to": {"id": "4", "name": "Done"}}
        ]});
        let expected = serde_json::to_value(
            serde_json::from_value::<crate::jira::calls::Transitions>(body.clone())
                .unwrap()
                .transitions,
        )
        .unwrap();
        assert_eq!(transitions(&body).unwrap(), expected);
        assert_eq!(transitions(&json!({})).unwrap(), json!([]));
        assert!(transitions(&json!({"transitions": [{"id": "1", "name": "x"}]})).is_err());

        assert_eq!(count(&json!({"count": 42})).unwrap(), json!(42));
        assert!(count(&json!({})).is_err());
        assert!(count(&json!({"count": "1"})).is_err());

        let page = json!({"maxResults": 50, "startAt": 0, "total": 2, "issueTypes": [{"id": "1", "name": "Task", "subtask": false}, {"id": "2", "name": "Sub", "subtask": true, "hierarchyLevel": -1}]});
        let typed: IssueTypeMetaPage = serde_json::from_value(page.clone()).unwrap();
        let (types, total) = issue_type_page(&page).unwrap();
        assert_eq!(total, typed.total);
        assert_eq!(
            Value::Array(types),
            serde_json::to_value(&typed.issue_types).unwrap()
        );
        let old = json!({"values": [{"id": "1", "name": "Task"}]});
        let typed: IssueTypeMetaPage = serde_json::from_value(old.clone()).unwrap();
        let (types, total) = issue_type_page(&old).unwrap();
        assert_eq!((total, types.len()), (typed.total, typed.issue_types.len()));
        assert!(issue_type_page(&json!({"issueTypes": [{"id": "1"}]})).is_err());
    }

    /// The issue with its `fields` put back, as the serde model holds them.
    fn create_issue_whole(v: &Value) -> Result<CreateIssue, String> {
        create_issue(v).map(|(mut issue, fields)| {
            issue.fields = fields.and_then(|f| f.as_object().cloned());
            issue
        })
    }

    fn edit_issue_whole(v: &Value) -> Result<EditIssue, String> {
        edit_issue(v).map(|(mut edit, fields)| {
            edit.fields = fields.and_then(|f| f.as_object().cloned());
            edit
        })
    }

    fn agree_input<T: DeserializeOwned + PartialEq + std::fmt::Debug>(
        read: fn(&Value) -> Result<T, String>,
        input: Value,
    ) {
        let ours = read(&input).ok();
        let theirs = serde_json::from_value::<T>(input.clone()).ok();
        assert_eq!(ours, theirs, "input {input}");
    }

    #[test]
    fn inputs_read_like_serde() {
        agree_input(
            search_params,
            json!({"jql": "project = A", "maxResults": 10}),
        );
        agree_input(
            search_params,
            json!({"jql": "x", "fields": ["a", "b"], "expand": null, "nextPageToken": "t"}),
        );
        agree_input(search_params, json!({"maxResults": 10}));
        agree_input(search_params, json!({"jql": "x", "maxResults": -1}));
        agree_input(
            search_params,
            json!({"jql": "x", "maxResults": 4_294_967_296u64}),
        );
        agree_input(search_params, json!({"jql": "x", "fields": "a"}));
        agree_input(search_params, json!("x"));
        agree_input(
            get_issue_options,
            json!({"fields": ["summary"], "expand": ["names"]}),
        );
        agree_input(get_issue_options, json!({}));
        agree_input(
            create_issue_whole,
            json!({
                "projectKey": "A", "issueType": "Bug", "summary": "s", "assigneeAccountId": "x", "labels": ["l"],
                "description": "d", "priority": {"name": "High"}, "parent": "A-1",
                "fields": {"customfield_1": {"value": "v"}, "n": 1.5, "z": null, "list": [1, "a"]}
            }),
        );
        agree_input(
            create_issue_whole,
            json!({"projectKey": "A", "issueType": {"id": "7"}, "summary": "s"}),
        );
        agree_input(
            create_issue_whole,
            json!({"projectKey": "A", "issueType": {"id": 7, "name": "Task"}, "summary": "s"}),
        );
        agree_input(
            create_issue_whole,
            json!({"projectKey": "A", "issueType": ["7"], "summary": "s"}),
        );
        agree_input(
            create_issue_whole,
            json!({"projectKey": "A", "issueType": 5, "summary": "s"}),
        );
        agree_input(
            create_issue_whole,
            json!({"projectKey": "A", "summary": "s"}),
        );
        agree_input(
            create_issue_whole,
            json!({"projectKey": "A", "issueType": "Bug", "summary": "s", "fields": [1]}),
        );
        agree_input(
            edit_issue_whole,
            json!({"summary": "s", "fields": {"assignee": null}, "priority": "2"}),
        );
        agree_input(edit_issue_whole, json!({}));
        agree_input(edit_issue_whole, json!({"labels": [1]}));
        agree_input(
            project_search,
            json!({"query": "q", "startAt": 10, "maxResults": 5, "orderBy": "name", "keys": ["A", "B"]}),
        );
        agree_input(project_search, json!({"startAt": 1.5}));
        agree_input(project_search, json!(null));
    }

    #[test]
    fn keys_sort_in_byte_order() {
        let mut keys: Vec<String> = [
            "b",
            "a",
            "customfield_10",
            "Z",
            "é",
            "customfield_2",
            "",
            "a",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let mut expected = keys.clone();
        expected.sort();
        sort(&mut keys);
        assert_eq!(keys, expected);
    }

    #[test]
    fn free_form_json_comes_out_sorted_and_numbers_keep_their_value() {
        let v = json!({"b": [{"d": 1, "c": 2}], "a": null});
        assert_eq!(sorted(&v), v);
        let input = json!({"n": 3, "f": 1.5, "neg": -2});
        assert_eq!(to_value(&input).unwrap(), input);
    }
}
