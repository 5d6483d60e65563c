//! Classifying api.atlassian.com gateway / Jira answers: success, the various 401s, a site that
//! is gone, rate limiting with `Retry-After`, Jira `ErrorCollection`s, and garbage.

use std::collections::BTreeMap;

use super::json::{decode, to_text, DecodeError, JsonValue};
use crate::core::io::HttpResponse;
use crate::Error;

/// The wait hint for a 429 that carries no usable `Retry-After` (it is not retried automatically).
pub const DEFAULT_RATE_LIMIT_HINT_MS: u64 = 5_000;

/// The shortest wait between retries: `Retry-After: 0` (or a date in the past) must not turn
/// into a burst of immediate retries against a server that is shedding load.
pub const MIN_RETRY_WAIT_MS: u64 = 1_000;

/// What a gateway answer means for the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiOutcome {
    /// 2xx with a plausible body.
    Success,
    /// 401 `Unauthorized; scope does not match`: no refresh can fix it.
    MissingScope { message: String },
    /// Any other 401: the access token is expired, revoked or garbage. Refresh once.
    TokenRejected,
    /// The cloud id is not reachable with this grant: the gateway's own
    /// `404 {"code":404,"message":"Not Found"}` (Jira's 404s are `ErrorCollection`s).
    SiteUnreachable,
    /// 429, or 503 with `Retry-After`: retry after the wait (idempotent requests only).
    /// `retry_after_ms` is at least [`MIN_RETRY_WAIT_MS`].
    RetryAfter { status: u16, retry_after_ms: u64 },
    /// Anything else, already typed.
    Failed(Error),
}

/// The gateway's own error shape: `{"code": 401, "message": "Unauthorized"}` (both optional;
/// a non-null `code` of any type).
#[derive(serde::Deserialize)]
struct GatewayBody {
    code: Option<JsonValue>,
    message: Option<String>,
}

/// Jira's `ErrorCollection`: `errorMessages` (strings) and `errors` (an object), both optional.
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct ErrorCollection {
    error_messages: Option<Vec<String>>,
    errors: Option<serde_json::Map<String, JsonValue>>,
}

/// Classifies one gateway response received at `now_ms` (for HTTP-date `Retry-After`).
pub fn classify_api_response(resp: &HttpResponse, now_ms: u64) -> ApiOutcome {
    let status = resp.status;
    if (200..300).contains(&status) {
        if looks_like_html(resp) {
            return ApiOutcome::Failed(html_error(status));
        }
        return ApiOutcome::Success;
    }
    if status == 429 || status == 503 {
        let wait = retry_after_ms(resp, now_ms);
        match (status, wait) {
            (_, Some(ms)) => {
                return ApiOutcome::RetryAfter {
                    status,
                    retry_after_ms: ms.max(MIN_RETRY_WAIT_MS),
                }
            }
            (429, None) => {
                return ApiOutcome::Failed(Error::RateLimited {
                    status,
                    retry_after_ms: DEFAULT_RATE_LIMIT_HINT_MS,
                })
            }
            _ => {}
        }
    }
    if looks_like_html(resp) {
        return ApiOutcome::Failed(html_error(status));
    }
    let body = resp.body.trim();
    if body.is_empty() {
        return match status {
            401 => ApiOutcome::TokenRejected,
            _ => ApiOutcome::Failed(jira_error(status, vec![], BTreeMap::new())),
        };
    }
    let collection = match decode::<ErrorCollection>(body) {
        Err(DecodeError::Syntax | DecodeError::Eof) => {
            return ApiOutcome::Failed(Error::invalid_response(
                status,
                "the error body is not JSON",
            ))
        }
        Err(DecodeError::Data) => None,
        Ok(collection) => Some(collection),
    };
    if let Some(ErrorCollection {
        error_messages,
        errors,
    }) = collection
    {
        if error_messages.is_some() || errors.is_some() {
            let mut map = BTreeMap::new();
            for (k, v) in errors.unwrap_or_default() {
                // A non-string value as JSON text (objects with sorted keys).
                let text = match v {
                    JsonValue::String(text) => text,
                    other => to_text(&other),
                };
                map.insert(k, text);
            }
            // A 401 in Jira's own shape is still an authentication failure.
            if status == 401 {
                return ApiOutcome::TokenRejected;
            }
            return ApiOutcome::Failed(jira_error(status, error_messages.unwrap_or_default(), map));
        }
    }
    let gateway = decode::<GatewayBody>(body).ok();
    let message = gateway
        .as_ref()
        .and_then(|g| g.message.clone())
        .unwrap_or_default();
    let is_gateway_shape = gateway
        .as_ref()
        .is_some_and(|g| g.code.is_some() || g.message.is_some());
    let lower = message.to_ascii_lowercase();
    match status {
        401 if lower.contains("scope does not match") => ApiOutcome::MissingScope { message },
        // Every other 401 is about the token, whatever its wording: refresh, never rediscover.
        401 => ApiOutcome::TokenRejected,
        404 if gateway.as_ref().is_some_and(is_foreign_cloud_id) => ApiOutcome::SiteUnreachable,
        _ if is_gateway_shape && !message.is_empty() => {
            ApiOutcome::Failed(jira_error(status, vec![message], BTreeMap::new()))
        }
        _ => ApiOutcome::Failed(Error::invalid_response(
            status,
            "the error body is neither a Jira ErrorCollection nor a gateway error",
        )),
    }
}

/// The gateway's answer for a cloud id outside the grant, exactly: `{"code":404,"message":"Not
/// Found"}`. Anything looser would send an ordinary 404 into a rediscovery.
fn is_foreign_cloud_id(g: &GatewayBody) -> bool {
    let code_404 = g
        .code
        .as_ref()
        .is_some_and(|c| c.as_u64() == Some(404) || c.as_str() == Some("404"));
    code_404
        && g.message
            .as_deref()
            .is_some_and(|m| m.trim().eq_ignore_ascii_case("not found"))
}

fn jira_error(status: u16, error_messages: Vec<String>, errors: BTreeMap<String, String>) -> Error {
    Error::Jira {
        status,
        error_messages,
        errors,
    }
}

fn html_error(status: u16) -> Error {
    Error::invalid_response(status, "expected JSON but received an HTML page")
}

/// HTML where JSON was expected (a captive portal, a proxy error page, a login page).
pub fn looks_like_html(resp: &HttpResponse) -> bool {
    let ct_html = resp
        .header("content-type")
        .is_some_and(|ct| ct.to_ascii_lowercase().contains("text/html"));
    let body = resp.body.trim_start();
    ct_html || body.starts_with("<!") || body.starts_with("<html") || body.starts_with("<HTML")
}

/// The response's `Retry-After` as a wait in ms (see [`parse_retry_after`]), if it has a
/// usable one.
pub fn retry_after_ms(resp: &HttpResponse, now_ms: u64) -> Option<u64> {
    resp.header("retry-after")
        .and_then(|v| parse_retry_after(v, now_ms))
}

/// Parses `Retry-After` (delta-seconds or an IMF-fixdate HTTP date) into a wait in ms.
pub fn parse_retry_after(value: &str, now_ms: u64) -> Option<u64> {
    let v = value.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(secs.saturating_mul(1000));
    }
    let at_ms = parse_http_date(v)?;
    Some(at_ms.saturating_sub(now_ms))
}

/// Parses an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`, RFC 9110 §5.6.7) — the only form a
/// current server may send — into ms since the epoch.
pub fn parse_http_date(s: &str) -> Option<u64> {
    // `get`, not indexing: no panicking slice path (with its formatting) in the wasm.
    let rest = s.get(s.find(", ")? + 2..)?;
    let parts: Vec<&str> = rest.split(' ').collect();
    if parts.len() != 5 || parts[4] != "GMT" {
        return None;
    }
    let day: u64 = parts[0].parse().ok()?;
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let month = MONTHS.iter().position(|m| *m == parts[1])? as u64 + 1;
    let year: u64 = parts[2].parse().ok()?;
    // Exactly three numbers (a plain loop: no collect adapter in the wasm).
    let mut hms = [0u64; 3];
    let mut count = 0;
    for p in parts[3].split(':') {
        *hms.get_mut(count)? = p.parse().ok()?;
        count += 1;
    }
    if count != 3
        || hms[0] > 23
        || hms[1] > 59
        || hms[2] > 60
        || !(1..=31).contains(&day)
        || year < 1970
        // `year = 4DIGIT`: a longer one overflowed the sum below.
        || parts[2].len() != 4
    {
        return None;
    }
    let days = days_from_civil(year, month, day);
    Some(((days * 24 + hms[0]) * 60 + hms[1]) * 60_000 + hms[2] * 1000)
}

/// Days since 1970-01-01 (Howard Hinnant's algorithm, years >= 1970).
pub(crate) fn days_from_civil(y: u64, m: u64, d: u64) -> u64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorCode;

    fn resp(status: u16, headers: &[(&str, &str)], body: &str) -> HttpResponse {
        HttpResponse {
            status,
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            body: body.into(),
        }
    }

    #[test]
    fn success_and_html() {
        assert_eq!(
            classify_api_response(&resp(200, &[], r#"{"a":1}"#), 0),
            ApiOutcome::Success
        );
        assert_eq!(
            classify_api_response(&resp(204, &[], ""), 0),
            ApiOutcome::Success
        );
        for r in [
            resp(
                200,
                &[("content-type", "text/html; charset=utf-8")],
                "hello",
            ),
            resp(200, &[], "<!DOCTYPE html><html></html>"),
            resp(502, &[], "<html><body>Bad gateway</body></html>"),
            resp(401, &[("content-type", "text/html")], "<p>login</p>"),
        ] {
            match classify_api_response(&r, 0) {
                ApiOutcome::Failed(e) => assert_eq!(e.code(), ErrorCode::InvalidResponse),
                o => panic!("{o:?}"),
            }
        }
    }

    #[test]
    fn the_401s() {
        assert_eq!(
            classify_api_response(
                &resp(
                    401,
                    &[],
                    r#"{"code":401,"message":"Unauthorized; scope does not match"}"#
                ),
                0
            ),
            ApiOutcome::MissingScope {
                message: "Unauthorized; scope does not match".into()
            }
        );
        assert_eq!(
            classify_api_response(
                &resp(401, &[], r#"{"code":401,"message":"Unauthorized"}"#),
                0
            ),
            ApiOutcome::TokenRejected
        );
        assert_eq!(
            classify_api_response(&resp(401, &[], ""), 0),
            ApiOutcome::TokenRejected
        );
        assert_eq!(
            classify_api_response(
                &resp(
                    401,
                    &[],
                    r#"{"errorMessages":["You are not authenticated"],"errors":{}}"#
                ),
                0
            ),
            ApiOutcome::TokenRejected
        );
        // A 401 that happens to mention a site or resource is still about the token.
        for body in [
            r#"{"code":401,"message":"Cloud id not permitted for this grant"}"#,
            r#"{"code":401,"message":"Unauthorized: resource requires a valid site token"}"#,
        ] {
            assert_eq!(
                classify_api_response(&resp(401, &[], body), 0),
                ApiOutcome::TokenRejected,
                "{body}"
            );
        }
    }

    #[test]
    fn site_gone_vs_issue_not_found() {
        for body in [
            r#"{"code":404,"message":"Not Found"}"#,
            r#"{"code":"404","message":"not found"}"#,
        ] {
            assert_eq!(
                classify_api_response(&resp(404, &[], body), 0),
                ApiOutcome::SiteUnreachable,
                "{body}"
            );
        }
        // Other gateway-shaped 404s are errors, not a reason to rediscover.
        assert_eq!(
            classify_api_response(
                &resp(404, &[], r#"{"code":404,"message":"Site not found"}"#),
                0
            ),
            ApiOutcome::Failed(Error::Jira {
                status: 404,
                error_messages: vec!["Site not found".into()],
                errors: BTreeMap::new()
            })
        );
        assert!(matches!(
            classify_api_response(&resp(404, &[], r#"{"message":"Not Found"}"#), 0),
            ApiOutcome::Failed(Error::Jira { status: 404, .. })
        ));
        let o = classify_api_response(
            &resp(
                404,
                &[],
                r#"{"errorMessages":["Issue does not exist or you do not have permission to see it."],"errors":{}}"#,
            ),
            0,
        );
        assert_eq!(
            o,
            ApiOutcome::Failed(Error::Jira {
                status: 404,
                error_messages: vec![
                    "Issue does not exist or you do not have permission to see it.".into()
                ],
                errors: BTreeMap::new()
            })
        );
    }

    #[test]
    fn jira_error_collection() {
        let o = classify_api_response(
            &resp(
                400,
                &[],
                r#"{"errorMessages":[],"errors":{"summary":"You must specify a summary of the issue."},"status":400}"#,
            ),
            0,
        );
        let ApiOutcome::Failed(Error::Jira { status, errors, .. }) = o else {
            panic!("{o:?}")
        };
        assert_eq!(status, 400);
        assert_eq!(
            errors["summary"],
            "You must specify a summary of the issue."
        );
        let o = classify_api_response(&resp(500, &[], "not json"), 0);
        assert!(matches!(
            o,
            ApiOutcome::Failed(Error::InvalidResponse { status: 500, .. })
        ));
        let o = classify_api_response(&resp(500, &[], ""), 0);
        assert!(matches!(
            o,
            ApiOutcome::Failed(Error::Jira { status: 500, .. })
        ));
    }

    #[test]
    fn rate_limits() {
        assert_eq!(
            classify_api_response(&resp(429, &[("retry-after", "3")], ""), 0),
            ApiOutcome::RetryAfter {
                status: 429,
                retry_after_ms: 3000
            }
        );
        assert_eq!(
            classify_api_response(
                &resp(503, &[("Retry-After", "Sun, 06 Nov 1994 08:49:39 GMT")], ""),
                784_111_777_000
            ),
            ApiOutcome::RetryAfter {
                status: 503,
                retry_after_ms: 2000
            }
        );
        // Zero (or a date already past) still waits the minimum.
        for (value, now) in [("0", 0), ("Sun, 06 Nov 1994 08:49:37 GMT", 784_111_778_000)] {
            assert_eq!(
                classify_api_response(&resp(429, &[("retry-after", value)], ""), now),
                ApiOutcome::RetryAfter {
                    status: 429,
                    retry_after_ms: MIN_RETRY_WAIT_MS
                },
                "{value}"
            );
        }
        assert_eq!(
            classify_api_response(&resp(429, &[], ""), 0),
            ApiOutcome::Failed(Error::RateLimited {
                status: 429,
                retry_after_ms: DEFAULT_RATE_LIMIT_HINT_MS
            })
        );
        // 503 without Retry-After is an ordinary server error.
        assert!(matches!(
            classify_api_response(&resp(503, &[], ""), 0),
            ApiOutcome::Failed(Error::Jira { status: 503, .. })
        ));
    }

    #[test]
    fn http_dates() {
        assert_eq!(
            parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(784_111_777_000)
        );
        assert_eq!(parse_http_date("Thu, 01 Jan 1970 00:00:00 GMT"), Some(0));
        assert_eq!(
            parse_http_date("Tue, 29 Feb 2028 12:00:00 GMT"),
            Some(1_835_438_400_000)
        );
        assert_eq!(parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT"), None);
        assert_eq!(parse_http_date("garbage"), None);
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", 784_111_778_000),
            Some(0)
        );
        assert_eq!(parse_retry_after(" 120 ", 0), Some(120_000));
        assert_eq!(parse_retry_after("-1", 0), None);
    }

    /// Found by fuzzing (issue 15): a year past 4 digits overflowed the milliseconds (a panic
    /// in a debug build, a wrapped wait in the wasm).
    #[test]
    fn a_year_past_four_digits_is_no_date() {
        for date in [
            "u, 30 Dec 0000000001803696498 2:3:0 GMT",
            "Fri, 31 Dec 18446744073709551615 23:59:59 GMT",
            "Sat, 01 Jan 10000 00:00:00 GMT",
            "Sat, 01 Jan 02000 00:00:00 GMT",
        ] {
            assert_eq!(parse_http_date(date), None, "{date}");
            assert_eq!(parse_retry_after(date, 0), None, "{date}");
        }
        assert_eq!(
            parse_http_date("Fri, 31 Dec 9999 23:59:59 GMT"),
            Some(253_402_300_799_000)
        );
    }
}
