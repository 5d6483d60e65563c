//! Typed Jira Cloud REST v3 models and calls.
