//! Atlassian Document Format (ADF): Jira v3 carries descriptions and comment bodies as a JSON
//! tree, not text. We keep that tree as structured JSON (so nothing is lost on a round trip)
//! and offer the two conversions a popup needs: plain text → ADF for what the user typed, and
//! ADF → plain text for display.
//!
//! Reference: <https://developer.atlassian.com/cloud/jira/platform/apis/document/structure/>.

use serde_json::Value;

use crate::core::json::JsonValue;

/// An ADF document (`{"type":"doc","version":1,"content":[...]}`), kept as JSON.
///
/// Transparent on the wire: it (de)serializes exactly as the JSON tree Jira sends.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct AdfDocument(pub Value);

impl AdfDocument {
    /// A document made of the paragraphs of `text` (see [`from_plain_text`]).
    pub fn from_plain_text(text: &str) -> Self {
        AdfDocument(from_plain_text(text))
    }

    /// The readable text of the document (see [`to_plain_text`]).
    pub fn to_plain_text(&self) -> String {
        to_plain_text(&self.0)
    }

    /// The JSON tree.
    pub fn as_value(&self) -> &Value {
        &self.0
    }
}

impl From<Value> for AdfDocument {
    fn from(value: Value) -> Self {
        AdfDocument(value)
    }
}

/// Builds an ADF document from plain text.
///
/// Blank lines separate paragraphs; a single line break inside a paragraph becomes a
/// `hardBreak`, so what the user typed is shown with the same line structure in Jira.
/// Runs of blank lines count as one; leading/trailing blank lines are dropped (ADF has no
/// empty text nodes). `\r\n` and `\r` are treated as `\n`.
pub fn from_plain_text(text: &str) -> JsonValue {
    // `\r\n` → `\n`, then a lone `\r` → `\n` (char by char: no substring searcher in the wasm).
    let mut normalized = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\r' if chars.peek() == Some(&'\n') => {}
            '\r' => normalized.push('\n'),
            c => normalized.push(c),
        }
    }
    let mut paragraphs = Vec::new();
    let mut lines: Vec<&str> = Vec::new();
    for line in normalized.split('\n') {
        if line.trim().is_empty() {
            if !lines.is_empty() {
                paragraphs.push(paragraph(&lines));
                lines.clear();
            }
        } else {
            lines.push(line);
        }
    }
    if !lines.is_empty() {
        paragraphs.push(paragraph(&lines));
    }
    node(&[
        ("type", "doc".into()),
        ("version", 1.into()),
        ("content", paragraphs.into()),
    ])
}

fn paragraph(lines: &[&str]) -> JsonValue {
    let mut content = Vec::with_capacity(lines.len() * 2);
    for (i, line) in lines.iter().enumerate() {
        if i > 0 {
            content.push(node(&[("type", "hardBreak".into())]));
        }
        content.push(node(&[("type", "text".into()), ("text", (*line).into())]));
    }
    node(&[("type", "paragraph".into()), ("content", content.into())])
}

/// An ADF node from its members (`json!` would bring `to_value` and its panic path).
fn node(members: &[(&str, JsonValue)]) -> JsonValue {
    let mut map = serde_json::Map::new();
    for (key, value) in members {
        map.insert(key.to_string(), value.clone());
    }
    JsonValue::Object(map)
}

/// Renders an ADF tree as plain text for display.
///
/// Block nodes (paragraphs, headings, lists, quotes, code, tables, panels ...) are separated
/// by a blank line, `hardBreak` is a line break, list items get `- ` / `1. ` markers (nested
/// lists are indented), quotes get `> `, table cells are joined by ` | `, mentions, emoji,
/// statuses, dates and inline cards are rendered by their visible text. Media is skipped.
/// Unknown nodes are rendered through their children, so new node types degrade gracefully.
/// A JSON string (a v2-style plain body) is returned as is; `null` gives "".
pub fn to_plain_text(adf: &Value) -> String {
    match adf {
        Value::String(s) => s.clone(),
        Value::Object(_) if node_type(adf) == "doc" => blocks(children(adf)).join("\n\n"),
        Value::Object(_) if is_inline(node_type(adf)) => inline(adf),
        Value::Object(_) => block(adf),
        Value::Array(items) => blocks(items).join("\n\n"),
        _ => String::new(),
    }
}

fn node_type(node: &Value) -> &str {
    string(node, "type").unwrap_or_default()
}

fn string<'a>(node: &'a Value, key: &str) -> Option<&'a str> {
    node.get(key).and_then(Value::as_str)
}

/// The `content` of a node; nothing when it is not an array.
fn children(node: &Value) -> &[Value] {
    node.get("content")
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

/// The nodes (objects) among `values`.
fn nodes(values: &[Value]) -> impl Iterator<Item = &Value> {
    values.iter().filter(|v| v.is_object())
}

fn attr<'a>(node: &'a Value, name: &str) -> Option<&'a Value> {
    node.get("attrs")
        .filter(|a| a.is_object())
        .and_then(|a| a.get(name))
}

fn attr_str(node: &Value, name: &str) -> Option<String> {
    attr(node, name).and_then(Value::as_str).map(str::to_string)
}

fn is_inline(kind: &str) -> bool {
    matches!(
        kind,
        "text"
            | "hardBreak"
            | "mention"
            | "emoji"
            | "date"
            | "status"
            | "inlineCard"
            | "mediaInline"
            | "placeholder"
            | "inlineExtension"
    )
}

/// Renders a sequence of sibling nodes as blocks. Inline nodes found at block level
/// (malformed but seen in the wild) are gathered into one block.
fn blocks(values: &[Value]) -> Vec<String> {
    let mut out = Vec::new();
    let mut run = String::new();
    for node in nodes(values) {
        if is_inline(node_type(node)) {
            run.push_str(&inline(node));
            continue;
        }
        if !run.is_empty() {
            out.push(std::mem::take(&mut run));
        }
        let text = block(node);
        if !text.is_empty() {
            out.push(text);
        }
    }
    if !run.is_empty() {
        out.push(run);
    }
    out
}

fn inline_children(node: &Value) -> String {
    nodes(children(node)).map(inline).collect()
}

fn block(node: &Value) -> String {
    // Plain loops here rather than `map(..).collect()` chains: each chain is an iterator
    // adapter of its own in the wasm.
    match node_type(node) {
        "paragraph" | "heading" | "codeBlock" => inline_children(node),
        "rule" => "---".to_string(),
        "blockquote" => {
            let mut lines = Vec::new();
            for l in blocks(children(node)).join("\n\n").lines() {
                lines.push(if l.is_empty() {
                    ">".to_string()
                } else {
                    format!("> {l}")
                });
            }
            lines.join("\n")
        }
        "bulletList" | "decisionList" => list(node, |_| "- ".to_string()),
        "orderedList" => {
            let start = attr(node, "order").and_then(Value::as_u64).unwrap_or(1);
            list(node, |i| format!("{}. ", start.saturating_add(i as u64)))
        }
        "taskList" => {
            let mut items = Vec::new();
            for item in nodes(children(node)) {
                items.push(if node_type(item) == "taskList" {
                    indent(&block(item), "  ")
                } else {
                    let mark = if attr_str(item, "state").as_deref() == Some("DONE") {
                        "[x] "
                    } else {
                        "[ ] "
                    };
                    prefix(mark, &item_text(item))
                });
            }
            items.join("\n")
        }
        "table" => {
            let mut rows = Vec::new();
            for row in nodes(children(node)) {
                let mut cells = Vec::new();
                for cell in nodes(children(row)) {
                    cells.push(blocks(children(cell)).join(" "));
                }
                rows.push(cells.join(" | "));
            }
            rows.join("\n")
        }
        "media" | "mediaSingle" | "mediaGroup" => String::new(),
        "expand" | "nestedExpand" => {
            let body = blocks(children(node)).join("\n\n");
            match attr_str(node, "title").filter(|t| !t.is_empty()) {
                Some(title) if body.is_empty() => title,
                Some(title) => format!("{title}\n\n{body}"),
                None => body,
            }
        }
        // panel, layoutSection, layoutColumn, bodiedExtension, listItem out of a list and
        // anything newer than this code: render what is inside.
        _ => {
            let inner = blocks(children(node)).join("\n\n");
            if inner.is_empty() {
                attr_str(node, "text").unwrap_or_default()
            } else {
                inner
            }
        }
    }
}

/// The text of a list item or task item: its blocks, one per line.
fn item_text(item: &Value) -> String {
    let kids = children(item);
    if nodes(kids).all(|n| is_inline(node_type(n))) {
        inline_children(item)
    } else {
        blocks(kids).join("\n")
    }
}

fn list(node: &Value, marker: impl Fn(usize) -> String) -> String {
    let mut items = Vec::new();
    for item in nodes(children(node)) {
        items.push(prefix(&marker(items.len()), &item_text(item)));
    }
    items.join("\n")
}

/// `marker` before the first line, continuation lines indented to line up under the text.
fn prefix(marker: &str, text: &str) -> String {
    let pad = " ".repeat(marker.chars().count());
    let mut out = String::new();
    for (i, line) in text.split('\n').enumerate() {
        if i == 0 {
            out.push_str(marker);
            out.push_str(line);
        } else {
            out.push('\n');
            if !line.is_empty() {
                out.push_str(&pad);
                out.push_str(line);
            }
        }
    }
    out
}

fn indent(text: &str, pad: &str) -> String {
    let mut lines = Vec::new();
    for l in text.split('\n') {
        lines.push(format!("{pad}{l}"));
    }
    lines.join("\n")
}

fn inline(node: &Value) -> String {
    match node_type(node) {
        "text" => string(node, "text").unwrap_or_default().to_string(),
        "hardBreak" => "\n".to_string(),
        "mention" => match attr_str(node, "text").filter(|t| !t.is_empty()) {
            Some(t) if t.starts_with('@') => t,
            Some(t) => format!("@{t}"),
            None => format!("@{}", attr_str(node, "id").as_deref().unwrap_or("unknown")),
        },
        "emoji" => attr_str(node, "text")
            .or_else(|| attr_str(node, "shortName"))
            .unwrap_or_default(),
        "status" => attr_str(node, "text").unwrap_or_default(),
        "inlineCard" => attr_str(node, "url").unwrap_or_default(),
        "date" => attr(node, "timestamp")
            .and_then(|t| match t {
                Value::String(s) => s.parse::<i64>().ok(),
                n => n.as_i64(),
            })
            .map(iso_date)
            .unwrap_or_default(),
        "mediaInline" | "placeholder" => String::new(),
        _ => {
            let inner = inline_children(node);
            if inner.is_empty() {
                attr_str(node, "text").unwrap_or_default()
            } else {
                inner
            }
        }
    }
}

/// `YYYY-MM-DD` (UTC) of a millisecond Unix timestamp, as Jira shows ADF dates.
fn iso_date(ms: i64) -> String {
    // Howard Hinnant's civil_from_days.
    let days = ms.div_euclid(86_400_000);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn plain_text_becomes_paragraphs_and_hard_breaks() {
        let doc = from_plain_text("first line\nsecond line\n\n\nnext paragraph");
        assert_eq!(
            doc,
            json!({"type":"doc","version":1,"content":[
                {"type":"paragraph","content":[
                    {"type":"text","text":"first line"},
                    {"type":"hardBreak"},
                    {"type":"text","text":"second line"}]},
                {"type":"paragraph","content":[{"type":"text","text":"next paragraph"}]}
            ]})
        );
    }

    #[test]
    fn empty_and_blank_text_make_an_empty_document_without_empty_text_nodes() {
        for input in ["", "\n\n", "  \r\n \t\n"] {
            assert_eq!(
                from_plain_text(input),
                json!({"type":"doc","version":1,"content":[]})
            );
        }
        let doc = from_plain_text("\r\n\r\nx\r\ny\r\n");
        assert_eq!(doc["content"].as_array().unwrap().len(), 1);
        assert_eq!(doc["content"][0]["content"][2]["text"], "y");
    }

    #[test]
    fn round_trip_keeps_the_line_structure() {
        let text =
            "Steps:\n1) open the popup\n2) click Connect\n\nExpected: it works.\n\n  indented line";
        assert_eq!(to_plain_text(&from_plain_text(text)), text);
        let unicode = "Grüße 👋\n\n日本語";
        assert_eq!(
            AdfDocument::from_plain_text(unicode).to_plain_text(),
            unicode
        );
    }

    #[test]
    fn renders_headings_lists_mentions_and_other_inline_nodes() {
        let doc = json!({"type":"doc","version":1,"content":[
            {"type":"heading","attrs":{"level":2},"content":[{"type":"text","text":"Title"}]},
            {"type":"paragraph","content":[
                {"type":"text","text":"Hi "},
                {"type":"mention","attrs":{"id":"557058:abc","text":"@Alice"}},
                {"type":"text","text":" and "},
                {"type":"mention","attrs":{"id":"557058:def","text":"Bob"}},
                {"type":"text","text":" "},
                {"type":"emoji","attrs":{"shortName":":smile:","text":"😄"}},
                {"type":"text","text":", see "},
                {"type":"inlineCard","attrs":{"url":"https://example.com/x"}},
                {"type":"text","text":" by "},
                {"type":"date","attrs":{"timestamp":"1700000000000"}},
                {"type":"text","text":" ("},
                {"type":"status","attrs":{"text":"IN REVIEW","color":"blue"}},
                {"type":"text","text":")", "marks":[{"type":"strong"}]}
            ]},
            {"type":"bulletList","content":[
                {"type":"listItem","content":[{"type":"paragraph","content":[{"type":"text","text":"one"}]}]},
                {"type":"listItem","content":[
                    {"type":"paragraph","content":[{"type":"text","text":"two"}]},
                    {"type":"orderedList","attrs":{"order":3},"content":[
                        {"type":"listItem","content":[{"type":"paragraph","content":[{"type":"text","text":"three"}]}]},
                        {"type":"listItem","content":[{"type":"paragraph","content":[{"type":"text","text":"four"}]}]}
                    ]}
                ]}
            ]},
            {"type":"rule"},
            {"type":"blockquote","content":[{"type":"paragraph","content":[{"type":"text","text":"quoted"}]}]},
            {"type":"codeBlock","attrs":{"language":"rust"},"content":[{"type":"text","text":"fn main() {}\nlet x = 1;"}]},
            {"type":"mediaSingle","content":[{"type":"media","attrs":{"id":"x","type":"file"}}]},
            {"type":"panel","attrs":{"panelType":"info"},"content":[{"type":"paragraph","content":[{"type":"text","text":"note"}]}]},
            {"type":"taskList","content":[
                {"type":"taskItem","attrs":{"state":"DONE"},"content":[{"type":"text","text":"done"}]},
                {"type":"taskItem","attrs":{"state":"TODO"},"content":[{"type":"text","text":"todo"}]}
            ]},
            {"type":"table","content":[
                {"type":"tableRow","content":[
                    {"type":"tableHeader","content":[{"type":"paragraph","content":[{"type":"text","text":"k"}]}]},
                    {"type":"tableHeader","content":[{"type":"paragraph","content":[{"type":"text","text":"v"}]}]}]},
                {"type":"tableRow","content":[
                    {"type":"tableCell","content":[{"type":"paragraph","content":[{"type":"text","text":"a"}]}]},
                    {"type":"tableCell","content":[{"type":"paragraph","content":[{"type":"text","text":"1"}]}]}]}
            ]},
            {"type":"futureBlock","content":[{"type":"paragraph","content":[{"type":"text","text":"still shown"}]}]}
        ]});
        let expected = "Title\n\n\
            Hi @Alice and @Bob 😄, see https://example.com/x by 2023-11-14 (IN REVIEW)\n\n\
            - one\n- two\n  3. three\n  4. four\n\n\
            ---\n\n\
            > quoted\n\n\
            fn main() {}\nlet x = 1;\n\n\
            note\n\n\
            [x] done\n[ ] todo\n\n\
            k | v\na | 1\n\n\
            still shown";
        assert_eq!(to_plain_text(&doc), expected);
    }

    #[test]
    fn odd_inputs_do_not_panic() {
        assert_eq!(to_plain_text(&Value::Null), "");
        assert_eq!(to_plain_text(&json!("v2 plain body")), "v2 plain body");
        assert_eq!(to_plain_text(&json!({"type":"doc"})), "");
        assert_eq!(to_plain_text(&json!({"type":"doc","content":"nope"})), "");
        assert_eq!(to_plain_text(&json!({"type":"text","text":"bare"})), "bare");
        assert_eq!(
            to_plain_text(
                &json!({"type":"doc","content":[{"type":"text","text":"loose"}, 5, null]})
            ),
            "loose"
        );
        assert_eq!(
            to_plain_text(&json!({"type":"mention","attrs":{"id":"42"}})),
            "@42"
        );
    }

    /// Found writing the fuzz target `adf` (issue 15): an `order` near `u64::MAX` overflowed
    /// the second item's number (a debug panic, a wrapped `0.` in the wasm).
    #[test]
    fn an_ordered_list_at_the_largest_order_does_not_overflow() {
        let item = json!({"type":"listItem","content":[{"type":"text","text":"x"}]});
        let list = json!({"type":"orderedList","attrs":{"order":u64::MAX},"content":[item, item]});
        let max = u64::MAX;
        assert_eq!(to_plain_text(&list), format!("{max}. x\n{max}. x"));
    }

    #[test]
    fn iso_dates() {
        assert_eq!(iso_date(0), "1970-01-01");
        assert_eq!(iso_date(951_782_400_000), "2000-02-29");
        assert_eq!(iso_date(-86_400_000), "1969-12-31");
    }
}
