//! Substring search for the few fixed needles the engine looks for: a byte-window scan, where
//! `str::contains`/`split_once` with a `&str` pattern bring in the Two-Way searcher (kilobytes
//! of wasm for needles of a few bytes in short texts).

/// The byte offset of the first `needle` in `haystack` (`0` for an empty needle).
pub fn find(haystack: &str, needle: &str) -> Option<usize> {
    if needle.is_empty() {
        return Some(0);
    }
    haystack
        .as_bytes()
        .windows(needle.len())
        .position(|window| window == needle.as_bytes())
}

/// True when `needle` occurs in `haystack`.
pub fn contains(haystack: &str, needle: &str) -> bool {
    find(haystack, needle).is_some()
}

/// `s` split around its last `c` (an ASCII byte), as `str::rsplit_once` with that char does,
/// without the reverse char searcher.
pub fn rsplit_once_ascii(s: &str, c: u8) -> Option<(&str, &str)> {
    let at = s.bytes().rposition(|b| b == c)?;
    Some((s.get(..at)?, s.get(at + 1..)?))
}

/// `parts` with `sep` between them, as `[String]::join` does: std's join copies through a
/// routine specialised per separator length (a kilobyte of wasm).
pub fn join(parts: &[String], sep: &str) -> String {
    let mut out = String::new();
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            out.push_str(sep);
        }
        out.push_str(part);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agrees_with_str() {
        let texts = [
            "",
            "a",
            "xn--",
            "abxn--c",
            "Sun, 06 Nov",
            "ééxn--é",
            "scope does not match",
        ];
        let needles = ["", "a", "xn--", ", ", "é", "not match", "abxn--cd"];
        for t in texts {
            for n in needles {
                assert_eq!(find(t, n), t.find(n), "{t:?} {n:?}");
                assert_eq!(contains(t, n), t.contains(n), "{t:?} {n:?}");
            }
            for c in [b'a', b'-', b' ', b','] {
                assert_eq!(
                    rsplit_once_ascii(t, c),
                    t.rsplit_once(c as char),
                    "{t:?} {c}"
                );
            }
        }
    }

    #[test]
    fn join_agrees_with_std() {
        let cases: [&[&str]; 4] = [&[], &[""], &["a"], &["a", "", "bc"]];
        for parts in cases {
            let parts: Vec<String> = parts.iter().map(|s| s.to_string()).collect();
            for sep in ["", ",", "\n\n", " | "] {
                assert_eq!(join(&parts, sep), parts.join(sep), "{parts:?} {sep:?}");
            }
        }
    }
}
