//! The fuzz targets: every parser of jira-3lo (the module and its broker) that reads outside
//! input, as `fn(&[u8])`.
//!
//! A target panics only on a bug: a panic (an overflow included: the fuzz builds keep overflow
//! checks) or a broken invariant, asserted here, on any input. The same functions run under
//! libFuzzer (`fuzz_targets/`, `cargo xtask fuzz`) and in the plain smoke test
//! (`tests/smoke.rs`, `cargo xtask test`), which feeds them their seed corpus
//! (`corpus/<name>/`) and deterministic mutations of it ([`mutate`]).
//!
//! Adding a target: a function here, a line in [`TARGETS`], a three-line
//! `fuzz_targets/<name>.rs` with its `[[bin]]` in Cargo.toml, and seeds in `corpus/<name>/`.

use jira_3lo::core::authorize::{authorize_answer, PendingSignIn};
use jira_3lo::core::callback::validate_callback;
use jira_3lo::core::gateway::{
    classify_api_response, parse_http_date, parse_retry_after, ApiOutcome, MIN_RETRY_WAIT_MS,
};
use jira_3lo::core::io::HttpResponse;
use jira_3lo::core::json::{decode, MAX_SAFE_INTEGER};
use jira_3lo::core::rate_limit::{
    entries, parse_iso_utc, quota_of, worth_publishing, Entry, Quota, MAX_REASON_LEN,
};
use jira_3lo::core::records::{
    self, AccessRecord, Decoded, PendingRecord, QuotaRecord, Record, RefreshRecord, SiteRecord,
};
use jira_3lo::core::secrets::State;
use jira_3lo::core::sites::{jira_sites, merge, parse_accessible_resources, select, Selection};
use jira_3lo::core::token_response::{classify_token_response, oauth_error};
use jira_3lo::core::tokens::TokenSet;
use jira_3lo::core::urls::{encode, query_pairs, WebUrl};
use jira_3lo::error::ProviderText;
use jira_3lo::jira;
use jira_3lo::Error;
use sfv::visitor::{
    EntryVisitor, Ignored, InnerListVisitor, ItemVisitor, ListVisitor, ParameterVisitor,
};
use sfv::{BareItemFromInput, KeyRef};

/// A target: its name (the binary and the corpus folder) and its function.
pub type Target = (&'static str, fn(&[u8]));

/// Every target: the module's parsers, then the broker's (`jira_3lo_broker::fuzz`).
pub const TARGETS: &[Target] = &[
    ("callback", callback),
    ("query", query),
    ("token_response", token_response),
    ("accessible_resources", accessible_resources),
    ("gateway", gateway),
    ("retry_after", retry_after),
    ("rate_limit", rate_limit),
    ("records", records),
    ("jira_response", jira_response),
    ("adf", adf),
    ("grant_body", grant_body),
    ("dpop_proof", dpop_proof),
    ("open_sealed", open_sealed),
];

/// The "now"s every time-dependent parser is asked at: the epoch, a real date, the far end.
const NOWS: [u64; 3] = [0, 1_700_000_000_000, u64::MAX];

fn text(data: &[u8]) -> std::borrow::Cow<'_, str> {
    // Outside input reaches the parsers as text (fetch's `text()`, storage strings); lossy
    // decoding keeps every fuzzer input useful instead of discarding the non-UTF-8 ones.
    String::from_utf8_lossy(data)
}

/// An HTTP response from `STATUS\nname: value\n...\n\nbody` (no blank line: all body, status
/// 200). A status line that is no number picks from the statuses the classifiers tell apart.
fn response(data: &[u8]) -> HttpResponse {
    const STATUSES: [u16; 16] = [
        200, 201, 204, 302, 400, 401, 403, 404, 409, 413, 429, 500, 502, 503, 504, 0,
    ];
    let input = text(data);
    let (head, body) = match input.split_once("\n\n") {
        Some((head, body)) => (head, body),
        None => ("200", input.as_ref()),
    };
    let mut lines = head.split('\n');
    let status_line = lines.next().unwrap_or_default();
    let status = status_line.trim().parse::<u16>().unwrap_or_else(|_| {
        STATUSES[status_line.bytes().map(usize::from).sum::<usize>() % STATUSES.len()]
    });
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    HttpResponse {
        status,
        headers,
        body: body.to_string(),
    }
}

/// What may be kept from a remote party's text: one short line, no markup brackets.
fn check_provider_text(t: &ProviderText) {
    let s = t.as_str();
    assert!(!s.is_empty());
    assert!(s.chars().count() <= ProviderText::MAX_CHARS, "{s:?}");
    assert!(
        !s.chars()
            .any(|c| c.is_control() || matches!(c, '<' | '>') || (c.is_whitespace() && c != ' ')),
        "{s:?}"
    );
    // (The cut may leave one trailing space: harmless, not asserted.)
    assert!(!s.starts_with(' ') && !s.contains("  "), "{s:?}");
}

/// An OAuth error code as it may appear in a message.
fn check_error_code(code: &str) {
    assert!(
        code == "invalid_error_code"
            || (!code.is_empty()
                && code.len() <= 64
                && code
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))),
        "{code:?}"
    );
}

/// Everything an error offers its caller, computed (its message, code and hints), and the
/// remote text it carries checked.
fn exercise_error(e: &Error) {
    let _ = (
        e.to_string(),
        e.code().as_str(),
        e.needs_reconnect(),
        e.is_transient(),
    );
    let _ = e.retry_after_ms();
    match e {
        Error::AccessDenied { description } => description.iter().for_each(check_provider_text),
        Error::ProviderError { error, description }
        | Error::Broker {
            error, description, ..
        } => {
            check_error_code(error);
            description.iter().for_each(check_provider_text);
        }
        _ => {}
    }
}

/// `core::callback::validate_callback`: the redirect back from the broker's hosted callback
/// (`{redirect}#ticket=…&state=…` or `#error=…&state=…`), for a pending attempt
/// (web-extension and loopback redirect URIs), one without a state, and none.
pub fn callback(data: &[u8]) {
    let url = text(data);
    let fragment = WebUrl::parse(&url).ok().map(|parsed| {
        let _ = parsed.query_pairs();
        parsed.fragment_pairs()
    });
    let pending = |redirect_uri: &str, state: Option<&str>| PendingSignIn {
        state: state.map(State::new),
        redirect_uri: redirect_uri.into(),
        created_at_ms: NOWS[1],
    };
    let attempts = [
        Some(pending(
            "https://abc.chromiumapp.org/cb",
            Some("good-state"),
        )),
        Some(pending(
            "http://127.0.0.1:8080/callback",
            Some("good-state"),
        )),
        Some(pending("https://abc.chromiumapp.org/cb", None)),
        None,
    ];
    for attempt in &attempts {
        for now in NOWS {
            let check = validate_callback(&url, attempt.as_ref(), now);
            if let Ok(ticket) = &check.outcome {
                assert!(check.ends_attempt, "a ticket that does not end the attempt");
                // A ticket comes only from the fragment, next to the attempt's own state.
                let pairs = fragment.as_deref().unwrap_or_default();
                assert!(!ticket.secret().is_empty());
                assert!(pairs
                    .iter()
                    .any(|(k, v)| k == "ticket" && v == ticket.secret()));
                assert!(pairs.iter().any(|(k, v)| k == "state" && v == "good-state"));
            }
            if attempt.as_ref().is_none_or(|a| a.state.is_none()) {
                assert!(!check.ends_attempt && check.outcome.is_err());
            }
            if let Err(e) = &check.outcome {
                exercise_error(e);
            }
        }
    }
}

/// `core::urls::query_pairs` (the callback's query) and its inverse, `encode`: every decoded
/// pair, encoded and decoded again, comes back unchanged.
pub fn query(data: &[u8]) {
    let input = text(data);
    for (k, v) in query_pairs(&input) {
        let again = format!("{}={}", encode(&k), encode(&v));
        assert_eq!(query_pairs(&again), vec![(k, v)], "{again:?}");
    }
}

/// `core::token_response`: the broker's `/oauth/token` answer (`classify_token_response`,
/// `oauth_error`), and its `/v1/authorize` answer (`core::authorize::authorize_answer`).
pub fn token_response(data: &[u8]) {
    let resp = response(data);
    for now in NOWS {
        match classify_token_response(&resp, now) {
            jira_3lo::core::token_response::TokenOutcome::Issued(t) => {
                let set = TokenSet::from_response(t, now, None, &[]);
                assert!(set.expires_at_ms <= MAX_SAFE_INTEGER.max(now));
            }
            jira_3lo::core::token_response::TokenOutcome::Refused {
                error, description, ..
            } => {
                check_error_code(&error);
                description.iter().for_each(check_provider_text);
            }
            jira_3lo::core::token_response::TokenOutcome::Failed(e) => exercise_error(&e),
        }
    }
    if let Some((code, description)) = oauth_error(&resp.body) {
        check_error_code(&code);
        description.iter().for_each(check_provider_text);
    }
    for now in NOWS {
        match authorize_answer(&resp, now) {
            Ok(urls) => {
                // Schemes are case-insensitive (`Https:` is https): the parsed one is checked,
                // for the authorize URL and the broker's start URL alike.
                for url in std::iter::once(&urls.authorize).chain(urls.start.as_ref()) {
                    let scheme = WebUrl::parse(url).map(|u| u.scheme);
                    assert!(matches!(scheme.as_deref(), Ok("http" | "https")), "{url:?}");
                }
            }
            Err(e) => exercise_error(&e),
        }
    }
}

/// `core::sites`: `accessible-resources` parsed, merged by cloud id, Jira sites selected.
pub fn accessible_resources(data: &[u8]) {
    let resp = response(data);
    let Ok(resources) = parse_accessible_resources(&resp) else {
        return;
    };
    let count = resources.len();
    let sites = merge(resources);
    assert!(sites.len() <= count);
    for (i, s) in sites.iter().enumerate() {
        assert!(
            sites[..i].iter().all(|o| o.choice.id != s.choice.id),
            "duplicate id"
        );
    }
    let jira = jira_sites(&sites);
    match select(&jira) {
        Selection::None => assert!(jira.is_empty()),
        Selection::One(one) => assert_eq!(jira, vec![one]),
        Selection::Several(all) => assert!(all.len() > 1 && all == jira),
    }
}

/// `core::gateway::classify_api_response`: api.atlassian.com and Jira answers (gateway error
/// bodies, Jira `ErrorCollection`s, HTML, `Retry-After`).
pub fn gateway(data: &[u8]) {
    let resp = response(data);
    for now in NOWS {
        match classify_api_response(&resp, now) {
            ApiOutcome::RetryAfter { retry_after_ms, .. } => {
                assert!(retry_after_ms >= MIN_RETRY_WAIT_MS)
            }
            ApiOutcome::Failed(e) => exercise_error(&e),
            _ => {}
        }
    }
}

/// `core::gateway::parse_retry_after` and `parse_http_date`: the `Retry-After` header.
pub fn retry_after(data: &[u8]) {
    let value = text(data);
    for now in NOWS {
        let wait = parse_retry_after(&value, now);
        if let Ok(secs) = value.trim().parse::<u64>() {
            assert_eq!(wait, Some(secs.saturating_mul(1000)));
        }
    }
    if let Some(at) = parse_http_date(&value) {
        if value.trim() == value {
            assert_eq!(parse_retry_after(&value, 0), Some(at), "{value:?}");
        }
    }
}

/// `core::rate_limit::quota_of`: a response's rate-limit headers (`STATUS\nname: value\n…`,
/// see [`response`]) at 3 clocks, never failing; every number one JavaScript holds exactly,
/// the reason a bounded token; merging with and publishing after the quota of another clock;
/// `parse_iso_utc` of each header value.
pub fn rate_limit(data: &[u8]) {
    let resp = response(data);
    let mut seen: Vec<Quota> = Vec::new();
    for now in NOWS {
        let Some(q) = quota_of(&resp, now) else {
            continue;
        };
        assert_eq!(q.observed_at, now);
        for n in [q.remaining, q.limit, q.resets_at].into_iter().flatten() {
            assert!(n <= MAX_SAFE_INTEGER, "{q:?}");
        }
        if let Some(reason) = &q.reason {
            assert!(
                !reason.is_empty() && reason.len() <= MAX_REASON_LEN,
                "{reason:?}"
            );
            assert!(
                reason
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.')),
                "{reason:?}"
            );
        }
        // The quota round-trips through its storage record.
        let record = QuotaRecord {
            v: 1,
            site_id: "site".into(),
            quota: q.clone(),
        };
        assert_eq!(
            records::decode::<QuotaRecord>(Some(&records::encode(&record))),
            Decoded::Ok(record)
        );
        for older in &seen {
            let _ = worth_publishing(Some(older), &q);
            let merged = q.clone().or_from(older);
            assert_eq!(merged.remaining, q.remaining);
            assert!(q.limit.is_none() || merged.limit == q.limit);
        }
        assert!(worth_publishing(None, &q));
        seen.push(q);
    }
    for (_, value) in &resp.headers {
        if let Some(ms) = parse_iso_utc(value) {
            assert!(ms < 253_402_300_800_000, "past 9999: {value:?}");
        }
    }
    // The module's Structured Field list parser agrees with sfv: the same members, the same
    // parameters, the same refusals (of the whole input as one field value, and of each header).
    let whole = text(data);
    for value in std::iter::once(whole.as_ref()).chain(resp.headers.iter().map(|(_, v)| v.as_str()))
    {
        for keys in [["r", "t"], ["q", "w"]] {
            assert_eq!(entries(value, keys), sfv_entries(value, keys), "{value:?}");
        }
    }
}

/// What sfv makes of a list field: each member's name and the integer values of `keys`
/// (the semantics of `core::rate_limit::entries`), or `None` when sfv refuses it.
fn sfv_entries(value: &str, keys: [&'static str; 2]) -> Option<Vec<Entry>> {
    sfv::Parser::new(value)
        .parse_list_with_visitor(Entries {
            keys,
            out: Vec::new(),
        })
        .ok()
}

struct Entries {
    keys: [&'static str; 2],
    out: Vec<Entry>,
}

impl<'de> ListVisitor<'de> for Entries {
    type Out = Vec<Entry>;
    type Error = std::convert::Infallible;

    fn entry(&mut self) -> Result<impl EntryVisitor<'de>, Self::Error> {
        Ok(Member {
            keys: self.keys,
            out: &mut self.out,
        })
    }

    fn finish(self) -> Result<Self::Out, Self::Error> {
        Ok(self.out)
    }
}

struct Member<'a> {
    keys: [&'static str; 2],
    out: &'a mut Vec<Entry>,
}

impl<'de> EntryVisitor<'de> for Member<'_> {
    type Error = std::convert::Infallible;

    fn item(self) -> Result<impl ItemVisitor<'de>, Self::Error> {
        Ok(self)
    }

    /// An inner list is no policy.
    fn inner_list(self) -> Result<impl InnerListVisitor<'de>, Self::Error> {
        Ok(Ignored)
    }
}

impl<'de, 'a> ItemVisitor<'de> for Member<'a> {
    type Out = ();
    type Error = std::convert::Infallible;

    fn bare_item(
        self,
        item: BareItemFromInput<'de>,
    ) -> Result<impl ParameterVisitor<'de, Out = Self::Out>, Self::Error> {
        let name = match &item {
            BareItemFromInput::String(s) => s.as_str().to_string(),
            BareItemFromInput::Token(t) => t.as_str().to_string(),
            _ => String::new(),
        };
        let out = self.out;
        out.push(Entry {
            name,
            values: [None, None],
        });
        Ok(Params {
            keys: self.keys,
            entry: out.last_mut(),
        })
    }
}

struct Params<'a> {
    keys: [&'static str; 2],
    entry: Option<&'a mut Entry>,
}

impl<'de> ParameterVisitor<'de> for Params<'_> {
    type Out = ();
    type Error = std::convert::Infallible;

    fn parameter(
        &mut self,
        key: &'de KeyRef,
        value: BareItemFromInput<'de>,
    ) -> Result<(), Self::Error> {
        let Some(entry) = self.entry.as_deref_mut() else {
            return Ok(());
        };
        if let Some(i) = self.keys.iter().position(|k| *k == key.as_str()) {
            // A later duplicate wins (RFC 9651); a negative or non-integer value is unknown.
            entry.values[i] = match value {
                BareItemFromInput::Integer(n) => u64::try_from(i64::from(n)).ok(),
                _ => None,
            };
        }
        Ok(())
    }

    fn finish(self) -> Result<(), Self::Error> {
        Ok(())
    }
}

fn record<T: Record + PartialEq + std::fmt::Debug>(raw: &str) {
    match records::decode::<T>(Some(raw)) {
        Decoded::Ok(r) => {
            // What was read is written back as a record that reads the same.
            assert_eq!(
                records::decode::<T>(Some(&records::encode(&r))),
                Decoded::Ok(r)
            );
        }
        Decoded::Unreadable { reason } => {
            // The reason never quotes the stored value (it may hold a token).
            let known = [
                "not JSON (",
                "fields do not match the schema (",
                "no schema version",
            ];
            let version = reason
                .strip_prefix("unsupported schema version ")
                .is_some_and(|v| v.bytes().all(|b| b.is_ascii_digit()));
            assert!(
                version || known.iter().any(|k| reason.starts_with(k)),
                "{reason}"
            );
        }
        Decoded::Missing => panic!("a present value read as missing"),
    }
}

/// `core::records::decode`: a stored value read as each of the four records.
pub fn records(data: &[u8]) {
    let raw = text(data);
    record::<AccessRecord>(&raw);
    record::<RefreshRecord>(&raw);
    record::<PendingRecord>(&raw);
    record::<SiteRecord>(&raw);
    if let Decoded::Ok(s) = records::decode::<SiteRecord>(Some(&raw)) {
        let _ = s.chosen_site();
    }
}

/// Jira's 2xx bodies read into the models (`jira::calls::parse` is `decode` of the trimmed
/// body), with the issues' descriptions rendered.
pub fn jira_response(data: &[u8]) {
    let raw = text(data);
    let body = raw.trim();
    if let Ok(page) = decode::<jira::SearchPage>(body) {
        for issue in &page.issues {
            let _ = issue.description_text();
        }
    }
    if let Ok(issue) = decode::<jira::Issue>(body) {
        let _ = issue.description_text();
    }
    let _ = decode::<jira::CommentPage>(body).map(|p| {
        for c in &p.comments {
            let _ = c.body_text();
        }
    });
    let _ = decode::<jira::ProjectSearch>(body);
    let _ = decode::<jira::User>(body);
    let _ = decode::<jira::CreatedIssue>(body);
    let _ = decode::<jira::IssueTypeMetaPage>(body);
    let _ = decode::<jira::ApproximateCount>(body);
}

/// `jira::adf::to_plain_text`: an Atlassian Document Format tree from Jira rendered as text.
pub fn adf(data: &[u8]) {
    if let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) {
        let _ = jira::adf::to_plain_text(&value);
    }
}

/// `jira_3lo_broker::fuzz::grant_body`: the body of `POST /oauth/token`. The first line is the
/// `Content-Type` (empty: none), the rest the body.
pub fn grant_body(data: &[u8]) {
    let (content_type, body) = match data.iter().position(|&b| b == b'\n') {
        Some(at) => (&data[..at], &data[at + 1..]),
        None => (data, &b""[..]),
    };
    let content_type = text(content_type);
    let content_type = Some(content_type.as_ref()).filter(|c| !c.is_empty());
    let accepted = jira_3lo_broker::fuzz::grant_body(content_type, body);
    // Only the two media types are read, whatever their case and parameters.
    if let Some(ct) = content_type {
        let essence = ct
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        if accepted {
            assert!(
                essence == "application/json" || essence == "application/x-www-form-urlencoded",
                "{ct:?}"
            );
        }
        assert_eq!(
            jira_3lo_broker::fuzz::grant_body(Some(&ct.to_ascii_uppercase()), body),
            accepted,
            "{ct:?}"
        );
    }
    assert!(!jira_3lo_broker::fuzz::grant_body(None, body));
}

/// `jira_3lo_broker::fuzz::dpop_proof`: one `DPoP` header value, verified against
/// `POST http://127.0.0.1:8787/oauth/token` at a fixed time.
pub fn dpop_proof(data: &[u8]) {
    if jira_3lo_broker::fuzz::dpop_proof(data) {
        // A compact JWS of three base64url parts, a few hundred bytes.
        assert!(data.len() <= 4096);
        assert_eq!(data.iter().filter(|&&b| b == b'.').count(), 2);
        assert!(data
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.')));
    }
}

/// `jira_3lo_broker::fuzz::open_sealed`: a sealed string (`<kid>.<base64url>`: a broker
/// state, a ticket, a refresh blob) opened as each kind under the fuzz key (kid `fuzz`).
pub fn open_sealed(data: &[u8]) {
    if jira_3lo_broker::fuzz::open_sealed(data) {
        // Only the fuzz key opens, and only the broker's URL-safe shape.
        let text = std::str::from_utf8(data).expect("opened non-UTF-8");
        let body = text
            .strip_prefix("fuzz.")
            .expect("opened under another kid");
        assert!(body
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_')));
    }
}

/// A deterministic mutator for the smoke test (splitmix64-seeded xorshift): libFuzzer's kinds
/// of edits — bit flips, interesting bytes, inserted and erased runs, repeated chunks, tokens
/// from a small dictionary, splices with another seed.
pub struct Mutator(u64);

const TOKENS: &[&[u8]] = &[
    b"{",
    b"}",
    b"[",
    b"]",
    b"\"",
    b":",
    b",",
    b"null",
    b"true",
    b"-1",
    b"1e999",
    b"18446744073709551615",
    b"9007199254740993",
    b"\\u0000",
    b"\\ud800",
    b"%",
    b"%ff",
    b"%2",
    b"&",
    b"=",
    b"?",
    b"#",
    b"GMT",
    b", ",
    b"\n\n",
    b"\n",
    b"<html>",
    b"\"v\":1",
    b"\"content\":[",
    b"\"type\":\"",
    b"\"attrs\":{\"order\":",
    b"orderedList",
    b"\xff",
    b"\xe2\x80\xae",
];

impl Mutator {
    pub fn new(seed: u64) -> Self {
        Mutator(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    /// One to four edits of `input` (`other` is a second seed to splice from).
    pub fn mutate(&mut self, input: &[u8], other: &[u8]) -> Vec<u8> {
        let mut out = input.to_vec();
        for _ in 0..1 + self.below(4) {
            let at = self.below(out.len() + 1);
            match self.below(8) {
                0 if !out.is_empty() => {
                    let i = self.below(out.len());
                    out[i] ^= 1 << self.below(8);
                }
                1 if !out.is_empty() => {
                    let i = self.below(out.len());
                    out[i] = [0, 0x7f, 0x80, 0xff, b'0', b'9', b' ', b'\t'][self.below(8)];
                }
                2 => {
                    let token = TOKENS[self.below(TOKENS.len())];
                    out.splice(at..at, token.iter().copied());
                }
                3 if at < out.len() => {
                    let end = (at + 1 + self.below(16)).min(out.len());
                    out.drain(at..end);
                }
                4 if at < out.len() => {
                    let end = (at + 1 + self.below(32)).min(out.len());
                    let chunk = out[at..end].to_vec();
                    for _ in 0..1 + self.below(64) {
                        out.splice(at..at, chunk.iter().copied());
                    }
                }
                5 if !other.is_empty() => {
                    let from = self.below(other.len());
                    let end = (from + 1 + self.below(64)).min(other.len());
                    out.splice(at..at, other[from..end].iter().copied());
                }
                6 => {
                    let digits = self.next().to_string();
                    out.splice(at..at, digits.bytes());
                }
                _ => out.truncate(at),
            }
        }
        out
    }
}
