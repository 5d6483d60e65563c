//! A Jira REST request described without I/O. The `jira` module builds these; the session
//! sends them to `{api_base}/ex/jira/{cloudId}{path}` with authentication, retries and refresh.

use super::json::JsonValue;
use crate::core::io::Method;

/// One Jira REST call relative to the site's gateway root.
#[derive(Debug, Clone, PartialEq)]
pub struct JiraRequest {
    pub method: Method,
    /// Path below `/ex/jira/{cloudId}`, starting with `/`; every dynamic segment already
    /// percent-encoded (use [`encode_segment`]).
    pub path: String,
    /// Query pairs, encoded by the session when the URL is built.
    pub query: Vec<(String, String)>,
    /// JSON body for POST/PUT.
    pub body: Option<JsonValue>,
}

impl JiraRequest {
    pub fn get(path: impl Into<String>) -> Self {
        JiraRequest {
            method: Method::Get,
            path: path.into(),
            query: Vec::new(),
            body: None,
        }
    }

    pub fn post(path: impl Into<String>, body: JsonValue) -> Self {
        JiraRequest {
            method: Method::Post,
            path: path.into(),
            query: Vec::new(),
            body: Some(body),
        }
    }

    pub fn put(path: impl Into<String>, body: JsonValue) -> Self {
        JiraRequest {
            method: Method::Put,
            path: path.into(),
            query: Vec::new(),
            body: Some(body),
        }
    }

    /// Adds a query parameter (value encoded later, verbatim otherwise).
    pub fn query(mut self, key: &str, value: impl Into<String>) -> Self {
        self.query.push((key.to_string(), value.into()));
        self
    }
}

/// Percent-encodes one path segment (an issue key, a project key, an id) so that nothing
/// user-supplied can change the path.
pub fn encode_segment(segment: &str) -> String {
    super::urls::encode(segment)
}
