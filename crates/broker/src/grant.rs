//! Parsing a client's token request: `POST /oauth/token` with a JSON or form body shaped like
//! an OAuth token request (no client credentials: the broker holds them).

use crate::error::Refusal;
use serde::Deserialize;
use std::collections::HashSet;

/// The grant types a client may ask the broker for.
pub const TICKET_GRANT: &str = "urn:jira-3lo:ticket";

/// A token request the broker is willing to serve. Both carry sealed strings; what they wrap
/// is only known after opening them.
pub enum Grant {
    /// Redeems the one-time ticket the broker's callback put in the client's redirect.
    Ticket { ticket: String },
    /// A sealed refresh blob the broker issued (never Atlassian's raw refresh token).
    RefreshToken { refresh_token: String },
}

impl Grant {
    pub fn grant_type(&self) -> &'static str {
        match self {
            Self::Ticket { .. } => TICKET_GRANT,
            Self::RefreshToken { .. } => "refresh_token",
        }
    }
}

// No Debug on purpose: it would print the ticket or the refresh blob.

/// The fields the broker looks at. Anything else in the body is ignored.
#[derive(Default, Deserialize)]
struct RawGrant {
    grant_type: Option<String>,
    ticket: Option<String>,
    refresh_token: Option<String>,
    client_id: Option<serde::de::IgnoredAny>,
    client_secret: Option<serde::de::IgnoredAny>,
}

enum BodyKind {
    Json,
    Form,
}

fn body_kind(content_type: Option<&str>) -> Result<BodyKind, Refusal> {
    let essence = content_type
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    match essence.as_str() {
        "application/json" => Ok(BodyKind::Json),
        "application/x-www-form-urlencoded" => Ok(BodyKind::Form),
        _ => Err(Refusal::InvalidRequest(
            "Content-Type must be application/json or application/x-www-form-urlencoded",
        )),
    }
}

fn parse_raw(kind: BodyKind, body: &[u8]) -> Result<RawGrant, Refusal> {
    match kind {
        // serde's messages can quote values, so the client only gets a fixed text.
        BodyKind::Json => serde_json::from_slice(body).map_err(|_| {
            Refusal::InvalidRequest("the body is not a JSON object with string fields")
        }),
        BodyKind::Form => {
            if std::str::from_utf8(body).is_err() {
                return Err(Refusal::InvalidRequest("the form body is not valid UTF-8"));
            }
            let mut raw = RawGrant::default();
            let mut seen = HashSet::new();
            for (key, value) in url::form_urlencoded::parse(body) {
                let slot = match key.as_ref() {
                    "grant_type" => &mut raw.grant_type,
                    "ticket" => &mut raw.ticket,
                    "refresh_token" => &mut raw.refresh_token,
                    "client_id" => {
                        raw.client_id = Some(serde::de::IgnoredAny);
                        continue;
                    }
                    "client_secret" => {
                        raw.client_secret = Some(serde::de::IgnoredAny);
                        continue;
                    }
                    _ => continue,
                };
                if !seen.insert(key.clone()) {
                    return Err(Refusal::InvalidRequest(
                        "a form field appears more than once",
                    ));
                }
                *slot = Some(value.into_owned());
            }
            Ok(raw)
        }
    }
}

/// An empty string counts as missing: forwarding it would only earn a vaguer upstream error.
fn required(value: Option<String>, missing: &'static str) -> Result<String, Refusal> {
    value
        .filter(|v| !v.is_empty())
        .ok_or(Refusal::InvalidRequest(missing))
}

/// Turns a request body into a [`Grant`], or the refusal the client gets instead.
/// `authorization_code` is refused: codes only ever reach the broker's own callback.
pub fn parse(content_type: Option<&str>, body: &[u8]) -> Result<Grant, Refusal> {
    let raw = parse_raw(body_kind(content_type)?, body)?;
    if raw.client_id.is_some() || raw.client_secret.is_some() {
        return Err(Refusal::InvalidRequest(
            "client_id and client_secret must not be sent to the broker; it adds its own",
        ));
    }
    let grant_type = required(raw.grant_type, "missing grant_type")?;
    match grant_type.as_str() {
        TICKET_GRANT => {
            let ticket = required(raw.ticket, "missing ticket")?;
            Ok(Grant::Ticket { ticket })
        }
        "refresh_token" => {
            let refresh_token = required(raw.refresh_token, "missing refresh_token")?;
            Ok(Grant::RefreshToken { refresh_token })
        }
        _ => Err(Refusal::UnsupportedGrantType),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code_of(result: Result<Grant, Refusal>) -> &'static str {
        match result {
            Ok(_) => "ok",
            Err(refusal) => refusal.code(),
        }
    }

    #[test]
    fn json_and_form_bodies_parse_alike() {
        let json = br#"{"grant_type":"urn:jira-3lo:ticket","ticket":"t1","extra":1}"#;
        let form = b"grant_type=urn%3Ajira-3lo%3Aticket&ticket=t1&extra=1";
        for (ct, body) in [
            ("application/json; charset=utf-8", &json[..]),
            ("application/x-www-form-urlencoded", &form[..]),
        ] {
            match parse(Some(ct), body) {
                Ok(Grant::Ticket { ticket }) => assert_eq!(ticket, "t1"),
                _ => panic!("{ct} did not parse"),
            }
        }
    }

    #[test]
    fn refusals() {
        let json = Some("application/json");
        let form = Some("application/x-www-form-urlencoded");
        let cases: [(Option<&str>, &[u8], &str); 15] = [
            (json, br#"{"grant_type":"password"}"#, "unsupported_grant_type"),
            (
                json,
                br#"{"grant_type":"authorization_code","code":"c","redirect_uri":"https://app.example/cb"}"#,
                "unsupported_grant_type",
            ),
            (json, br#"{"code":"x"}"#, "invalid_request"),
            (json, br#"{"grant_type":"refresh_token"}"#, "invalid_request"),
            (json, br#"{"grant_type":"urn:jira-3lo:ticket"}"#, "invalid_request"),
            (json, br#"{"grant_type":"refresh_token","refresh_token":""}"#, "invalid_request"),
            (json, br#"{"grant_type":"refresh_token","refresh_token":5}"#, "invalid_request"),
            (json, br#"[1,2]"#, "invalid_request"),
            (json, b"grant_type=refresh_token", "invalid_request"),
            (
                json,
                br#"{"grant_type":"refresh_token","refresh_token":"r","client_secret":"s"}"#,
                "invalid_request",
            ),
            (form, b"grant_type=refresh_token&refresh_token=r&client_id=x", "invalid_request"),
            (form, b"grant_type=refresh_token&refresh_token=r&refresh_token=s", "invalid_request"),
            (Some("text/plain"), br#"{"grant_type":"refresh_token","refresh_token":"r"}"#, "invalid_request"),
            (None, br#"{"grant_type":"refresh_token","refresh_token":"r"}"#, "invalid_request"),
            (json, br#"{"grant_type":"refresh_token","refresh_token":"r"}"#, "ok"),
        ];
        for (ct, body, expected) in cases {
            assert_eq!(
                code_of(parse(ct, body)),
                expected,
                "{}",
                String::from_utf8_lossy(body)
            );
        }
    }
}
