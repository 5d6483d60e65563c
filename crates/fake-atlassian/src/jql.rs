//! A small but real JQL subset: parse, resolve against one site, evaluate, sort.
//!
//! Supported: `project`, `assignee`, `reporter`, `watcher`, `status`, `statusCategory`,
//! `issuetype` (`type`), `priority`, `labels`, `key` (`issuekey`, `id`) with `=`, `!=`, `in`,
//! `not in`, `is [not] EMPTY`; `text`, `summary`, `description`, `comment` with `~` / `!~`;
//! `created` / `updated` with `=`, `!=`, `<`, `<=`, `>`, `>=` against a date (`2025-03-01`,
//! `"2025/03/01 10:00"`, UTC), a period relative to the fake clock (`-7d`, `"-1w 2d"`, units
//! `w d h m`) or `now()` / `startOfDay()` / `endOfDay()`; `currentUser()`; `AND`, `OR`, `NOT`,
//! parentheses; `ORDER BY created|updated|key [ASC|DESC]` (up to 7 fields). Anything else is a
//! 400, as Jira answers what it cannot parse.
//! As in Jira, `!=` / `not in` never match an empty field (`assignee != currentUser()` skips
//! unassigned issues).

use std::cmp::Ordering;

use crate::seed::{self, Issue, SiteData, CATEGORIES, ISSUE_TYPES, PRIORITIES, STATUSES};

/// A JQL error, shown to the client in `errorMessages`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub(crate) struct JqlError(pub String);

fn err<T>(msg: impl Into<String>) -> Result<T, JqlError> {
    Err(JqlError(msg.into()))
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(String),
    Str(String),
    LParen,
    RParen,
    Comma,
    Op(&'static str),
}

fn describe(t: &Tok) -> String {
    match t {
        Tok::Word(w) => w.clone(),
        Tok::Str(s) => format!("\"{s}\""),
        Tok::LParen => "(".into(),
        Tok::RParen => ")".into(),
        Tok::Comma => ",".into(),
        Tok::Op(o) => (*o).into(),
    }
}

fn tokenize(input: &str) -> Result<Vec<Tok>, JqlError> {
    let chars: Vec<char> = input.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            c if c.is_whitespace() => i += 1,
            '(' => {
                out.push(Tok::LParen);
                i += 1
            }
            ')' => {
                out.push(Tok::RParen);
                i += 1
            }
            ',' => {
                out.push(Tok::Comma);
                i += 1
            }
            '"' | '\'' => {
                let quote = c;
                let mut s = String::new();
                i += 1;
                loop {
                    match chars.get(i) {
                        None => return err(format!("Error in the JQL Query: The quoted string '{s}' has not been completed.")),
                        Some('\\') => {
                            if let Some(n) = chars.get(i + 1) {
                                s.push(*n);
                            }
                            i += 2;
                        }
                        Some(&ch) if ch == quote => {
                            i += 1;
                            break;
                        }
                        Some(&ch) => {
                            s.push(ch);
                            i += 1;
                        }
                    }
                }
                out.push(Tok::Str(s));
            }
            '=' => {
                out.push(Tok::Op("="));
                i += 1
            }
            '~' => {
                out.push(Tok::Op("~"));
                i += 1
            }
            '!' => match chars.get(i + 1) {
                Some('=') => {
                    out.push(Tok::Op("!="));
                    i += 2
                }
                Some('~') => {
                    out.push(Tok::Op("!~"));
                    i += 2
                }
                _ => return err("Error in the JQL Query: The character '!' is a reserved JQL character."),
            },
            '<' | '>' => {
                let eq = chars.get(i + 1) == Some(&'=');
                out.push(Tok::Op(match (c, eq) {
                    ('<', true) => "<=",
                    ('<', false) => "<",
                    (_, true) => ">=",
                    _ => ">",
                }));
                i += if eq { 2 } else { 1 };
            }
            c if is_word_char(c) => {
                let start = i;
                while i < chars.len() && is_word_char(chars[i]) {
                    i += 1;
                }
                out.push(Tok::Word(chars[start..i].iter().collect()));
            }
            other => {
                return err(format!("Error in the JQL Query: The character '{other}' is a reserved JQL character. You must enclose it in a string."))
            }
        }
    }
    Ok(out)
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | ':' | '@' | '*' | '/')
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Op {
    Eq,
    Ne,
    In,
    NotIn,
    Is,
    IsNot,
    Like,
    NotLike,
    Cmp(&'static str),
}

impl Op {
    fn text(self) -> &'static str {
        match self {
            Op::Eq => "=",
            Op::Ne => "!=",
            Op::In => "in",
            Op::NotIn => "not in",
            Op::Is => "is",
            Op::IsNot => "is not",
            Op::Like => "~",
            Op::NotLike => "!~",
            Op::Cmp(s) => s,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Operand {
    Value(String),
    Func(String),
    Empty,
}

#[derive(Debug, Clone)]
struct Clause {
    field: String,
    op: Op,
    values: Vec<Operand>,
}

#[derive(Debug, Clone)]
enum Expr {
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    Clause(Clause),
}

/// A parsed query: an optional restriction and ORDER BY fields (name, descending).
#[derive(Debug)]
pub(crate) struct Query {
    expr: Option<Expr>,
    order: Vec<(String, bool)>,
}

impl Query {
    /// Jira refuses queries without any restriction on this endpoint ("unbounded").
    pub fn is_bounded(&self) -> bool {
        self.expr.is_some()
    }
}

struct Parser {
    toks: Vec<Tok>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }

    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.pos).cloned();
        self.pos += 1;
        t
    }

    fn peek_kw(&self, kw: &str) -> bool {
        matches!(self.peek(), Some(Tok::Word(w)) if w.eq_ignore_ascii_case(kw))
    }

    fn expect_kw(&mut self, kw: &str) -> Result<(), JqlError> {
        if self.peek_kw(kw) {
            self.pos += 1;
            Ok(())
        } else {
            err(format!(
                "Error in the JQL Query: Expecting '{}' but got '{}'.",
                kw.to_uppercase(),
                self.found()
            ))
        }
    }

    fn found(&self) -> String {
        self.peek()
            .map(describe)
            .unwrap_or_else(|| "end of query".to_string())
    }

    fn query(&mut self) -> Result<Query, JqlError> {
        let expr = if self.peek().is_none() || self.peek_kw("order") {
            None
        } else {
            Some(self.or()?)
        };
        let mut order = Vec::new();
        if self.peek_kw("order") {
            self.pos += 1;
            self.expect_kw("by")?;
            loop {
                let field = match self.next() {
                    Some(Tok::Word(w)) | Some(Tok::Str(w)) => w,
                    other => {
                        return err(format!(
                            "Error in the JQL Query: Expecting a field name but got '{}'.",
                            other
                                .as_ref()
                                .map(describe)
                                .unwrap_or_else(|| "end of query".into())
                        ))
                    }
                };
                let desc = if self.peek_kw("desc") {
                    self.pos += 1;
                    true
                } else {
                    if self.peek_kw("asc") {
                        self.pos += 1;
                    }
                    false
                };
                order.push((field, desc));
                if self.peek() == Some(&Tok::Comma) {
                    self.pos += 1;
                } else {
                    break;
                }
            }
            if order.len() > 7 {
                return err("Error in the JQL Query: A maximum of 7 ORDER BY fields is allowed.");
            }
        }
        if self.peek().is_some() {
            return err(format!(
                "Error in the JQL Query: Expecting either 'OR' or 'AND' but got '{}'.",
                self.found()
            ));
        }
        Ok(Query { expr, order })
    }

    fn or(&mut self) -> Result<Expr, JqlError> {
        let mut left = self.and()?;
        while self.peek_kw("or") {
            self.pos += 1;
            left = Expr::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Expr, JqlError> {
        let mut left = self.not()?;
        while self.peek_kw("and") {
            self.pos += 1;
            left = Expr::And(Box::new(left), Box::new(self.not()?));
        }
        Ok(left)
    }

    fn not(&mut self) -> Result<Expr, JqlError> {
        if self.peek_kw("not") {
            self.pos += 1;
            return Ok(Expr::Not(Box::new(self.not()?)));
        }
        if self.peek() == Some(&Tok::LParen) {
            self.pos += 1;
            let inner = self.or()?;
            if self.next() != Some(Tok::RParen) {
                return err("Error in the JQL Query: Expecting ')' before the end of the query.");
            }
            return Ok(inner);
        }
        self.clause()
    }

    fn clause(&mut self) -> Result<Expr, JqlError> {
        let field = match self.next() {
            Some(Tok::Word(w)) | Some(Tok::Str(w)) => w,
            other => {
                return err(format!(
                    "Error in the JQL Query: Expecting a field name but got '{}'.",
                    other
                        .as_ref()
                        .map(describe)
                        .unwrap_or_else(|| "end of query".into())
                ))
            }
        };
        let op = match self.next() {
            Some(Tok::Op("=")) => Op::Eq,
            Some(Tok::Op("!=")) => Op::Ne,
            Some(Tok::Op("~")) => Op::Like,
            Some(Tok::Op("!~")) => Op::NotLike,
            Some(Tok::Op(o)) => Op::Cmp(o),
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case("in") => Op::In,
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case("not") => {
                self.expect_kw("in")?;
                Op::NotIn
            }
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case("is") => {
                if self.peek_kw("not") {
                    self.pos += 1;
                    Op::IsNot
                } else {
                    Op::Is
                }
            }
            other => {
                return err(format!(
                    "Error in the JQL Query: Expecting operator but got '{}'. The query should be in the form 'field operator value'.",
                    other.as_ref().map(describe).unwrap_or_else(|| "end of query".into())
                ))
            }
        };
        let values = if matches!(op, Op::In | Op::NotIn) {
            if self.next() != Some(Tok::LParen) {
                return err(format!(
                    "Error in the JQL Query: Expecting '(' after '{}'.",
                    op.text()
                ));
            }
            let mut values = vec![self.operand()?];
            loop {
                match self.next() {
                    Some(Tok::Comma) => values.push(self.operand()?),
                    Some(Tok::RParen) => break,
                    _ => {
                        return err(
                            "Error in the JQL Query: Expecting ',' or ')' in the value list.",
                        )
                    }
                }
            }
            values
        } else {
            vec![self.operand()?]
        };
        Ok(Expr::Clause(Clause { field, op, values }))
    }

    fn operand(&mut self) -> Result<Operand, JqlError> {
        match self.next() {
            Some(Tok::Str(s)) => Ok(Operand::Value(s)),
            Some(Tok::Word(w)) => {
                if self.peek() == Some(&Tok::LParen) {
                    self.pos += 1;
                    if self.next() != Some(Tok::RParen) {
                        return err(format!(
                            "Error in the JQL Query: The function '{w}' takes no arguments here."
                        ));
                    }
                    Ok(Operand::Func(w))
                } else if w.eq_ignore_ascii_case("empty") || w.eq_ignore_ascii_case("null") {
                    Ok(Operand::Empty)
                } else if ["and", "or", "not", "order", "in", "is"]
                    .iter()
                    .any(|k| w.eq_ignore_ascii_case(k))
                {
                    err(format!("Error in the JQL Query: '{w}' is a reserved JQL word. You must surround it in quotation marks to use it in a query."))
                } else {
                    Ok(Operand::Value(w))
                }
            }
            other => {
                err(format!(
                "Error in the JQL Query: Expecting either a value, list or function but got '{}'.",
                other.as_ref().map(describe).unwrap_or_else(|| "end of query".into())
            ))
            }
        }
    }
}

/// Parses JQL (an empty string is a valid, unbounded query).
pub(crate) fn parse(input: &str) -> Result<Query, JqlError> {
    let toks = tokenize(input)?;
    Parser { toks, pos: 0 }.query()
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Field {
    Project,
    Assignee,
    Reporter,
    Watcher,
    Status,
    Category,
    IssueType,
    Priority,
    Labels,
    Key,
    Text,
    Summary,
    Description,
    Comment,
    Created,
    Updated,
}

fn field(name: &str) -> Result<Field, JqlError> {
    Ok(match name.to_ascii_lowercase().as_str() {
        "project" => Field::Project,
        "assignee" => Field::Assignee,
        "reporter" => Field::Reporter,
        "watcher" => Field::Watcher,
        "status" => Field::Status,
        "statuscategory" => Field::Category,
        "issuetype" | "type" => Field::IssueType,
        "priority" => Field::Priority,
        "labels" => Field::Labels,
        "key" | "issuekey" | "id" => Field::Key,
        "text" => Field::Text,
        "summary" => Field::Summary,
        "description" => Field::Description,
        "comment" => Field::Comment,
        "created" | "createddate" => Field::Created,
        "updated" | "updateddate" => Field::Updated,
        _ => {
            return err(format!(
                "Field '{name}' does not exist or you do not have permission to view it."
            ))
        }
    })
}

/// A resolved value to compare against.
#[derive(Debug, Clone, PartialEq)]
enum Val {
    Num(u64),
    Str(String),
}

#[derive(Debug)]
enum Pred {
    And(Box<Pred>, Box<Pred>),
    Or(Box<Pred>, Box<Pred>),
    Not(Box<Pred>),
    /// `=`/`in` (any value present) or, negated, `!=`/`not in` (field non-empty, none present);
    /// `None` in the set stands for EMPTY.
    Match {
        field: Field,
        set: Vec<Option<Val>>,
        negate: bool,
    },
    Empty {
        field: Field,
        negate: bool,
    },
    Text {
        field: Field,
        terms: Vec<String>,
        negate: bool,
    },
    /// `created` / `updated` compared with an instant (Unix seconds).
    Time {
        field: Field,
        op: Op,
        at: u64,
    },
}

#[derive(Debug, Clone, Copy)]
enum SortKey {
    Created,
    Updated,
    Key,
}

/// A query resolved against one site and caller, ready to evaluate.
pub(crate) struct Compiled {
    pred: Option<Pred>,
    order: Vec<(SortKey, bool)>,
}

/// Resolves names (projects, statuses, users...) for `site`, with `current_user` behind
/// `currentUser()`. Unknown values are errors, as in Jira.
/// `now` (the fake clock, Unix seconds) anchors relative dates such as `-7d`.
pub(crate) fn compile(
    query: &Query,
    site: &SiteData,
    current_user: usize,
    now: u64,
) -> Result<Compiled, JqlError> {
    let cx = Cx {
        site,
        me: current_user,
        now,
    };
    let pred = query
        .expr
        .as_ref()
        .map(|e| compile_expr(e, &cx))
        .transpose()?;
    let mut order = Vec::new();
    for (name, desc) in &query.order {
        let key = match field(name)? {
            Field::Created => SortKey::Created,
            Field::Updated => SortKey::Updated,
            Field::Key => SortKey::Key,
            _ => return err(format!("Sorting by '{name}' is not supported by the fake Atlassian (use created, updated or key).")),
        };
        order.push((key, *desc));
    }
    if order.is_empty() {
        order.push((SortKey::Created, true));
    }
    Ok(Compiled { pred, order })
}

/// What names resolve against: the site, the caller and the clock.
struct Cx<'a> {
    site: &'a SiteData,
    me: usize,
    now: u64,
}

fn compile_expr(e: &Expr, cx: &Cx) -> Result<Pred, JqlError> {
    Ok(match e {
        Expr::And(a, b) => Pred::And(
            Box::new(compile_expr(a, cx)?),
            Box::new(compile_expr(b, cx)?),
        ),
        Expr::Or(a, b) => Pred::Or(
            Box::new(compile_expr(a, cx)?),
            Box::new(compile_expr(b, cx)?),
        ),
        Expr::Not(a) => Pred::Not(Box::new(compile_expr(a, cx)?)),
        Expr::Clause(c) => compile_clause(c, cx)?,
    })
}

/// A date value as Jira reads it: `yyyy-MM-dd` or `yyyy/MM/dd`, optionally ` HH:mm` (UTC here),
/// or a period from now such as `-7d`, `4w 2d`, `-30m` (units w, d, h, m).
fn date_value(text: &str, now: u64) -> Option<u64> {
    let text = text.trim();
    let (date, time) = match text.split_once(' ') {
        Some((d, t)) if d.contains(['-', '/']) && d.len() == 10 => (d, Some(t)),
        _ => (text, None),
    };
    let parts: Vec<&str> = date.split(['-', '/']).collect();
    if date.len() == 10 && parts.len() == 3 && parts[0].len() == 4 {
        let y = parts[0].parse().ok()?;
        let day = crate::util::unix_day(y, parts[1].parse().ok()?, parts[2].parse().ok()?)?;
        let secs = match time {
            None => 0,
            Some(t) => {
                let (h, m) = t.split_once(':')?;
                let (h, m): (u64, u64) = (h.parse().ok()?, m.parse().ok()?);
                if h > 23 || m > 59 {
                    return None;
                }
                h * 3600 + m * 60
            }
        };
        return Some(day + secs);
    }
    let (sign, rest) = match text.as_bytes().first()? {
        b'-' => (-1i64, &text[1..]),
        b'+' => (1, &text[1..]),
        _ => (1, text),
    };
    let mut total: i64 = 0;
    for part in rest.split_whitespace() {
        let (n, unit) = part.split_at(part.len().checked_sub(1)?);
        let n: i64 = n.parse().ok()?;
        let unit = match unit {
            "w" => 7 * 86_400,
            "d" => 86_400,
            "h" => 3600,
            "m" => 60,
            _ => return None,
        };
        total = total.checked_add(n.checked_mul(unit)?)?;
    }
    if rest.trim().is_empty() {
        return None;
    }
    u64::try_from(now as i64 + sign * total).ok()
}

fn compile_date(c: &Clause, f: Field, now: u64) -> Result<Pred, JqlError> {
    match c.op {
        Op::Is | Op::IsNot if c.values[0] == Operand::Empty => {
            return Ok(Pred::Empty {
                field: f,
                negate: c.op == Op::IsNot,
            })
        }
        Op::Eq | Op::Ne | Op::Cmp(_) => {}
        _ => {
            return err(format!(
                "The operator '{}' is not supported by the '{}' field.",
                c.op.text(),
                c.field
            ))
        }
    }
    let day = now - now % 86_400;
    let at = match &c.values[0] {
        Operand::Func(f) if f.eq_ignore_ascii_case("now") => Some(now),
        Operand::Func(f) if f.eq_ignore_ascii_case("startOfDay") => Some(day),
        Operand::Func(f) if f.eq_ignore_ascii_case("endOfDay") => Some(day + 86_399),
        Operand::Func(f) => return err(format!("Unable to find JQL function '{f}()'.")),
        Operand::Value(v) => date_value(v, now),
        Operand::Empty => None,
    };
    let Some(at) = at else {
        let shown = match &c.values[0] {
            Operand::Value(v) => v.as_str(),
            _ => "EMPTY",
        };
        return err(format!(
            "Date value '{shown}' for field '{}' is invalid. Valid formats include: 'yyyy/MM/dd HH:mm', 'yyyy-MM-dd HH:mm', 'yyyy/MM/dd', 'yyyy-MM-dd', or a period format e.g. '-5d', '4w 2d'.",
            c.field
        ));
    };
    Ok(Pred::Time {
        field: f,
        op: c.op,
        at,
    })
}

fn compile_clause(c: &Clause, cx: &Cx) -> Result<Pred, JqlError> {
    let (site, me) = (cx.site, cx.me);
    let f = field(&c.field)?;
    let unsupported = || {
        err(format!(
            "The operator '{}' is not supported by the '{}' field.",
            c.op.text(),
            c.field
        ))
    };
    match f {
        Field::Created | Field::Updated => return compile_date(c, f, cx.now),
        Field::Text | Field::Summary | Field::Description | Field::Comment => {
            let negate = match c.op {
                Op::Like => false,
                Op::NotLike => true,
                _ => return unsupported(),
            };
            let Operand::Value(text) = &c.values[0] else {
                return err(format!(
                    "The field '{}' needs a text value for '~'.",
                    c.field
                ));
            };
            let terms: Vec<String> = text
                .split(|ch: char| !ch.is_alphanumeric())
                .filter(|t| !t.is_empty())
                .map(str::to_lowercase)
                .collect();
            if terms.is_empty() {
                return err(format!(
                    "The value '{text}' is not a valid text search for the field '{}'.",
                    c.field
                ));
            }
            return Ok(Pred::Text {
                field: f,
                terms,
                negate,
            });
        }
        _ => {}
    }
    match c.op {
        Op::Is | Op::IsNot => {
            if c.values[0] != Operand::Empty {
                return err(format!(
                    "The operator '{}' only supports EMPTY or NULL.",
                    c.op.text()
                ));
            }
            Ok(Pred::Empty {
                field: f,
                negate: c.op == Op::IsNot,
            })
        }
        Op::Eq | Op::Ne | Op::In | Op::NotIn => {
            let set = c
                .values
                .iter()
                .map(|v| resolve(f, &c.field, v, site, me))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Pred::Match {
                field: f,
                set,
                negate: matches!(c.op, Op::Ne | Op::NotIn),
            })
        }
        _ => unsupported(),
    }
}

fn resolve(
    f: Field,
    name: &str,
    v: &Operand,
    site: &SiteData,
    me: usize,
) -> Result<Option<Val>, JqlError> {
    let text = match v {
        Operand::Empty => {
            return if matches!(
                f,
                Field::Assignee | Field::Reporter | Field::Labels | Field::Priority
            ) {
                Ok(None)
            } else {
                err(format!("The field '{name}' cannot be empty."))
            }
        }
        Operand::Func(func) => {
            return if func.eq_ignore_ascii_case("currentUser") {
                if matches!(f, Field::Assignee | Field::Reporter | Field::Watcher) {
                    Ok(Some(Val::Num(me as u64)))
                } else {
                    err(format!(
                        "The function 'currentUser' is not supported by the '{name}' field."
                    ))
                }
            } else {
                err(format!("Unable to find JQL function '{func}()'."))
            };
        }
        Operand::Value(t) => t.as_str(),
    };
    let missing = || {
        err(format!(
            "The value '{text}' does not exist for the field '{name}'."
        ))
    };
    let found = match f {
        Field::Project => site.find_project(text).or_else(|| {
            site.projects
                .iter()
                .position(|p| p.name.eq_ignore_ascii_case(text))
        }),
        Field::Assignee | Field::Reporter | Field::Watcher => seed::user_by_account(text),
        Field::Status => STATUSES
            .iter()
            .position(|s| s.name.eq_ignore_ascii_case(text) || s.id == text),
        Field::Category => {
            return CATEGORIES
                .iter()
                .find(|c| {
                    c.name.eq_ignore_ascii_case(text)
                        || c.key.eq_ignore_ascii_case(text)
                        || c.id.to_string() == text
                })
                .map(|c| Some(Val::Num(u64::from(c.id))))
                .map_or_else(missing, Ok);
        }
        Field::IssueType => ISSUE_TYPES
            .iter()
            .position(|t| t.name.eq_ignore_ascii_case(text) || t.id == text),
        Field::Priority => PRIORITIES
            .iter()
            .position(|p| p.name.eq_ignore_ascii_case(text) || p.id == text),
        Field::Labels => return Ok(Some(Val::Str(text.to_string()))),
        Field::Key => {
            return match site.find_issue(text) {
                Some(i) => Ok(Some(Val::Num(site.issues[i].id))),
                None => err(format!(
                    "An issue with key '{text}' does not exist for field '{name}'."
                )),
            }
        }
        _ => None,
    };
    match found {
        Some(i) => Ok(Some(Val::Num(i as u64))),
        None => missing(),
    }
}

/// The values a field has on an issue (empty = the field is empty).
fn values(f: Field, issue: &Issue) -> Vec<Val> {
    let n = |x: usize| vec![Val::Num(x as u64)];
    match f {
        Field::Project => n(issue.project),
        Field::Assignee => issue.assignee.map(n).unwrap_or_default(),
        Field::Reporter => n(issue.reporter),
        Field::Watcher => issue.watchers.iter().map(|&u| Val::Num(u as u64)).collect(),
        Field::Created => vec![Val::Num(issue.created)],
        Field::Updated => vec![Val::Num(issue.updated)],
        Field::Status => n(issue.status),
        Field::Category => vec![Val::Num(u64::from(STATUSES[issue.status].category.id))],
        Field::IssueType => n(issue.issue_type),
        Field::Priority => n(issue.priority),
        Field::Labels => issue.labels.iter().map(|l| Val::Str(l.clone())).collect(),
        Field::Key => vec![Val::Num(issue.id)],
        _ => Vec::new(),
    }
}

fn text_of(f: Field, issue: &Issue) -> String {
    let mut out = String::new();
    if matches!(f, Field::Text | Field::Summary) {
        out.push_str(&issue.summary);
        out.push(' ');
    }
    if matches!(f, Field::Text | Field::Description) {
        if let Some(d) = &issue.description {
            seed::adf_text(d, &mut out);
        }
    }
    if matches!(f, Field::Text | Field::Comment) {
        for c in &issue.comments {
            seed::adf_text(&c.body, &mut out);
        }
    }
    if f == Field::Text {
        out.push_str(&issue.labels.join(" "));
    }
    out.to_lowercase()
}

fn eval(p: &Pred, issue: &Issue) -> bool {
    match p {
        Pred::And(a, b) => eval(a, issue) && eval(b, issue),
        Pred::Or(a, b) => eval(a, issue) || eval(b, issue),
        Pred::Not(a) => !eval(a, issue),
        Pred::Empty { field, negate } => values(*field, issue).is_empty() != *negate,
        Pred::Match { field, set, negate } => {
            let have = values(*field, issue);
            let hit = set.iter().any(|want| match want {
                None => have.is_empty(),
                Some(v) => match (v, *field) {
                    (Val::Str(s), Field::Labels) => have
                        .iter()
                        .any(|h| matches!(h, Val::Str(x) if x.eq_ignore_ascii_case(s))),
                    _ => have.contains(v),
                },
            });
            if *negate {
                // Jira: a negative clause never matches an empty field unless EMPTY was listed.
                !hit && (!have.is_empty() || set.iter().any(Option::is_none))
            } else {
                hit
            }
        }
        Pred::Text {
            field,
            terms,
            negate,
        } => {
            let text = text_of(*field, issue);
            terms.iter().all(|t| text.contains(t.trim_end_matches('*'))) != *negate
        }
        Pred::Time { field, op, at } => {
            let t = if *field == Field::Created {
                issue.created
            } else {
                issue.updated
            };
            match op {
                Op::Eq => t == *at,
                Op::Ne => t != *at,
                Op::Cmp("<") => t < *at,
                Op::Cmp("<=") => t <= *at,
                Op::Cmp(">") => t > *at,
                _ => t >= *at,
            }
        }
    }
}

impl Compiled {
    pub fn matches(&self, issue: &Issue) -> bool {
        self.pred.as_ref().is_none_or(|p| eval(p, issue))
    }

    /// Sorts by the ORDER BY keys (default `created DESC`), ties broken by id.
    pub fn sort(&self, site: &SiteData, issues: &mut [&Issue]) {
        issues.sort_by(|a, b| {
            for (key, desc) in &self.order {
                let o = match key {
                    SortKey::Created => a.created.cmp(&b.created),
                    SortKey::Updated => a.updated.cmp(&b.updated),
                    SortKey::Key => site.projects[a.project]
                        .key
                        .cmp(&site.projects[b.project].key)
                        .then(a.number.cmp(&b.number)),
                };
                let o = if *desc { o.reverse() } else { o };
                if o != Ordering::Equal {
                    return o;
                }
            }
            a.id.cmp(&b.id)
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seed::{build, ALICE, DONE};

    /// 2025-07-10T00:00:00Z: late in the seed's span, so some issues changed in the week before.
    const NOW: u64 = 1_752_105_600;

    fn run(jql: &str) -> Result<Vec<String>, JqlError> {
        let sites = build();
        let site = &sites[0];
        let q = parse(jql)?;
        let c = compile(&q, site, ALICE, NOW)?;
        let mut hits: Vec<&Issue> = site.issues.iter().filter(|i| c.matches(i)).collect();
        c.sort(site, &mut hits);
        Ok(hits.iter().map(|i| site.issue_key(i)).collect())
    }

    #[test]
    fn parses_and_rejects() {
        assert!(parse("project = PLAT AND assignee = currentUser() ORDER BY created DESC").is_ok());
        assert!(parse("project in (PLAT, \"WEB\") OR (status != Done AND text ~ 'login')").is_ok());
        assert!(!parse("ORDER BY key DESC").unwrap().is_bounded());
        assert!(!parse("").unwrap().is_bounded());
        for bad in [
            "project =",
            "project PLAT",
            "project = PLAT AND",
            "(project = PLAT",
            "project = PLAT ORDER key",
            "project in PLAT",
            "summary ~ \"open",
            "project = PLAT $",
            "project = and",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn resolves_against_the_site() {
        assert!(run("project = NOPE")
            .unwrap_err()
            .0
            .contains("does not exist for the field 'project'"));
        assert!(run("status = Sleeping").is_err());
        assert!(run("foo = bar")
            .unwrap_err()
            .0
            .contains("Field 'foo' does not exist"));
        assert!(run("project ~ PLAT")
            .unwrap_err()
            .0
            .contains("operator '~'"));
        assert!(run("assignee = notAFunction()")
            .unwrap_err()
            .0
            .contains("Unable to find JQL function"));
        assert!(run("project = PLAT ORDER BY status").is_err());
        assert!(run("created > 0").is_err(), "not a date");
        assert!(run("updated >= \"7d ago\"")
            .unwrap_err()
            .0
            .contains("Date value '7d ago' for field 'updated' is invalid"));
        assert!(run("updated ~ -7d").is_err());
        assert!(run("updated >= -7x").is_err());
        assert!(run("created >= 2025-02-30").is_err());
        assert!(run("watcher = notAFunction()").is_err());
    }

    #[test]
    fn evaluates_like_jira() {
        let sites = build();
        let site = &sites[0];
        let plat = run("project = plat").unwrap();
        assert_eq!(
            plat.len(),
            site.issues.iter().filter(|i| i.project == 0).count()
        );
        let mine_open = run("assignee = currentUser() AND statusCategory != Done").unwrap();
        let expected = site
            .issues
            .iter()
            .filter(|i| i.assignee == Some(ALICE) && STATUSES[i.status].category.key != "done")
            .count();
        assert_eq!(mine_open.len(), expected);
        assert!(expected > 50);
        // != skips empty fields, `is EMPTY` finds them.
        let not_mine = run("assignee != currentUser()").unwrap().len();
        let unassigned = run("assignee is EMPTY").unwrap().len();
        let mine = run("assignee = currentUser()").unwrap().len();
        assert_eq!(not_mine + unassigned + mine, site.issues.len());
        assert!(unassigned > 0);
        let done = run("status = Done").unwrap().len();
        assert_eq!(
            done,
            site.issues.iter().filter(|i| i.status == DONE).count()
        );
        assert_eq!(run("statusCategory = done").unwrap().len(), done);
        assert_eq!(
            run("NOT status = Done").unwrap().len(),
            site.issues.len() - done
        );
        let either = run("project = WEB OR project = OPS").unwrap().len();
        assert_eq!(either, run("project in (WEB, OPS)").unwrap().len());
        assert_eq!(run("key = PLAT-7").unwrap(), vec!["PLAT-7".to_string()]);
        assert_eq!(
            run("project is not EMPTY").unwrap().len(),
            site.issues.len()
        );
        assert!(run("project is EMPTY").unwrap().is_empty());
    }

    #[test]
    fn reporter_watcher_and_dates() {
        let sites = build();
        let site = &sites[0];
        let count = |f: &dyn Fn(&Issue) -> bool| site.issues.iter().filter(|i| f(i)).count();
        let reported = run("reporter = currentUser()").unwrap();
        assert_eq!(reported.len(), count(&|i| i.reporter == ALICE));
        assert!(!reported.is_empty() && reported.len() < site.issues.len());
        let watching = run("watcher = currentUser()").unwrap();
        assert_eq!(watching.len(), count(&|i| i.watchers.contains(&ALICE)));
        assert!(
            watching.len() > reported.len(),
            "reporter, assignee and more watch"
        );
        let carol = crate::seed::CAROL_ACCOUNT;
        assert_eq!(
            run(&format!("watcher = \"{carol}\"")).unwrap().len(),
            count(&|i| i.watchers.contains(&crate::seed::CAROL))
        );
        assert_eq!(
            run("watcher != currentUser()").unwrap().len() + watching.len(),
            site.issues.len(),
            "every issue has a watcher"
        );

        // Relative periods count from the clock; absolute dates are UTC days.
        let week = NOW - 7 * 86_400;
        let recent = run("updated >= -7d ORDER BY updated DESC").unwrap();
        assert_eq!(recent.len(), count(&|i| i.updated >= week));
        let times: Vec<u64> = recent
            .iter()
            .map(|k| site.issues[site.find_issue(k).unwrap()].updated)
            .collect();
        assert!(times.windows(2).all(|w| w[0] >= w[1]));
        assert_eq!(run("updated >= -1w ORDER BY updated DESC").unwrap(), recent);
        assert_eq!(
            run("updated >= \"-6d 24h\" ORDER BY updated DESC").unwrap(),
            recent
        );
        let since = crate::util::unix_day(2025, 4, 2).unwrap();
        let after = run("created >= 2025-04-02").unwrap();
        assert_eq!(after.len(), count(&|i| i.created >= since));
        assert!(!after.is_empty() && after.len() < site.issues.len());
        assert_eq!(run("created >= \"2025/04/02 00:00\"").unwrap(), after);
        assert_eq!(
            run("created < 2025-04-02").unwrap().len() + after.len(),
            site.issues.len()
        );
        assert_eq!(
            run("created > \"2025-04-02 12:30\"").unwrap().len(),
            count(&|i| i.created > since + 12 * 3600 + 1800)
        );
        assert!(!recent.is_empty() && recent.len() < 50, "{}", recent.len());
        assert_eq!(
            run("updated <= now()").unwrap().len(),
            count(&|i| i.updated <= NOW)
        );
        assert_eq!(
            run("updated > endOfDay()").unwrap().len(),
            count(&|i| i.updated > NOW + 86_399)
        );
        assert!(run("created is EMPTY").unwrap().is_empty());
    }

    #[test]
    fn text_search_and_ordering() {
        let sites = build();
        let site = &sites[0];
        let target = &site.issues[site.find_issue("PLAT-3").unwrap()];
        let word = target.summary.split(' ').nth(1).unwrap().to_lowercase();
        let hits = run(&format!("project = PLAT AND text ~ \"{word}\"")).unwrap();
        assert!(hits.contains(&"PLAT-3".to_string()));
        let expected = site
            .issues
            .iter()
            .filter(|i| i.project == 0 && text_of(Field::Text, i).contains(&word))
            .count();
        assert_eq!(hits.len(), expected);
        let none = run(&format!("project = PLAT AND text !~ \"{word}\"")).unwrap();
        assert_eq!(
            none.len() + hits.len(),
            site.issues.iter().filter(|i| i.project == 0).count()
        );

        let asc = run("project = WEB ORDER BY key ASC").unwrap();
        assert_eq!(asc.first().unwrap(), "WEB-1");
        assert_eq!(asc.last().unwrap(), "WEB-36");
        let desc = run("project = WEB ORDER BY key DESC").unwrap();
        assert_eq!(desc.first().unwrap(), "WEB-36");
        let created = run("project = WEB ORDER BY created ASC").unwrap();
        assert_eq!(created, asc, "numbers grow with creation time");
        let updated = run("project in (WEB, OPS) ORDER BY updated DESC").unwrap();
        let times: Vec<u64> = updated
            .iter()
            .map(|k| site.issues[site.find_issue(k).unwrap()].updated)
            .collect();
        assert!(times.windows(2).all(|w| w[0] >= w[1]));
    }
}
