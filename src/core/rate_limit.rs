//! Rate-limit awareness: what a Jira response's headers say about the app's quota on the site.
//!
//! Atlassian's points-based limits (2026) send RFC 9651 Structured Fields,
//! `Beta-RateLimit-Policy: "tenant-app-quota";q=100100;w=3600` and
//! `Beta-RateLimit: "tenant-app-quota";r=17842;t=2107`, with `X-Beta-RateLimit-Reason`,
//! `X-Beta-RateLimit-NearLimit: true` and `X-Beta-RateLimit-Reset: 2026-03-26T16:00Z`; the older
//! `X-RateLimit-Limit`, `X-RateLimit-Remaining`, `X-RateLimit-Reset`, `X-RateLimit-NearLimit`,
//! `RateLimit-Reason` and, on a 429 (some 503s), `Retry-After`. [`quota_of`] reads them into a
//! [`Quota`]; [`worth_publishing`] decides when another context must hear of a new one.
//!
//! The two Structured Fields are parsed by [`entries`], a strict RFC 9651 list parser checked
//! against the `sfv` crate by the fuzz target (why not sfv itself: see there).
//!
//! Every value comes from a server: a malformed one is ignored (the field stays unknown), never
//! an error, and the reason is kept only as a short token (see [`Quota::reason`]).

use serde::{Deserialize, Serialize};

use super::gateway::{days_from_civil, parse_retry_after};
use super::io::HttpResponse;
use super::json::MAX_SAFE_INTEGER;

/// The longest reason kept; Atlassian's are ~25 characters (`jira-quota-tenant-based`).
pub const MAX_REASON_LEN: usize = 64;

/// A header longer than this is not parsed at all (a few policies fit in ~200 bytes).
pub const MAX_HEADER_LEN: usize = 1024;

/// Below this share of the limit a quota is near it (Atlassian's `NearLimit`: under 20% left).
pub const NEAR_LIMIT_PERCENT: u64 = 20;

/// Another context hears of an unchanged-looking quota at most this often (see
/// [`worth_publishing`]): the options page is at most this stale, and a busy popup writes to
/// storage at most once per interval instead of once per call.
pub const PUBLISH_INTERVAL_MS: u64 = 30_000;

/// The app's quota on a site as the latest Jira response told it; every field is optional
/// (absent where no header said it, or the header was malformed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify), tsify(missing_as_null))]
#[serde(rename_all = "camelCase")]
pub struct Quota {
    /// Points (or requests) left in the window: `Beta-RateLimit` `r`, else `X-RateLimit-Remaining`.
    pub remaining: Option<u64>,
    /// The window's budget: `Beta-RateLimit-Policy` `q`, else `X-RateLimit-Limit`.
    pub limit: Option<u64>,
    /// When the window resets, ms since the epoch: `Beta-RateLimit` `t` (seconds from the
    /// response), else the ISO `X-Beta-RateLimit-Reset` / `X-RateLimit-Reset`, else `Retry-After`.
    pub resets_at: Option<u64>,
    /// The server's `NearLimit` flag; without one, whether under 20% of `limit` is left.
    pub near_limit: Option<bool>,
    /// Atlassian's reason code (`jira-quota-tenant-based`, `jira-burst-based`, ...): a token of
    /// ASCII letters, digits, `-`, `_`, `.` of at most [`MAX_REASON_LEN`] characters, else
    /// absent. A code to compare, never text to show as part of a message.
    pub reason: Option<String>,
    /// When this response was received, ms since the epoch.
    pub observed_at: u64,
}

impl Quota {
    /// Whether nothing at all is known (no rate-limit header on the response).
    fn is_empty(&self) -> bool {
        self.remaining.is_none()
            && self.limit.is_none()
            && self.resets_at.is_none()
            && self.near_limit.is_none()
            && self.reason.is_none()
    }

    /// `self`, with what it does not say taken from `older` of the same window: Atlassian drops
    /// `Beta-RateLimit-Policy` once the quota is exhausted, but the limit has not changed.
    pub fn or_from(mut self, older: &Quota) -> Quota {
        let same_window = older.resets_at.is_none_or(|at| self.observed_at < at);
        if same_window && self.limit.is_none() {
            self.limit = older.limit;
            if self.near_limit.is_none() {
                self.near_limit = near(self.remaining, self.limit);
            }
        }
        self
    }
}

/// The quota a response's headers describe, received at `now_ms`; `None` when it has no
/// rate-limit header (the latest quota known stays the latest). Never fails.
pub fn quota_of(resp: &HttpResponse, now_ms: u64) -> Option<Quota> {
    let header = |name: &str| resp.header(name).filter(|v| v.len() <= MAX_HEADER_LEN);
    let current = header("beta-ratelimit")
        .and_then(|v| entries(v, ["r", "t"]))
        .unwrap_or_default();
    // The most constraining entry: the one with the fewest points left.
    let chosen = current
        .iter()
        .filter(|e| e.values[0].is_some())
        .min_by_key(|e| e.values[0]);
    let policies = header("beta-ratelimit-policy")
        .and_then(|v| entries(v, ["q", "w"]))
        .unwrap_or_default();
    let policy = match chosen {
        Some(c) => policies.iter().find(|p| p.name == c.name),
        None => policies.first(),
    }
    .or(policies.first().filter(|_| policies.len() == 1));

    let remaining = chosen
        .and_then(|c| c.values[0])
        .or_else(|| header("x-ratelimit-remaining").and_then(count));
    let limit = policy
        .and_then(|p| p.values[0])
        .or_else(|| header("x-ratelimit-limit").and_then(count));
    let resets_at = chosen
        .and_then(|c| c.values[1])
        .and_then(|t| at(now_ms, t.saturating_mul(1000)))
        .or_else(|| header("x-beta-ratelimit-reset").and_then(parse_iso_utc))
        .or_else(|| header("x-ratelimit-reset").and_then(parse_iso_utc))
        .or_else(|| {
            header("retry-after")
                .and_then(|v| parse_retry_after(v, now_ms))
                .and_then(|wait| at(now_ms, wait))
        })
        .filter(|ms| *ms <= MAX_SAFE_INTEGER);
    let near_limit = header("x-beta-ratelimit-nearlimit")
        .and_then(flag)
        .or_else(|| header("x-ratelimit-nearlimit").and_then(flag))
        .or_else(|| near(remaining, limit));
    let reason = header("x-beta-ratelimit-reason")
        .and_then(reason_code)
        .or_else(|| header("ratelimit-reason").and_then(reason_code));
    let quota = Quota {
        remaining,
        limit,
        resets_at,
        near_limit,
        reason,
        observed_at: now_ms,
    };
    (!quota.is_empty()).then_some(quota)
}

/// Whether `next` (just observed) must be written where other contexts read it, given the one
/// written last (`None`: nothing yet). Yes when something a user or the badge acts on changed
/// (near the limit or not, exhausted or not, the reason, the limit, a new window), else at most
/// every [`PUBLISH_INTERVAL_MS`]: a steady stream of calls writes nothing on their fast path.
pub fn worth_publishing(published: Option<&Quota>, next: &Quota) -> bool {
    let Some(last) = published else {
        return true;
    };
    let exhausted = |q: &Quota| q.remaining == Some(0);
    last.near_limit != next.near_limit
        || exhausted(last) != exhausted(next)
        || last.reason != next.reason
        || last.limit != next.limit
        || last.resets_at.is_some_and(|at| next.observed_at >= at)
        || next.observed_at.saturating_sub(last.observed_at) >= PUBLISH_INTERVAL_MS
        || next.observed_at < last.observed_at
}

/// `now + wait`, if it is a time JavaScript holds exactly.
fn at(now_ms: u64, wait_ms: u64) -> Option<u64> {
    Some(now_ms.saturating_add(wait_ms)).filter(|ms| *ms <= MAX_SAFE_INTEGER)
}

fn near(remaining: Option<u64>, limit: Option<u64>) -> Option<bool> {
    let (remaining, limit) = (remaining?, limit?);
    Some(remaining.saturating_mul(100) < limit.saturating_mul(NEAR_LIMIT_PERCENT))
}

/// A plain non-negative integer header (`X-RateLimit-Limit: 100`).
fn count(value: &str) -> Option<u64> {
    let v = value.trim();
    if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    v.parse::<u64>().ok().filter(|n| *n <= MAX_SAFE_INTEGER)
}

fn flag(value: &str) -> Option<bool> {
    let v = value.trim();
    if v.eq_ignore_ascii_case("true") {
        Some(true)
    } else if v.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

/// The reason as a bounded code, or nothing (see [`Quota::reason`]).
fn reason_code(value: &str) -> Option<String> {
    let v = value.trim();
    let ok = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.');
    (!v.is_empty() && v.len() <= MAX_REASON_LEN && v.bytes().all(ok)).then(|| v.to_string())
}

/// `yyyy-MM-ddTHH:mm[:ss[.fff]]Z` (or `+00:00`), Atlassian's reset time, into ms since the epoch.
pub fn parse_iso_utc(value: &str) -> Option<u64> {
    let v = value.trim();
    let v = v
        .strip_suffix('Z')
        .or_else(|| v.strip_suffix('z'))
        .or_else(|| v.strip_suffix("+00:00"))?;
    let (date, time) = v.split_once(['T', 't'])?;
    let mut d = date.split('-');
    let year = digits(d.next()?, 4)?;
    let month = digits(d.next()?, 2)?;
    let day = digits(d.next()?, 2)?;
    if d.next().is_some() {
        return None;
    }
    let (hms, millis) = match time.split_once('.') {
        Some((hms, frac)) if !frac.is_empty() && frac.len() <= 9 => {
            let ms = digits(frac.get(..frac.len().min(3))?, frac.len().min(3))?;
            digits(frac, frac.len())?;
            (hms, ms * 10u64.pow(3 - frac.len().min(3) as u32))
        }
        Some(_) => return None,
        None => (time, 0),
    };
    let mut t = hms.split(':');
    let hour = digits(t.next()?, 2)?;
    let minute = digits(t.next()?, 2)?;
    let second = match t.next() {
        Some(s) => digits(s, 2)?,
        None => 0,
    };
    if t.next().is_some()
        || year < 1970
        || !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let days = days_from_civil(year, month, day);
    Some(((days * 24 + hour) * 60 + minute) * 60_000 + second * 1000 + millis)
}

/// Exactly `len` ASCII digits.
fn digits(s: &str, len: usize) -> Option<u64> {
    (s.len() == len && s.bytes().all(|b| b.is_ascii_digit()))
        .then(|| s.parse().ok())
        .flatten()
}

/// One member of a `Beta-RateLimit(-Policy)` list: its name and two integer parameters.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Entry {
    /// The policy name (an sf-string or a token); empty for any other item.
    pub name: String,
    /// The values of the two parameters asked for; absent, negative or not an integer: `None`.
    pub values: [Option<u64>; 2],
}

/// The members of a list header with their parameters `keys` (inner lists skipped), or `None`
/// when it is no valid RFC 9651 Structured Field list (parsing is strict: one bad byte voids
/// the field).
///
/// Written here rather than taken from the `sfv` crate: sfv 0.15 (its visitor API, no
/// `parsed-types`) cost 6.2 KB gzip of wasm, three times the module's size headroom, for two
/// headers. This is RFC 9651 §4.2's algorithm for lists, keeping only what a quota needs;
/// the fuzz target `rate_limit` checks it against sfv on every input (`fuzz/src/lib.rs`).
pub fn entries(value: &str, keys: [&str; 2]) -> Option<Vec<Entry>> {
    let mut p = Sf(value.as_bytes());
    let mut out = Vec::new();
    p.skip(b" ");
    while !p.0.is_empty() {
        if p.eat(b'(') {
            // An inner list is no policy: its items and parameters are only checked.
            loop {
                p.skip(b" ");
                if p.eat(b')') {
                    break;
                }
                p.item(None)?;
                if !matches!(p.peek(), Some(b' ' | b')')) {
                    return None;
                }
            }
            p.params(None)?;
        } else {
            let mut entry = Entry::default();
            p.item(Some((&mut entry, keys)))?;
            out.push(entry);
        }
        p.skip(b" \t");
        if p.0.is_empty() {
            break;
        }
        if !p.eat(b',') {
            return None;
        }
        p.skip(b" \t");
        if p.0.is_empty() {
            return None;
        }
    }
    Some(out)
}

/// What a bare item is, as far as a quota cares.
enum Bare {
    Integer(i64),
    Name(String),
    Other,
}

/// The rest of a Structured Field being parsed.
struct Sf<'a>(&'a [u8]);

impl Sf<'_> {
    fn peek(&self) -> Option<u8> {
        self.0.first().copied()
    }

    fn next(&mut self) -> Option<u8> {
        let (first, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(*first)
    }

    fn eat(&mut self, c: u8) -> bool {
        let yes = self.peek() == Some(c);
        if yes {
            self.0 = &self.0[1..];
        }
        yes
    }

    fn skip(&mut self, set: &[u8]) {
        while self.peek().is_some_and(|c| set.contains(&c)) {
            self.0 = &self.0[1..];
        }
    }

    /// An item (a bare item and its parameters); a string or token names `entry`.
    fn item(&mut self, entry: Option<(&mut Entry, [&str; 2])>) -> Option<()> {
        let bare = self.bare()?;
        match entry {
            Some((entry, keys)) => {
                if let Bare::Name(name) = bare {
                    entry.name = name;
                }
                self.params(Some((entry, keys)))
            }
            None => self.params(None),
        }
    }

    /// `;key[=value]...`: the integer values of `keys` go into `entry` (a later one wins).
    fn params(&mut self, mut entry: Option<(&mut Entry, [&str; 2])>) -> Option<()> {
        while self.eat(b';') {
            self.skip(b" ");
            let start = self.0;
            if !self
                .peek()
                .is_some_and(|c| c.is_ascii_lowercase() || c == b'*')
            {
                return None;
            }
            while self.peek().is_some_and(|c| {
                c.is_ascii_lowercase() || c.is_ascii_digit() || b"_-.*".contains(&c)
            }) {
                self.0 = &self.0[1..];
            }
            let key = &start[..start.len() - self.0.len()];
            let value = if self.eat(b'=') {
                self.bare()?
            } else {
                Bare::Other
            };
            if let Some((entry, keys)) = entry.as_mut() {
                if let Some(i) = keys.iter().position(|k| k.as_bytes() == key) {
                    entry.values[i] = match value {
                        Bare::Integer(n) => u64::try_from(n).ok(),
                        _ => None,
                    };
                }
            }
        }
        Some(())
    }

    fn bare(&mut self) -> Option<Bare> {
        match self.peek()? {
            b'-' | b'0'..=b'9' => self.number(),
            b'"' => {
                self.next();
                let mut name = String::new();
                loop {
                    match self.next()? {
                        b'\\' => match self.next()? {
                            c @ (b'"' | b'\\') => name.push(c as char),
                            _ => return None,
                        },
                        b'"' => return Some(Bare::Name(name)),
                        c @ 0x20..=0x7e => name.push(c as char),
                        _ => return None,
                    }
                }
            }
            c if c.is_ascii_alphabetic() || c == b'*' => {
                let start = self.0;
                self.next();
                while self
                    .peek()
                    .is_some_and(|c| c.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~:/".contains(&c))
                {
                    self.next();
                }
                let token = &start[..start.len() - self.0.len()];
                Some(Bare::Name(String::from_utf8_lossy(token).into_owned()))
            }
            b':' => {
                self.next();
                let end = self.0.iter().position(|c| *c == b':')?;
                let b64 = &self.0[..end];
                self.0 = &self.0[end + 1..];
                let pad = b64.iter().rev().take_while(|c| **c == b'=').count();
                let body = &b64[..b64.len() - pad];
                let ok = body
                    .iter()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'/'))
                    && body.len() % 4 != 1
                    && (pad == 0 || (pad <= 2 && b64.len() % 4 == 0));
                ok.then_some(Bare::Other)
            }
            b'?' => {
                self.next();
                matches!(self.next()?, b'0' | b'1').then_some(Bare::Other)
            }
            b'@' => {
                self.next();
                match self.number()? {
                    Bare::Integer(_) => Some(Bare::Other),
                    _ => None,
                }
            }
            b'%' => {
                self.next();
                if !self.eat(b'"') {
                    return None;
                }
                let mut bytes = Vec::new();
                loop {
                    match self.next()? {
                        b'%' => {
                            let hex = |c: u8| match c {
                                b'0'..=b'9' => Some(c - b'0'),
                                b'a'..=b'f' => Some(c - b'a' + 10),
                                _ => None,
                            };
                            let hi = hex(self.next()?)?;
                            let lo = hex(self.next()?)?;
                            bytes.push(hi << 4 | lo);
                        }
                        b'"' => return std::str::from_utf8(&bytes).ok().map(|_| Bare::Other),
                        c @ 0x20..=0x7e => bytes.push(c),
                        _ => return None,
                    }
                }
            }
            _ => None,
        }
    }

    /// An sf-integer (at most 15 digits) or sf-decimal (12.3 digits at most).
    fn number(&mut self) -> Option<Bare> {
        let negative = self.eat(b'-');
        if !self.peek().is_some_and(|c| c.is_ascii_digit()) {
            return None;
        }
        let (mut digits, mut dot, mut n) = (0usize, None, 0i64);
        while let Some(c) = self.peek() {
            if c.is_ascii_digit() {
                n = n * 10 + i64::from(c - b'0');
            } else if c == b'.' && dot.is_none() {
                if digits > 12 {
                    return None;
                }
                dot = Some(digits);
            } else {
                break;
            }
            self.next();
            digits += 1;
            if (dot.is_none() && digits > 15) || digits > 16 {
                return None;
            }
        }
        match dot {
            None => Some(Bare::Integer(if negative { -n } else { n })),
            Some(at) if (1..=3).contains(&(digits - at - 1)) => Some(Bare::Other),
            Some(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_774_537_200_000; // 2026-03-26T15:00:00Z

    fn resp(status: u16, headers: &[(&str, &str)]) -> HttpResponse {
        HttpResponse {
            status,
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_ascii_lowercase(), v.to_string()))
                .collect(),
            body: String::new(),
        }
    }

    #[test]
    fn atlassians_beta_headers() {
        let q = quota_of(
            &resp(
                200,
                &[
                    (
                        "Beta-RateLimit-Policy",
                        "\"tenant-app-quota\";q=100100;w=3600",
                    ),
                    ("Beta-RateLimit", "\"tenant-app-quota\";r=17842;t=2107"),
                    ("X-Beta-RateLimit-Reason", "jira-quota-tenant-based"),
                    ("X-Beta-RateLimit-NearLimit", "true"),
                    ("X-Beta-RateLimit-Reset", "2026-03-26T16:00Z"),
                ],
            ),
            NOW,
        )
        .unwrap();
        assert_eq!(
            q,
            Quota {
                remaining: Some(17842),
                limit: Some(100_100),
                resets_at: Some(NOW + 2_107_000),
                near_limit: Some(true),
                reason: Some("jira-quota-tenant-based".into()),
                observed_at: NOW,
            }
        );
    }

    #[test]
    fn the_older_headers_and_a_429() {
        let q = quota_of(
            &resp(
                429,
                &[
                    ("Retry-After", "120"),
                    ("X-RateLimit-Limit", "350"),
                    ("X-RateLimit-Remaining", "0"),
                    ("X-RateLimit-Reset", "2026-03-26T15:02Z"),
                    ("RateLimit-Reason", "jira-burst-based"),
                ],
            ),
            NOW,
        )
        .unwrap();
        assert_eq!(q.remaining, Some(0));
        assert_eq!(q.limit, Some(350));
        assert_eq!(q.resets_at, Some(NOW + 120_000));
        assert_eq!(q.near_limit, Some(true), "computed: nothing left");
        assert_eq!(q.reason.as_deref(), Some("jira-burst-based"));
        // Only Retry-After: the reset is after the wait.
        let q = quota_of(&resp(429, &[("Retry-After", "7")]), NOW).unwrap();
        assert_eq!((q.resets_at, q.remaining), (Some(NOW + 7000), None));
        // Computed near-limit: under 20% left.
        let q = |r: &str| {
            quota_of(
                &resp(
                    200,
                    &[("X-RateLimit-Limit", "100"), ("X-RateLimit-Remaining", r)],
                ),
                NOW,
            )
            .unwrap()
            .near_limit
        };
        assert_eq!((q("19"), q("20")), (Some(true), Some(false)));
    }

    #[test]
    fn no_header_is_no_quota() {
        assert_eq!(quota_of(&resp(200, &[("content-type", "x")]), NOW), None);
        // Only malformed values: nothing known either.
        let malformed = resp(
            200,
            &[
                ("X-RateLimit-Limit", "lots"),
                ("Beta-RateLimit", "tenant-app-quota;r=\"1\""),
                ("RateLimit-Reason", "<script>alert(1)</script>"),
            ],
        );
        assert_eq!(quota_of(&malformed, NOW), None);
    }

    #[test]
    fn hostile_values_are_ignored_field_by_field() {
        let long = "a".repeat(MAX_REASON_LEN + 1);
        let huge = format!("\"p\";r={}", "9".repeat(40));
        let cases: &[(&str, &str)] = &[
            ("Beta-RateLimit", "\"p\";r=-5;t=-1"),
            ("Beta-RateLimit", "\"p\";r=1.5;t=?1"),
            ("Beta-RateLimit", &huge),
            ("Beta-RateLimit", "\"p\";r=1;t=2, garbage\x01"),
            ("Beta-RateLimit", "(\"p\";r=1)"),
            ("Beta-RateLimit-Policy", "\"p\";q=1;;w"),
            ("X-RateLimit-Remaining", "-1"),
            ("X-RateLimit-Remaining", "+5"),
            ("X-RateLimit-Remaining", "18446744073709551616"),
            ("X-RateLimit-Limit", "9007199254740992"),
            ("X-RateLimit-Reset", "2026-13-01T00:00Z"),
            ("X-RateLimit-Reset", "99999-01-01T00:00Z"),
            ("X-Beta-RateLimit-Reset", "2026-03-26T16:00+01:00"),
            ("Retry-After", "18446744073709551615"),
            ("X-RateLimit-NearLimit", "yes"),
            ("RateLimit-Reason", &long),
            ("RateLimit-Reason", "quota based"),
            ("RateLimit-Reason", "jira-quota\u{202e}"),
        ];
        for (name, value) in cases {
            let q = quota_of(&resp(200, &[(name, value)]), NOW);
            assert!(
                q.as_ref().is_none_or(|q| q.is_empty()),
                "{name}: {value:?} → {q:?}"
            );
        }
        // A header past MAX_HEADER_LEN is not parsed, however valid it starts.
        let padded = format!("\"p\";r=5{}", ", \"x\"".repeat(MAX_HEADER_LEN));
        assert_eq!(
            quota_of(&resp(200, &[("Beta-RateLimit", &padded)]), NOW),
            None
        );
        // u64::MAX as now: saturates, then is dropped as no exact JS number.
        let q = quota_of(
            &resp(429, &[("Retry-After", "5"), ("X-RateLimit-Remaining", "0")]),
            u64::MAX,
        )
        .unwrap();
        assert_eq!((q.resets_at, q.remaining), (None, Some(0)));
    }

    #[test]
    fn several_policies_the_most_constraining_one_counts() {
        let q = quota_of(
            &resp(
                200,
                &[
                    (
                        "Beta-RateLimit-Policy",
                        "\"burst\";q=100;w=1, \"hourly\";q=5000;w=3600",
                    ),
                    (
                        "Beta-RateLimit",
                        "\"burst\";r=90;t=1, \"hourly\";r=12;t=600",
                    ),
                ],
            ),
            NOW,
        )
        .unwrap();
        assert_eq!(
            (q.remaining, q.limit, q.resets_at),
            (Some(12), Some(5000), Some(NOW + 600_000))
        );
        assert_eq!(q.near_limit, Some(true));
        // A token name, a duplicate parameter (the last wins), unknown parameters ignored.
        let q = quota_of(
            &resp(
                200,
                &[
                    ("Beta-RateLimit", "quota;r=1;r=3;x=\"y\";t=10"),
                    ("Beta-RateLimit-Policy", "quota;q=10"),
                ],
            ),
            NOW,
        )
        .unwrap();
        assert_eq!(
            (q.remaining, q.limit, q.resets_at),
            (Some(3), Some(10), Some(NOW + 10_000))
        );
        // The beta headers win over the older ones, which fill what they leave out.
        let q = quota_of(
            &resp(
                200,
                &[
                    ("Beta-RateLimit", "\"p\";r=7"),
                    ("X-RateLimit-Remaining", "300"),
                    ("X-RateLimit-Limit", "350"),
                    ("X-RateLimit-Reset", "2026-03-26T15:30:15.5Z"),
                ],
            ),
            NOW,
        )
        .unwrap();
        assert_eq!((q.remaining, q.limit), (Some(7), Some(350)));
        assert_eq!(q.resets_at, Some(NOW + 30 * 60_000 + 15_500));
    }

    #[test]
    fn a_dropped_policy_keeps_the_limit_of_the_same_window() {
        let before = quota_of(
            &resp(
                200,
                &[
                    ("Beta-RateLimit-Policy", "\"p\";q=100;w=3600"),
                    ("Beta-RateLimit", "\"p\";r=1;t=60"),
                ],
            ),
            NOW,
        )
        .unwrap();
        let exhausted = quota_of(
            &resp(429, &[("Beta-RateLimit", "\"p\";r=0;t=59")]),
            NOW + 1000,
        )
        .unwrap();
        assert_eq!(exhausted.limit, None);
        let merged = exhausted.clone().or_from(&before);
        assert_eq!((merged.limit, merged.near_limit), (Some(100), Some(true)));
        // After the window reset: not carried over.
        let later = Quota {
            observed_at: NOW + 61_000,
            ..exhausted
        };
        assert_eq!(later.or_from(&before).limit, None);
    }

    #[test]
    fn structured_field_lists() {
        let e = |v: &str| entries(v, ["r", "t"]);
        let one = |name: &str, r, t| Entry {
            name: name.into(),
            values: [r, t],
        };
        assert_eq!(e(""), Some(vec![]));
        assert_eq!(
            e("  \"a\";r=1;t=2 "),
            Some(vec![one("a", Some(1), Some(2))])
        );
        assert_eq!(
            e("(\"x\";r=9 y);r=8, tok/en:x;t=3;r, 1.5;r=-1, ?1;t=2.5"),
            Some(vec![
                one("tok/en:x", None, Some(3)),
                one("", None, None),
                one("", None, None)
            ]),
            "inner lists skipped; a bare key, a negative or decimal value is no number"
        );
        assert_eq!(
            e(":YWJj:;r=1, %\"%c3%a9\";r=2, @1700000000;r=3").map(|v| v.len()),
            Some(3)
        );
        for bad in [
            "a,",
            ",a",
            "a,,b",
            "a;R=1",
            "a;r=1.",
            "a;r=1.2345",
            "a;r=1234567890123456",
            "\"unterminated",
            "\"bad\\escape\"",
            "(a b",
            "(a;r=1,b)",
            ":YQ:x",
            ":Y:",
            "%\"%C3\"",
            "%\"%c3\"",
            "?2",
            "@1.5",
            "a b",
            "é",
            "a;r=\"x\u{7f}\"",
        ] {
            assert_eq!(e(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn iso_times() {
        assert_eq!(parse_iso_utc("2026-03-26T16:00Z"), Some(NOW + 3_600_000));
        assert_eq!(
            parse_iso_utc("2026-03-26T16:00:00+00:00"),
            Some(NOW + 3_600_000)
        );
        assert_eq!(parse_iso_utc("1970-01-01T00:00:00.123Z"), Some(123));
        assert_eq!(parse_iso_utc("1970-01-01T00:00:00.1Z"), Some(100));
        for bad in [
            "",
            "Z",
            "2026-03-26",
            "2026-03-26T16Z",
            "2026-3-26T16:00Z",
            "2026-03-26T16:00",
            "2026-03-26T24:00Z",
            "1969-12-31T23:59Z",
            "2026-03-26T16:00:00.Z",
            "2026-03-26T16:00:00.1x2Z",
            "2026-03-26T16:00:00:00Z",
            "+2026-03-26T16:00Z",
            "2026-03-26T16:00:00.1234567890Z",
        ] {
            assert_eq!(parse_iso_utc(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn publishing_on_what_matters_or_every_interval() {
        let q = |remaining: u64, near: bool, at: u64| Quota {
            remaining: Some(remaining),
            limit: Some(100),
            resets_at: Some(NOW + 3_600_000),
            near_limit: Some(near),
            reason: None,
            observed_at: at,
        };
        let last = q(50, false, NOW);
        assert!(worth_publishing(None, &last));
        assert!(
            !worth_publishing(Some(&last), &q(49, false, NOW + 1)),
            "one call later: nothing to tell"
        );
        assert!(!worth_publishing(
            Some(&last),
            &q(30, false, NOW + PUBLISH_INTERVAL_MS - 1)
        ));
        assert!(worth_publishing(
            Some(&last),
            &q(30, false, NOW + PUBLISH_INTERVAL_MS)
        ));
        assert!(
            worth_publishing(Some(&last), &q(19, true, NOW + 1)),
            "near the limit now"
        );
        assert!(
            worth_publishing(Some(&q(1, true, NOW)), &q(0, true, NOW + 1)),
            "exhausted now"
        );
        let reason = Quota {
            reason: Some("jira-burst-based".into()),
            ..q(49, false, NOW + 1)
        };
        assert!(worth_publishing(Some(&last), &reason));
        let new_window = q(99, false, NOW + 3_600_000);
        assert!(worth_publishing(
            Some(&q(98, false, NOW + 3_599_999)),
            &new_window
        ));
        assert!(
            worth_publishing(Some(&last), &q(50, false, NOW - 1)),
            "a clock that went back"
        );
    }
}
