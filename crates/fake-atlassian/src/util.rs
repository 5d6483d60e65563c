//! Small helpers without a better home: randomness, time formatting, escaping.

use std::time::{SystemTime, UNIX_EPOCH};

/// An unguessable, opaque token: `bytes` of OS randomness, base64url without padding.
///
/// Atlassian says clients must not rely on the format of codes or tokens, so neither do we
/// promise one; the only promise is that they cannot be guessed or enumerated.
pub(crate) fn random_token(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    // getrandom only fails when the OS has no entropy source at all; a fake that cannot mint
    // unguessable tokens must not pretend it can, so fall back to a loud abort of that request.
    getrandom::getrandom(&mut buf).expect("the OS random number generator is unavailable");
    base64url(&buf)
}

/// base64url (RFC 4648 §5) without padding.
pub(crate) fn base64url(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        let chars = chunk.len() + 1;
        for i in 0..chars {
            out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

/// Inverse of [`base64url`]; `None` for anything that is not unpadded base64url.
pub(crate) fn base64url_decode(s: &str) -> Option<Vec<u8>> {
    fn val(c: u8) -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' => 62,
            b'_' => 63,
            _ => return None,
        } as u32)
    }
    let bytes = s.as_bytes();
    if bytes.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(bytes.len() * 3 / 4);
    for chunk in bytes.chunks(4) {
        let mut n = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            n |= val(c)? << (18 - 6 * i);
        }
        let produced = chunk.len() - 1;
        for i in 0..produced {
            out.push((n >> (16 - 8 * i)) as u8);
        }
    }
    Some(out)
}

/// Compares secrets without an early exit, so timing does not leak how much of a secret matched.
pub(crate) fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Wall-clock seconds since the Unix epoch (the fake's clock adds its admin offset on top).
pub(crate) fn real_unix_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// (year, month, day, hour, minute, second) in UTC for Unix seconds.
fn civil(secs: u64) -> (i64, u32, u32, u32, u32, u32) {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Howard Hinnant's days_from_civil inverse.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = if m <= 2 { y + 1 } else { y };
    (
        y,
        m,
        d,
        (rem / 3600) as u32,
        ((rem % 3600) / 60) as u32,
        (rem % 60) as u32,
    )
}

/// Unix seconds of 00:00 UTC on a calendar day (Howard Hinnant's days_from_civil), or None for
/// a day that does not exist (month 13, 31 February) or lies before 1970.
pub(crate) fn unix_day(y: i64, m: u32, d: u32) -> Option<u64> {
    let days_in = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if y % 4 == 0 && (y % 100 != 0 || y % 400 == 0) => 29,
        2 => 28,
        _ => return None,
    };
    if d == 0 || d > days_in {
        return None;
    }
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = if m > 2 { m - 3 } else { m + 9 } as i64;
    let doy = (153 * mp + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    u64::try_from(days).ok().map(|d| d * 86_400)
}

/// Jira's timestamp format, e.g. `2025-01-06T09:00:00.000+0000`.
pub(crate) fn jira_time(secs: u64) -> String {
    let (y, mo, d, h, mi, s) = civil(secs);
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.000+0000")
}

/// The `X-RateLimit-Reset` format Atlassian documents: `yyyy-MM-ddTHH:mmZ`.
pub(crate) fn iso_minute(secs: u64) -> String {
    let (y, mo, d, h, mi, _) = civil(secs);
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}Z")
}

/// Percent-encodes a query component (everything but RFC 3986 unreserved characters), so a
/// space becomes `%20` as in Atlassian's denial redirect, not `+`.
pub(crate) fn pct(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Appends already-encoded `pairs` to a redirect URI's query.
pub(crate) fn with_query(uri: &str, pairs: &[(&str, &str)]) -> String {
    let mut out = uri.to_string();
    let mut sep = if uri.contains('?') { '&' } else { '?' };
    for (k, v) in pairs {
        out.push(sep);
        out.push_str(&pct(k));
        out.push('=');
        out.push_str(&pct(v));
        sep = '&';
    }
    out
}

/// Escapes text for HTML element content and attribute values.
pub(crate) fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// A small deterministic mixer (splitmix64) for the seed data: same input, same output, always.
pub(crate) fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// FNV-1a, used to bind a page token to its query (not for security).
pub(crate) fn fnv1a(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64url_round_trips() {
        for len in 0..40 {
            let data: Vec<u8> = (0..len).map(|i| (i * 37 + 11) as u8).collect();
            let enc = base64url(&data);
            assert!(!enc.contains('='));
            assert_eq!(base64url_decode(&enc).unwrap(), data);
        }
        assert_eq!(base64url(b"hello"), "aGVsbG8");
        assert!(base64url_decode("a").is_none());
        assert!(base64url_decode("ab+/").is_none());
    }

    #[test]
    fn random_tokens_differ_and_are_long() {
        let a = random_token(32);
        let b = random_token(32);
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
    }

    #[test]
    fn times_format_like_jira() {
        assert_eq!(jira_time(0), "1970-01-01T00:00:00.000+0000");
        assert_eq!(jira_time(1_736_154_000), "2025-01-06T09:00:00.000+0000");
        assert_eq!(jira_time(951_782_400), "2000-02-29T00:00:00.000+0000");
        assert_eq!(unix_day(2000, 2, 29), Some(951_782_400));
        assert_eq!(unix_day(1970, 1, 1), Some(0));
        assert_eq!(unix_day(2025, 1, 6), Some(1_736_121_600));
        assert_eq!(unix_day(2025, 2, 29), None);
        assert_eq!(unix_day(2025, 13, 1), None);
        assert_eq!(iso_minute(1_736_154_059), "2025-01-06T09:00Z");
    }

    #[test]
    fn query_encoding_uses_percent_20() {
        assert_eq!(
            with_query(
                "https://x.test/cb?a=1",
                &[("error_description", "User did not authorize the request")]
            ),
            "https://x.test/cb?a=1&error_description=User%20did%20not%20authorize%20the%20request"
        );
        assert_eq!(
            with_query("http://h/cb", &[("state", "a+b/c")]),
            "http://h/cb?state=a%2Bb%2Fc"
        );
    }

    #[test]
    fn ct_eq_compares() {
        assert!(ct_eq(b"abc", b"abc"));
        assert!(!ct_eq(b"abc", b"abd"));
        assert!(!ct_eq(b"abc", b"ab"));
    }

    #[test]
    fn html_is_escaped() {
        assert_eq!(
            html_escape("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }
}
