//! The engine's serde readers (src/core/json.rs `decode`) as the wasm build runs them, in real
//! Chromium, on the bad inputs of the native unit tests (HTML where JSON is expected, truncated
//! bodies, missing members, wrong types, corrupted records): each is held to the outcome and
//! error variant the native tests expect, and a reason never quotes a stored value.
#![cfg(target_arch = "wasm32")]

use jira_3lo::core::gateway::classify_api_response;
use jira_3lo::core::records::{
    decode, encode, AccessRecord, Decoded, PendingRecord, Record, RefreshRecord, SiteRecord,
};
use jira_3lo::core::secrets::{AccessToken, RefreshToken, State};
use jira_3lo::core::sites::parse_accessible_resources;
use jira_3lo::core::token_response::{classify_token_response, TokenOutcome};
use jira_3lo::error::SiteChoice;
use jira_3lo::session::ports::HttpResponse;
use jira_3lo::{Error, ErrorCode};
use wasm_bindgen::JsCast;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

fn resp(status: u16, body: &str) -> HttpResponse {
    HttpResponse {
        status,
        headers: vec![],
        body: body.into(),
    }
}

/// A token outcome with its tokens spelled out (their `Debug` is redacted).
fn token_outcome(o: &TokenOutcome) -> String {
    match o {
        TokenOutcome::Issued(t) => format!(
            "issued {} {} {:?} {:?} {:?}",
            t.access_token.secret(),
            t.expires_in,
            t.scope,
            t.refresh_token.as_ref().map(|r| r.secret().to_string()),
            t.token_type
        ),
        other => format!("{other:?}"),
    }
}

fn token(status: u16, body: &str) -> TokenOutcome {
    classify_token_response(&resp(status, body), 0)
}

fn failed_detail(o: TokenOutcome) -> (ErrorCode, String) {
    match o {
        TokenOutcome::Failed(Error::InvalidResponse { detail, .. }) => {
            (ErrorCode::InvalidResponse, detail)
        }
        TokenOutcome::Failed(e) => (e.code(), e.to_string()),
        other => panic!("{other:?}"),
    }
}

#[wasm_bindgen_test]
fn token_responses_read_the_same_as_natively() {
    let issued = token(
        200,
        r#"{"access_token":"a","expires_in":3600,"token_type":"Bearer","scope":"x","refresh_token":"r"}"#,
    );
    assert_eq!(
        token_outcome(&issued),
        r#"issued a 3600 Some("x") Some("r") Some("Bearer")"#
    );
    let optional_nulls = token(
        200,
        r#"{"access_token":"a","expires_in":1,"scope":null,"refresh_token":null}"#,
    );
    assert!(matches!(optional_nulls, TokenOutcome::Issued(t) if t.refresh_token.is_none()));
    for (status, body, detail) in [
        (
            200,
            "<html>login</html>",
            "token response is not a token set (Syntax error)",
        ),
        (
            200,
            r#"{"access_token":"a""#,
            "token response is not a token set (Eof error)",
        ),
        (200, "", "token response is not a token set (Eof error)"),
        (
            200,
            r#"{"access_token":"SECRET","expires_in":"x"}"#,
            "token response is not a token set (Data error)",
        ),
        (
            200,
            r#"{"access_token":"SECRET","expires_in":-1}"#,
            "token response is not a token set (Data error)",
        ),
        (
            200,
            r#"{"access_token":"SECRET","expires_in":1.5}"#,
            "token response is not a token set (Data error)",
        ),
        (
            200,
            r#"{"access_token":"SECRET","expires_in":1,"scope":5}"#,
            "token response is not a token set (Data error)",
        ),
        (
            200,
            r#"{"expires_in":3600}"#,
            "token response is not a token set (Data error)",
        ),
        (
            503,
            "<html>busy</html>",
            "token endpoint answered 503 without an OAuth error body",
        ),
        (
            400,
            r#"{"error":5}"#,
            "token endpoint answered 400 without an OAuth error body",
        ),
        (
            400,
            r#"{"error":"x","error_description":7}"#,
            "token endpoint answered 400 without an OAuth error body",
        ),
    ] {
        let (code, got) = failed_detail(token(status, body));
        assert_eq!(code, ErrorCode::InvalidResponse, "{body}");
        assert_eq!(got, detail, "{body}");
        assert!(!got.contains("SECRET"));
    }
    for (status, body, code) in [
        (
            503,
            r#"{"error":"temporarily_unavailable"}"#,
            ErrorCode::Oauth,
        ),
        (
            502,
            r#"{"error":"upstream_unreachable","error_description":"x"}"#,
            ErrorCode::Broker,
        ),
        (403, r#"{"error":"origin_not_allowed"}"#, ErrorCode::Broker),
        (
            401,
            r#"{"error":"access_denied","error_description":"Unauthorized"}"#,
            ErrorCode::Oauth,
        ),
    ] {
        assert_eq!(failed_detail(token(status, body)).0, code, "{body}");
    }
    assert!(matches!(
        token(403, r#"{"error":"invalid_grant","error_description":null}"#),
        TokenOutcome::Refused {
            status: 403,
            description: None,
            ..
        }
    ));
}

/// An accessible-resources entry's members: id, name, url, scopes, avatar.
type Entry = (String, String, String, Vec<String>, Option<String>);

fn sites(body: &str) -> Result<Vec<Entry>, Error> {
    let flat = |list: Vec<jira_3lo::core::sites::AccessibleResource>| {
        list.into_iter()
            .map(|r| (r.id, r.name, r.url, r.scopes, r.avatar_url))
            .collect::<Vec<_>>()
    };
    parse_accessible_resources(&resp(200, body)).map(flat)
}

#[wasm_bindgen_test]
fn accessible_resources_read_the_same_as_natively() {
    let list = sites(
        r#"[{"id":"c1","name":"acme","url":"https://acme.atlassian.net","scopes":["read:jira-work"],"avatarUrl":"https://a/1.png"},
            {"id":"c2","avatarUrl":null},{"id":"c3","name":"w","extra":{"x":1}}]"#,
    )
    .unwrap();
    assert_eq!(list.len(), 3);
    assert_eq!(list[1], ("c2".into(), "".into(), "".into(), vec![], None));
    for (body, category) in [
        ("<html>", "Syntax"),
        ("[{\"id\":\"c1\"", "Eof"),
        ("{\"id\":\"c1\"}", "Data"),
        ("[{\"name\":\"no id\"}]", "Data"),
        ("[{\"id\":\"c1\",\"name\":null}]", "Data"),
        ("[{\"id\":\"c1\",\"scopes\":\"read:jira-work\"}]", "Data"),
        ("[{\"id\":\"c1\",\"scopes\":[1]}]", "Data"),
        ("[{\"id\":1}]", "Data"),
    ] {
        match sites(body) {
            Err(Error::InvalidResponse {
                status: 200,
                detail,
            }) => assert_eq!(
                detail,
                format!("accessible-resources is not a list of sites ({category} error)"),
                "{body}"
            ),
            other => panic!("{body}: {other:?}"),
        }
    }
}

fn api(status: u16, body: &str) -> jira_3lo::core::gateway::ApiOutcome {
    classify_api_response(&resp(status, body), 0)
}

#[wasm_bindgen_test]
fn gateway_answers_read_the_same_as_natively() {
    use jira_3lo::core::gateway::ApiOutcome;
    assert_eq!(
        api(
            401,
            r#"{"code":401,"message":"Unauthorized; scope does not match"}"#
        ),
        ApiOutcome::MissingScope {
            message: "Unauthorized; scope does not match".into()
        }
    );
    assert_eq!(
        api(401, r#"{"code":401,"message":"Unauthorized"}"#),
        ApiOutcome::TokenRejected
    );
    assert_eq!(
        api(
            401,
            r#"{"errorMessages":["You are not authenticated"],"errors":{}}"#
        ),
        ApiOutcome::TokenRejected
    );
    for body in [
        r#"{"code":404,"message":"Not Found"}"#,
        r#"{"code":"404","message":"not found"}"#,
    ] {
        assert_eq!(api(404, body), ApiOutcome::SiteUnreachable, "{body}");
    }
    for body in [
        r#"{"code":404,"message":"Site not found"}"#,
        r#"{"message":"Not Found"}"#,
        r#"{"code":null,"message":"Not Found"}"#,
        r#"{"errorMessages":["Issue does not exist"],"errors":{}}"#,
        r#"{"errorMessages":[],"errors":{"summary":"You must specify a summary of the issue."},"status":400}"#,
        // Non-string error values come out as JSON text with sorted keys, like serde_json's.
        r#"{"errors":{"n":5,"o":{"z":1,"a":[true,null,"s"]},"s":"x","b":false,"nil":null}}"#,
        r#"{"errorMessages":null,"errors":{"a":"b"}}"#,
        // Not an ErrorCollection (wrong member types) and not a gateway error either.
        r#"{"errorMessages":"one","message":5}"#,
        r#"{"errorMessages":[1],"message":"kept"}"#,
        r#"{"errors":[],"message":"kept"}"#,
        r#"[1,2]"#,
        r#""text""#,
        "not json",
        r#"{"errorMessages":["cut"#,
        "",
    ] {
        match api(404, body) {
            ApiOutcome::Failed(e) => {
                assert!(
                    matches!(e.code(), ErrorCode::Jira | ErrorCode::InvalidResponse),
                    "{body}: {e:?}"
                )
            }
            other => panic!("{body}: {other:?}"),
        }
    }
    match api(
        400,
        r#"{"errors":{"n":5,"o":{"z":1,"a":[true,null,"s"]},"s":"x"}}"#,
    ) {
        ApiOutcome::Failed(Error::Jira { errors, .. }) => {
            assert_eq!(errors["n"], "5");
            assert_eq!(errors["o"], r#"{"a":[true,null,"s"],"z":1}"#);
            assert_eq!(errors["s"], "x");
        }
        other => panic!("{other:?}"),
    }
    match api(500, "<!DOCTYPE html><html></html>") {
        ApiOutcome::Failed(e) => assert_eq!(e.code(), ErrorCode::InvalidResponse),
        other => panic!("{other:?}"),
    }
}

/// `decode` in the wasm; the reason never quotes the value.
fn both<T: Record + PartialEq + std::fmt::Debug>(raw: Option<&str>) -> Decoded<T> {
    let js = decode::<T>(raw);
    if let Decoded::Unreadable { reason } = &js {
        assert!(!reason.contains("SECRET"), "{reason}");
    }
    js
}

#[wasm_bindgen_test]
fn storage_records_read_the_same_as_natively() {
    let access = AccessRecord {
        v: 1,
        access_token: AccessToken::new("a"),
        expires_at_ms: 1_767_225_600_000,
        scopes: vec!["s".into()],
    };
    let site = SiteRecord::new(
        vec![
            SiteChoice {
                id: "c1".into(),
                name: "n".into(),
                url: "u".into(),
                avatar_url: None,
            },
            SiteChoice {
                id: "c2".into(),
                name: "m".into(),
                url: "w".into(),
                avatar_url: Some("https://a/2.png".into()),
            },
        ],
        Some("c1".into()),
    );
    let pending = PendingRecord {
        v: 1,
        state: Some(State::new("st")),
        redirect_uri: "https://x.chromiumapp.org/".into(),
        created_at_ms: 5,
    };
    let refresh = RefreshRecord {
        v: 1,
        refresh_token: RefreshToken::new("r"),
        sealed: true,
    };
    // Written and read in the wasm.
    assert_eq!(
        both::<AccessRecord>(Some(&encode(&access))),
        Decoded::Ok(access.clone())
    );
    assert_eq!(
        both::<SiteRecord>(Some(&encode(&site))),
        Decoded::Ok(site.clone())
    );
    assert_eq!(
        both::<PendingRecord>(Some(&encode(&pending))),
        Decoded::Ok(pending.clone())
    );
    assert_eq!(
        both::<RefreshRecord>(Some(&encode(&refresh))),
        Decoded::Ok(refresh.clone())
    );
    assert_eq!(
        encode(&access),
        r#"{"v":1,"access_token":"a","expires_at_ms":1767225600000,"scopes":["s"]}"#
    );
    // Records exactly as the serde-based version wrote them still load.
    assert_eq!(
        both::<AccessRecord>(Some(
            r#"{"v":1,"access_token":"a","expires_at_ms":1767225600000,"scopes":["s"]}"#
        )),
        Decoded::Ok(access)
    );
    assert_eq!(
        both::<SiteRecord>(Some(
            r#"{"v":1,"sites":[{"id":"c1","name":"n","url":"u","avatarUrl":null},{"id":"c2","name":"m","url":"w","avatarUrl":"https://a/2.png"}],"chosen":"c1"}"#
        )),
        Decoded::Ok(site)
    );
    assert_eq!(
        both::<PendingRecord>(Some(
            r#"{"v":1,"state":"st","redirect_uri":"https://x.chromiumapp.org/","created_at_ms":5}"#
        )),
        Decoded::Ok(pending)
    );
    assert_eq!(both::<RefreshRecord>(None), Decoded::Missing);
    for (raw, reason) in [
        ("garbage", "not JSON (Syntax error)"),
        ("", "not JSON (Eof error)"),
        (
            "{\"v\":1,\"refresh_token\":\"SECRET\"",
            "not JSON (Eof error)",
        ),
        ("{\"refresh_token\":\"SECRET\"}", "no schema version"),
        (
            "{\"v\":2,\"refresh_token\":\"SECRET\"}",
            "unsupported schema version 2",
        ),
        (
            "{\"v\":\"1\",\"refresh_token\":\"SECRET\"}",
            "no schema version",
        ),
        (
            "{\"v\":1,\"refresh_token\":42}",
            "fields do not match the schema (Data error)",
        ),
        (
            "{\"v\":1,\"refresh_token\":null}",
            "fields do not match the schema (Data error)",
        ),
        ("{\"v\":1}", "fields do not match the schema (Data error)"),
        ("[]", "no schema version"),
    ] {
        assert_eq!(
            both::<RefreshRecord>(Some(raw)),
            Decoded::Unreadable {
                reason: reason.into()
            },
            "{raw}"
        );
    }
    for raw in [
        "{\"v\":1,\"access_token\":\"SECRET\",\"expires_at_ms\":\"SECRET2\"}",
        "{\"v\":1,\"access_token\":\"SECRET\",\"expires_at_ms\":-5}",
        "{\"v\":1,\"access_token\":\"SECRET\",\"expires_at_ms\":5,\"scopes\":null}",
        "{\"v\":1,\"access_token\":\"SECRET\",\"expires_at_ms\":5,\"scopes\":[1]}",
    ] {
        assert!(
            matches!(both::<AccessRecord>(Some(raw)), Decoded::Unreadable { .. }),
            "{raw}"
        );
    }
    for raw in [
        "{\"v\":1,\"sites\":{}}",
        "{\"v\":1,\"sites\":[{\"id\":\"c1\",\"name\":\"n\"}]}",
        "{\"v\":1,\"sites\":[{\"id\":\"c1\",\"name\":\"n\",\"url\":\"u\",\"avatarUrl\":1}]}",
        "{\"v\":1,\"sites\":[],\"chosen\":7}",
    ] {
        assert!(
            matches!(both::<SiteRecord>(Some(raw)), Decoded::Unreadable { .. }),
            "{raw}"
        );
    }
    assert_eq!(
        both::<SiteRecord>(Some("{\"v\":1,\"sites\":[]}")),
        Decoded::Ok(SiteRecord::new(vec![], None))
    );
}

/// `__proto__` is an ordinary member in JSON: a model handed to JavaScript keeps it as an own
/// member instead of replacing the prototype (the object then has exactly the members given).
#[wasm_bindgen_test]
fn a_member_named_proto_stays_a_member() {
    let issue: jira_3lo::jira::Issue =
        serde_json::from_str(r#"{"id":"1","key":"A-1","fields":{"__proto__":{"x":1},"y":2}}"#)
            .unwrap();
    let js = jira_3lo::bindings::to_js(&issue);
    let fields = js_sys::Reflect::get(&js, &"fields".into()).unwrap();
    let keys = js_sys::Object::keys(fields.unchecked_ref::<js_sys::Object>());
    assert!(keys.includes(&"__proto__".into(), 0), "{keys:?}");
    assert_eq!(
        js_sys::JSON::stringify(&js_sys::Reflect::get(&fields, &"__proto__".into()).unwrap())
            .unwrap(),
        r#"{"x":1}"#
    );
    assert!(
        js_sys::Object::get_prototype_of(&fields)
            == js_sys::Object::get_prototype_of(&js_sys::Object::new())
    );
}
