//! The wasm build parses URLs with the browser's own `URL` (src/core/urls.rs) instead of the
//! `url` crate that the native build uses: both implement the WHATWG URL Standard, and this
//! test holds them to the same answers in real Chromium, part by part.
#![cfg(target_arch = "wasm32")]

use jira_3lo::core::urls::WebUrl;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

/// Inputs the core meets (callbacks, redirect URIs, base URLs) and the awkward ones.
const CORPUS: &[&str] = &[
    "https://abc.chromiumapp.org/",
    "https://abc.chromiumapp.org/cb?code=x&state=good-state",
    "https://abc.chromiumapp.org/cb?error=access_denied&error_description=User%20did%20not%20authorize+it",
    "HTTPS://Abc.Chromiumapp.ORG:443/cb/?x=1#frag",
    "http://127.0.0.1:8080/__test/callback?code=a%2Fb&state=s",
    "http://127.0.0.1:80/cb",
    "http://localhost:18787",
    "http://[::1]:3000/x?y",
    "http://[0:0:0:0:0:0:0:1]/",
    "http://0x7f.1/",
    "http://2130706433/",
    "https://api.atlassian.com/ex/jira/c1/rest/api/3/myself",
    "https://auth.atlassian.com/authorize?audience=api.atlassian.com",
    "http://x/a/../b/./c",
    "http://x/%2e%2E/y",
    "http:\\\\x\\y\\z",
    "http:x/y",
    "  http://x/ \n",
    "http://x/pa\tth",
    "http://user:pass@x.example:81/p",
    "http://x/a b?c d#e f",
    "http://x/?",
    "http://x/#",
    "https://x.example?q",
    "http://x.example:/p",
    "javascript:alert(1)",
    "chrome-extension://daihmnbiobgmhoadolemidnffnpannag/www/popup.html",
    "mailto:a@b.example",
    "file:///tmp/x",
    "not a url",
    "/relative",
    "http://",
    "http://x:99999/",
    "http://x:12a/",
    "http://[::1/",
    "http://a b/",
    "http://exa%mple/",
    "http://a<b/",
    "http://a^b/",
    "http://a|b/",
    "http://a{b/",
    "http://a\"b/",
    "http://a`b/",
    "http://a_b~c/",
    "http://a!b$c&d'e(f)g+h,i;j=k/",
    "http://xn--nxasmq6b.example/",
    "http://\u{e9}t\u{e9}.example/",
    "http://1.2.3.256/",
    "http://1.2.3.4.5/",
    "http://0x100000000/",
    "http://x..y/",
    "http://.x/",
];

/// What one parser says about an input, part by part (or why it refused it).
fn ours(input: &str) -> Result<Vec<String>, String> {
    let u = WebUrl::parse(input)?;
    let pairs = u.query_pairs();
    Ok(vec![
        u.href,
        u.scheme,
        format!("{:?}", u.host),
        format!("{:?}", u.port),
        u.path,
        format!("{:?}", u.query),
        format!("{:?}", u.fragment),
        u.origin,
        format!("{pairs:?}"),
    ])
}

fn theirs(input: &str) -> Result<Vec<String>, String> {
    let u = url::Url::parse(input).map_err(|e| e.to_string())?;
    let pairs: Vec<(String, String)> = u.query_pairs().into_owned().collect();
    Ok(vec![
        u.as_str().to_string(),
        u.scheme().to_string(),
        format!("{:?}", u.host_str().filter(|h| !h.is_empty())),
        format!("{:?}", u.port_or_known_default()),
        u.path().to_string(),
        format!("{:?}", u.query()),
        format!("{:?}", u.fragment()),
        u.origin().ascii_serialization(),
        format!("{pairs:?}"),
    ])
}

/// Hosts the url crate takes but Chromium escapes (`*` → `%2A`): the wasm build refuses them
/// rather than answer with another host.
const REFUSED_IN_THE_BROWSER: &[&str] = &["http://a*b/"];

#[wasm_bindgen_test]
fn hosts_chromium_would_rewrite_are_refused() {
    for input in REFUSED_IN_THE_BROWSER {
        assert_eq!(
            WebUrl::parse(input).unwrap_err(),
            "invalid international domain name",
            "{input}"
        );
    }
}

/// Hosts the url crate takes but Firefox rewrites (`"` is escaped in the host): the wasm build
/// refuses them there, as Chromium's [`REFUSED_IN_THE_BROWSER`].
const REFUSED_IN_FIREFOX: &[&str] = &["http://a\"b/"];

fn in_firefox() -> bool {
    js_sys::Reflect::get(&js_sys::global(), &"navigator".into())
        .and_then(|n| js_sys::Reflect::get(&n, &"userAgent".into()))
        .ok()
        .and_then(|ua| ua.as_string())
        .is_some_and(|ua| ua.contains("Firefox/"))
}

#[wasm_bindgen_test]
fn hosts_firefox_would_rewrite_are_refused_there() {
    if !in_firefox() {
        return;
    }
    for input in REFUSED_IN_FIREFOX {
        assert_eq!(
            WebUrl::parse(input).unwrap_err(),
            "invalid international domain name",
            "{input}"
        );
    }
}

#[wasm_bindgen_test]
fn browser_url_parsing_matches_the_url_crate() {
    let firefox = in_firefox();
    let mismatches: Vec<String> = CORPUS
        .iter()
        .filter(|input| !(firefox && REFUSED_IN_FIREFOX.contains(input)))
        .filter_map(|input| {
            let (a, b) = (ours(input), theirs(input));
            (a != b).then(|| format!("{input:?}\n  browser:   {a:?}\n  url crate: {b:?}"))
        })
        .collect();
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}
