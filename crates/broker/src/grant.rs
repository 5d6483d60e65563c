//! Parsing and checking a client's token request: `POST /oauth/token` with a JSON or form body
//! shaped like Atlassian's, minus the client credentials.

use crate::error::Refusal;
use serde::Deserialize;
use std::collections::HashSet;

/// A token request the broker is willing to forward.
pub enum Grant {
    AuthorizationCode { code: String, redirect_uri: String },
    RefreshToken { refresh_token: String },
}

impl Grant {
    pub fn grant_type(&self) -> &'static str {
        match self {
            Self::AuthorizationCode { .. } => "authorization_code",
            Self::RefreshToken { .. } => "refresh_token",
        }
    }
}

// No Debug on purpose: it would print the code or the refresh token.

/// The fields the broker looks at. Anything else in the body is ignored and never forwarded.
#[derive(Default, Deserialize)]
struct RawGrant {
    grant_type: Option<String>,
    code: Option<String>,
    redirect_uri: Option<String>,
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
                    "code" => &mut raw.code,
                    "redirect_uri" => &mut raw.redirect_uri,
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
pub fn parse(
    content_type: Option<&str>,
    body: &[u8],
    allowed_redirect_uris: &HashSet<String>,
) -> Result<Grant, Refusal> {
    let raw = parse_raw(body_kind(content_type)?, body)?;
    if raw.client_id.is_some() || raw.client_secret.is_some() {
        return Err(Refusal::InvalidRequest(
            "client_id and client_secret must not be sent to the broker; it adds its own",
        ));
    }
    let grant_type = required(raw.grant_type, "missing grant_type")?;
    match grant_type.as_str() {
        "authorization_code" => {
            let code = required(raw.code, "missing code")?;
            let redirect_uri = required(raw.redirect_uri, "missing redirect_uri")?;
            if !allowed_redirect_uris.contains(&redirect_uri) {
                return Err(Refusal::RedirectUriNotAllowed);
            }
            Ok(Grant::AuthorizationCode { code, redirect_uri })
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

    fn allowed() -> HashSet<String> {
        ["https://app.example/cb".to_string()].into_iter().collect()
    }

    fn code_of(result: Result<Grant, Refusal>) -> &'static str {
        match result {
            Ok(_) => "ok",
            Err(refusal) => refusal.code(),
        }
    }

    #[test]
    fn json_and_form_bodies_parse_alike() {
        let json = br#"{"grant_type":"authorization_code","code":"c1","redirect_uri":"https://app.example/cb","extra":1}"#;
        let form = b"grant_type=authorization_code&code=c1&redirect_uri=https%3A%2F%2Fapp.example%2Fcb&extra=1";
        for (ct, body) in [
            ("application/json; charset=utf-8", &json[..]),
            ("application/x-www-form-urlencoded", &form[..]),
        ] {
            match parse(Some(ct), body, &allowed()) {
                Ok(Grant::AuthorizationCode { code, redirect_uri }) => {
                    assert_eq!(code, "c1");
                    assert_eq!(redirect_uri, "https://app.example/cb");
                }
                _ => panic!("{ct} did not parse"),
            }
        }
    }

    #[test]
    fn refusals() {
        let a = allowed();
        let json = Some("application/json");
        assert_eq!(
            code_of(parse(json, br#"{"grant_type":"password"}"#, &a)),
            "unsupported_grant_type"
        );
        assert_eq!(
            code_of(parse(json, br#"{"code":"x"}"#, &a)),
            "invalid_request"
        );
        assert_eq!(
            code_of(parse(json, br#"{"grant_type":"refresh_token"}"#, &a)),
            "invalid_request"
        );
        assert_eq!(
            code_of(parse(
                json,
                br#"{"grant_type":"refresh_token","refresh_token":""}"#,
                &a
            )),
            "invalid_request"
        );
        assert_eq!(
            code_of(parse(
                json,
                br#"{"grant_type":"refresh_token","refresh_token":5}"#,
                &a
            )),
            "invalid_request"
        );
        assert_eq!(code_of(parse(json, br#"[1,2]"#, &a)), "invalid_request");
        assert_eq!(
            code_of(parse(json, b"grant_type=refresh_token", &a)),
            "invalid_request"
        );
        assert_eq!(
            code_of(parse(
                json,
                br#"{"grant_type":"refresh_token","refresh_token":"r","client_secret":"s"}"#,
                &a
            )),
            "invalid_request"
        );
        assert_eq!(
            code_of(parse(
                Some("application/x-www-form-urlencoded"),
                b"grant_type=refresh_token&refresh_token=r&client_id=x",
                &a
            )),
            "invalid_request"
        );
        assert_eq!(
            code_of(parse(
                Some("application/x-www-form-urlencoded"),
                b"grant_type=refresh_token&refresh_token=r&refresh_token=s",
                &a
            )),
            "invalid_request"
        );
        assert_eq!(
            code_of(parse(
                Some("text/plain"),
                br#"{"grant_type":"refresh_token","refresh_token":"r"}"#,
                &a
            )),
            "invalid_request"
        );
        assert_eq!(
            code_of(parse(
                None,
                br#"{"grant_type":"refresh_token","refresh_token":"r"}"#,
                &a
            )),
            "invalid_request"
        );
        assert_eq!(
            code_of(parse(json, br#"{"grant_type":"authorization_code","code":"c","redirect_uri":"https://evil.example/cb"}"#, &a)),
            "redirect_uri_not_allowed"
        );
        assert_eq!(
            code_of(parse(
                json,
                br#"{"grant_type":"authorization_code","code":"c"}"#,
                &a
            )),
            "invalid_request"
        );
        assert_eq!(
            code_of(parse(
                json,
                br#"{"grant_type":"refresh_token","refresh_token":"r"}"#,
                &a
            )),
            "ok"
        );
    }
}
