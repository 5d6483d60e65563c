//! The Jira calls of `JiraClient` for JavaScript, typed through tsify: every method resolves
//! with a model of [`crate::jira::models`] (dates as ISO strings, ADF as JSON) and rejects with
//! a `JiraError` (code `jira` with `details.errorMessages` / `details.errors` when Jira refused).
//! Also the ADF helpers and the async iterator over search results.
//!
//! Responses are parsed by the browser's `JSON.parse` and brought into the models' shape by
//! [`crate::jira::shape`] (the same checks, defaults and members as the serde models), and
//! inputs are read the same way: no serde format for JavaScript is compiled into the wasm.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use serde::Deserialize;
use tsify::{Ts, Tsify};
use wasm_bindgen::prelude::*;

use super::client::JiraClient;
use super::error::to_js;
use super::js;
use crate::core::api_request::JiraRequest;
use crate::core::json::Json;
use crate::jira::models::{
    CreateIssue, EditIssue, GetIssueOptions, Issue, IssueTypeMeta, ProjectSearch, SearchParams,
};
use crate::jira::paging::WalkPage;
use crate::jira::shape;
use crate::jira::{adf, requests, SearchWalk};
use crate::platform::BrowserPlatform;
use crate::session::ports::HttpResponse;
use crate::session::Session;
use crate::Error;

#[wasm_bindgen(typescript_custom_section)]
const TS_JIRA: &'static str = r#"
/** Any JSON value. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
/** A JSON object whose members this package does not type (custom fields, expansions, raw fields). */
export type JsonObject = { [key: string]: unknown };
/** An Atlassian Document Format node. */
export interface AdfNode {
  type: string;
  text?: string;
  attrs?: { [key: string]: unknown };
  marks?: { type: string; attrs?: { [key: string]: unknown } }[];
  content?: AdfNode[];
}
/** An Atlassian Document Format document, as Jira v3 carries descriptions and comment bodies. */
export interface AdfDocument extends AdfNode {
  type: "doc";
  version: 1;
  content: AdfNode[];
}
/** A reference to another issue (e.g. `fields.parent`). */
export interface IssueRef {
  id: string;
  key: string;
  self?: string;
  fields?: Partial<IssueFields>;
}
/** One page of the projects the user can see. */
export type ProjectPage = PageBean<Project>;
"#;

/// Paging of a list call (`comments`).
#[derive(Debug, Clone, Default, Deserialize, Tsify)]
#[serde(rename_all = "camelCase")]
pub struct PageOptions {
    /// Index of the first item (default 0).
    #[tsify(optional)]
    pub start_at: Option<u32>,
    /// Page size (Jira's default when absent).
    #[tsify(optional)]
    pub max_results: Option<u32>,
}

/// JavaScript input read as a model; a wrong shape is a `config` error naming what was wrong.
fn input<T: Tsify, M>(
    value: &Ts<T>,
    what: &str,
    read: fn(&JsValue) -> Result<M, String>,
) -> Result<M, Error>
where
    T::JsType: JsCast,
{
    read(&value.js_value()).map_err(|e| Error::Config {
        message: format!("invalid {what}: {e}"),
    })
}

fn page_options(value: &JsValue) -> Result<PageOptions, String> {
    let i = shape::Input::new(value, "PageOptions")?;
    Ok(PageOptions {
        start_at: i.opt_u32("startAt")?,
        max_results: i.opt_u32("maxResults")?,
    })
}

/// Reads a 2xx body as a model: the browser's `JSON.parse`, then the model's shape.
type Read = fn(&JsValue) -> Result<JsValue, String>;

fn parse_body(response: &HttpResponse) -> Result<JsValue, Error> {
    let body = response.body.trim();
    js_sys::JSON::parse(if body.is_empty() { "null" } else { body })
        .map_err(|_| Error::invalid_response(response.status, "the response is not JSON"))
}

fn shape_error(response: &HttpResponse, e: String) -> Error {
    Error::InvalidResponse {
        status: response.status,
        detail: format!("the response does not match the expected shape: {e}"),
    }
}

fn parse<T>(response: &HttpResponse, read: fn(&JsValue) -> Result<T, String>) -> Result<T, Error> {
    read(&parse_body(response)?).map_err(|e| shape_error(response, e))
}

fn user(v: &JsValue) -> Result<JsValue, String> {
    shape::read(&shape::USER, v)
}
fn issue(v: &JsValue) -> Result<JsValue, String> {
    shape::read(&shape::ISSUE, v)
}
fn comment(v: &JsValue) -> Result<JsValue, String> {
    shape::read(&shape::COMMENT, v)
}
fn created_issue(v: &JsValue) -> Result<JsValue, String> {
    shape::read(&shape::CREATED_ISSUE, v)
}

/// A search page as the walk takes it (issues already in their JavaScript shape).
fn walk_page(response: &HttpResponse) -> Result<WalkPage<JsValue>, Error> {
    let page = parse(response, shape::search_page::<JsValue>)?;
    let (issues, next_page_token, is_last) = shape::search_page_parts(&page);
    Ok(WalkPage {
        issues,
        next_page_token,
        is_last,
    })
}

fn issue_type_page(response: &HttpResponse) -> Result<(Vec<JsValue>, u64), Error> {
    parse(response, shape::issue_type_page::<JsValue>)
}

/// A boxed future resolving to what JavaScript receives: one `future_to_promise` for all.
type JsFuture = std::pin::Pin<Box<dyn std::future::Future<Output = Result<JsValue, Error>>>>;

pub(crate) fn promise(future: JsFuture) -> js_sys::Promise {
    wasm_bindgen_futures::future_to_promise(async move { future.await.map_err(to_js) })
}

impl JiraClient {
    /// One request, one conversion (`None`: 204 No Content, resolves with `undefined`).
    fn call(&self, request: Result<JiraRequest, Error>, read: Option<Read>) -> js_sys::Promise {
        let session = self.session.clone();
        promise(Box::pin(async move {
            let response = session.send(request?).await?;
            match read {
                Some(read) => parse(&response, read),
                None => Ok(JsValue::UNDEFINED),
            }
        }))
    }
}

/// The Rust API of the calls that resolve with lists (what `wasm-bindgen` tests call).
impl JiraClient {
    /// Every issue of a search up to `limit`, walking the pages.
    pub async fn search_all(
        &self,
        params: Ts<SearchParams>,
        limit: u32,
    ) -> Result<Vec<Ts<Issue>>, JsValue> {
        list(self.search_all_js(params, limit)).await
    }

    /// The issue types that can be created in a project (for a create form).
    pub async fn issue_types(
        &self,
        project_key: String,
    ) -> Result<Vec<Ts<IssueTypeMeta>>, JsValue> {
        list(self.issue_types_js(project_key)).await
    }
}

/// The elements of the array a promise resolves with.
async fn list<T: Tsify>(promise: js_sys::Promise) -> Result<Vec<Ts<T>>, JsValue> {
    let array = wasm_bindgen_futures::JsFuture::from(promise).await?;
    Ok(array
        .elements()
        .into_iter()
        .map(Ts::new_unchecked)
        .collect())
}

#[wasm_bindgen]
impl JiraClient {
    /// The signed-in user.
    #[wasm_bindgen(unchecked_return_type = "Promise<User>")]
    pub fn myself(&self) -> js_sys::Promise {
        self.call(Ok(requests::myself()), Some(user))
    }

    /// One page of a JQL search (`/rest/api/3/search/jql`). Pass the page's `nextPageToken`
    /// back for the next page; `isLast` is true on the last one. Without `fields`, the common
    /// typed fields are returned (not Jira's `id` only).
    #[wasm_bindgen(unchecked_return_type = "Promise<SearchPage>")]
    pub fn search(&self, params: Ts<SearchParams>) -> js_sys::Promise {
        let request =
            input(&params, "search parameters", shape::search_params).map(|p| requests::search(&p));
        self.call(request, Some(shape::search_page))
    }

    /// Every issue of a search up to `limit`, walking the pages.
    #[wasm_bindgen(js_name = searchAll, unchecked_return_type = "Promise<Issue[]>")]
    pub fn search_all_js(&self, params: Ts<SearchParams>, limit: u32) -> js_sys::Promise {
        let session = self.session.clone();
        let params = input(&params, "search parameters", shape::search_params);
        promise(Box::pin(async move {
            let issues = session
                .search_all_with(params?, limit as usize, walk_page)
                .await?;
            Ok(JsValue::array(issues))
        }))
    }

    /// The issues of a search one by one, fetching pages as they are consumed and stopping
    /// after `limit` issues (no limit when absent): `for await (const issue of client.searchIter(params, 100))`.
    /// A failed page rejects that `next()`; calling `next()` again retries it.
    #[wasm_bindgen(js_name = searchIter, unchecked_return_type = "IssueIterator & AsyncIterableIterator<Issue>")]
    pub fn search_iter(
        &self,
        params: Ts<SearchParams>,
        limit: Option<u32>,
    ) -> Result<JsValue, JsValue> {
        let params = input(&params, "search parameters", shape::search_params).map_err(to_js)?;
        let limit = limit.map_or(usize::MAX, |l| l as usize);
        IssueIterator::create(self.session.clone(), SearchWalk::new(params, limit))
    }

    /// Jira's approximate count of the issues matching `jql`.
    #[wasm_bindgen(js_name = approximateCount, unchecked_return_type = "Promise<number>")]
    pub fn approximate_count(&self, jql: String) -> js_sys::Promise {
        self.call(Ok(requests::approximate_count(&jql)), Some(shape::count))
    }

    /// One issue by key or id (all fields unless `options.fields` says otherwise).
    #[wasm_bindgen(js_name = getIssue, unchecked_return_type = "Promise<Issue>")]
    pub fn get_issue(&self, key: String, options: Option<Ts<GetIssueOptions>>) -> js_sys::Promise {
        let options = options.map_or(Ok(GetIssueOptions::default()), |o| {
            input(&o, "issue options", shape::get_issue_options)
        });
        self.call(
            options.and_then(|o| requests::get_issue(&key, &o)),
            Some(issue),
        )
    }

    /// Creates an issue; `description` is plain text (sent as ADF).
    #[wasm_bindgen(js_name = createIssue, unchecked_return_type = "Promise<CreatedIssue>")]
    pub fn create_issue(&self, issue: Ts<CreateIssue>) -> js_sys::Promise {
        let request = input(&issue, "issue", shape::create_issue)
            .map(|(i, fields)| requests::create_issue_with(&i, fields.as_ref()));
        self.call(request, Some(created_issue))
    }

    /// Edits an issue; only the given fields change.
    #[wasm_bindgen(js_name = editIssue, unchecked_return_type = "Promise<void>")]
    pub fn edit_issue(&self, key: String, edit: Ts<EditIssue>) -> js_sys::Promise {
        let request = input(&edit, "issue changes", shape::edit_issue)
            .and_then(|(e, fields)| requests::edit_issue_with(&key, &e, fields.as_ref()));
        self.call(request, None)
    }

    /// The issue types that can be created in a project (for a create form).
    #[wasm_bindgen(js_name = issueTypes, unchecked_return_type = "Promise<IssueTypeMeta[]>")]
    pub fn issue_types_js(
        &self,
        #[wasm_bindgen(js_name = projectKey)] project_key: String,
    ) -> js_sys::Promise {
        let session = self.session.clone();
        promise(Box::pin(async move {
            let types = session
                .issue_types_with(&project_key, issue_type_page)
                .await?;
            Ok(JsValue::array(types))
        }))
    }

    /// A page of an issue's comments, oldest first.
    #[wasm_bindgen(unchecked_return_type = "Promise<CommentPage>")]
    pub fn comments(&self, key: String, options: Option<Ts<PageOptions>>) -> js_sys::Promise {
        let options = options.map_or(Ok(PageOptions::default()), |o| {
            input(&o, "page options", page_options)
        });
        let request = options.and_then(|o| {
            requests::comments(&key, u64::from(o.start_at.unwrap_or(0)), o.max_results)
        });
        self.call(request, Some(shape::comment_page))
    }

    /// Adds a comment made of plain `text` (blank lines separate paragraphs).
    #[wasm_bindgen(js_name = addComment, unchecked_return_type = "Promise<Comment>")]
    pub fn add_comment(&self, key: String, text: String) -> js_sys::Promise {
        self.call(requests::add_comment(&key, &text), Some(comment))
    }

    /// The transitions available on an issue now.
    #[wasm_bindgen(unchecked_return_type = "Promise<Transition[]>")]
    pub fn transitions(&self, key: String) -> js_sys::Promise {
        self.call(requests::transitions(&key), Some(shape::transitions))
    }

    /// Performs a transition (an id from `transitions(key)`).
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn transition(
        &self,
        key: String,
        #[wasm_bindgen(js_name = transitionId)] transition_id: String,
    ) -> js_sys::Promise {
        self.call(requests::transition_issue(&key, &transition_id), None)
    }

    /// A page of the projects the user can see (`startAt` / `maxResults` offset paging).
    #[wasm_bindgen(js_name = searchProjects, unchecked_return_type = "Promise<ProjectPage>")]
    pub fn search_projects(&self, search: Option<Ts<ProjectSearch>>) -> js_sys::Promise {
        let search = search.map_or(Ok(ProjectSearch::default()), |s| {
            input(&s, "project search", shape::project_search)
        });
        self.call(
            search.map(|s| requests::search_projects(&s)),
            Some(shape::project_page),
        )
    }
}

/// The plain text of an ADF document, for display (paragraphs separated by blank lines,
/// lists with markers, mentions by name). `null`/`undefined` give "".
#[wasm_bindgen(js_name = adfToText)]
pub fn adf_to_text(
    #[wasm_bindgen(unchecked_param_type = "AdfDocument | AdfNode | null | undefined")] doc: JsValue,
) -> String {
    // A document JSON cannot hold (a function inside) gives "", as before.
    shape::to_value(&doc).map_or_else(|_| String::new(), |d| adf::to_plain_text(&d))
}

/// An ADF document made of plain text: blank lines separate paragraphs, line breaks are kept.
#[wasm_bindgen(js_name = textToAdf, unchecked_return_type = "AdfDocument")]
pub fn text_to_adf(text: &str) -> Result<JsValue, JsValue> {
    Ok(adf::from_plain_text(text))
}

struct IterState {
    session: Session<BrowserPlatform>,
    walk: RefCell<SearchWalk>,
    /// The rest of the current page, last issue first (`pop` takes the next one).
    buffer: RefCell<Vec<JsValue>>,
    /// Serialises `next()` calls: a second call waits for the page the first is fetching.
    /// (An owned-guard mutex, the kind the in-context lock uses: one lock future in the wasm.)
    busy: Rc<crate::session::mutex::LocalMutex>,
    closed: Cell<bool>,
}

/// An async iterator over the issues of a search (see `JiraClient.searchIter`).
#[wasm_bindgen]
pub struct IssueIterator {
    state: Rc<IterState>,
}

/// One step of an async iterator: `{done: false, value}` or `{done: true}`.
fn step(value: Option<JsValue>) -> JsValue {
    match value {
        Some(value) => js::object(&[("done", JsValue::FALSE), ("value", value)]),
        None => js::object(&[("done", JsValue::TRUE)]),
    }
}

impl IssueIterator {
    /// The iterator as a JS object that is also async-iterable: its `[Symbol.asyncIterator]`
    /// is `Object.bind(null, it)`, which returns `it` itself (no closure to leak, no eval).
    fn create(session: Session<BrowserPlatform>, walk: SearchWalk) -> Result<JsValue, JsValue> {
        let iterator = IssueIterator {
            state: Rc::new(IterState {
                session,
                walk: RefCell::new(walk),
                buffer: RefCell::new(Vec::new()),
                busy: Default::default(),
                closed: Cell::new(false),
            }),
        };
        let js: JsValue = iterator.into();
        let object_ctor: js_sys::Function = js_sys::Object::new().constructor();
        let returns_self = object_ctor.bind1(&JsValue::NULL, &js);
        js_sys::Reflect::set(&js, &js_sys::Symbol::async_iterator(), &returns_self)?;
        Ok(js)
    }
}

#[wasm_bindgen]
impl IssueIterator {
    /// The next issue: `{done: false, value: issue}`, or `{done: true}` after the limit, the
    /// last page or `return()`.
    #[wasm_bindgen(unchecked_return_type = "Promise<IteratorResult<Issue, undefined>>")]
    pub fn next(&self) -> js_sys::Promise {
        let state = Rc::clone(&self.state);
        promise(Box::pin(async move {
            let _turn = state.busy.clone().lock_owned().await;
            loop {
                if state.closed.get() {
                    return Ok(step(None));
                }
                if let Some(issue) = state.buffer.borrow_mut().pop() {
                    return Ok(step(Some(issue)));
                }
                let Some(params) = state.walk.borrow().next_params() else {
                    return Ok(step(None));
                };
                let page = walk_page(&state.session.send(requests::search(&params)).await?)?;
                let mut issues = state.walk.borrow_mut().accept_page(page);
                // The buffer is empty here (it was drained above).
                issues.reverse();
                *state.buffer.borrow_mut() = issues;
            }
        }))
    }

    /// Ends the iteration early (what `break` in `for await` calls); no further page is fetched.
    #[wasm_bindgen(
        js_name = "return",
        unchecked_return_type = "Promise<IteratorResult<Issue, undefined>>"
    )]
    pub fn finish(&self) -> js_sys::Promise {
        self.state.closed.set(true);
        self.state.buffer.borrow_mut().clear();
        js_sys::Promise::resolve(&step(None))
    }
}
