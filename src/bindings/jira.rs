//! The Jira calls of `JiraClient` for JavaScript, typed through tsify: every method resolves
//! with a model of [`crate::jira::models`] (dates as ISO strings, ADF as JSON) and rejects with
//! a `JiraError` (code `jira` with `details.errorMessages` / `details.errors` when Jira refused).
//! Also the ADF helpers and the async iterator over search results.
//!
//! A response is read into its model by serde (the same [`crate::jira::calls`] parser as the
//! Rust API: defaults, `null`s, the kept extra members) and handed out with
//! [`super::js::to_js`]; inputs are read into their models with [`super::js::from_js`].

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tsify::{Ts, Tsify};
use wasm_bindgen::prelude::*;

use super::client::JiraClient;
use super::error::to_js as error_to_js;
use super::js::{self, from_js, to_js};
use crate::core::api_request::JiraRequest;
use crate::core::io::HttpResponse;
use crate::jira::calls::{parse, Transitions};
use crate::jira::models::{
    ApproximateCount, AssignableSearch, Comment, CommentPage, CreateIssue, CreatedIssue, EditIssue,
    GetIssueOptions, Issue, IssueTypeMeta, PageBean, Project, ProjectSearch, SearchPage,
    SearchParams, User,
};
use crate::jira::{adf, requests, SearchWalk};
use crate::platform::BrowserPlatform;
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
/** An issue type that can be created in a project (create-issue metadata), for a create form. */
export type IssueTypeMeta = IssueType;
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

/// JavaScript input read as its model.
fn input<T: Tsify + DeserializeOwned>(value: &Ts<T>, what: &str) -> Result<T, Error>
where
    T::JsType: JsCast,
{
    from_js(value.js_value(), what)
}

/// A boxed future resolving to what JavaScript receives: one `future_to_promise` for all.
type JsFuture = std::pin::Pin<Box<dyn std::future::Future<Output = Result<JsValue, Error>>>>;

pub(crate) fn promise(future: JsFuture) -> js_sys::Promise {
    wasm_bindgen_futures::future_to_promise(async move { future.await.map_err(error_to_js) })
}

/// What JavaScript receives of a 2xx body.
type Convert = fn(&HttpResponse) -> Result<JsValue, Error>;

/// The body read as the model `T`, handed out whole.
fn model<T: DeserializeOwned + Serialize>(response: &HttpResponse) -> Result<JsValue, Error> {
    Ok(to_js(&parse::<T>(response)?))
}

/// `{"transitions": [...]}` → the list.
fn transitions(response: &HttpResponse) -> Result<JsValue, Error> {
    Ok(to_js(&parse::<Transitions>(response)?.transitions))
}

/// `{"count": n}` → n.
fn count(response: &HttpResponse) -> Result<JsValue, Error> {
    Ok(to_js(&parse::<ApproximateCount>(response)?.count))
}

impl JiraClient {
    /// One request, one conversion (`None`: 204 No Content, resolves with `undefined`). Not
    /// generic: one future for every call, the model only in `convert`.
    fn call(
        &self,
        request: Result<JiraRequest, Error>,
        convert: Option<Convert>,
    ) -> js_sys::Promise {
        let session = self.session.clone();
        promise(Box::pin(async move {
            let response = session.send(request?).await?;
            match convert {
                Some(convert) => convert(&response),
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
        .unchecked_into::<js_sys::Array>()
        .iter()
        .map(Ts::new_unchecked)
        .collect())
}

#[wasm_bindgen]
impl JiraClient {
    /// The signed-in user.
    #[wasm_bindgen(unchecked_return_type = "Promise<User>")]
    pub fn myself(&self) -> js_sys::Promise {
        self.call(Ok(requests::myself()), Some(model::<User>))
    }

    /// One page of a JQL search (`/rest/api/3/search/jql`). Pass the page's `nextPageToken`
    /// back for the next page; `isLast` is true on the last one. Without `fields`, the common
    /// typed fields are returned (not Jira's `id` only).
    #[wasm_bindgen(unchecked_return_type = "Promise<SearchPage>")]
    pub fn search(&self, params: Ts<SearchParams>) -> js_sys::Promise {
        let request = input(&params, "search parameters").map(|p| requests::search(&p));
        self.call(request, Some(model::<SearchPage>))
    }

    /// Every issue of a search up to `limit`, walking the pages.
    #[wasm_bindgen(js_name = searchAll, unchecked_return_type = "Promise<Issue[]>")]
    pub fn search_all_js(&self, params: Ts<SearchParams>, limit: u32) -> js_sys::Promise {
        let session = self.session.clone();
        let params = input(&params, "search parameters");
        promise(Box::pin(async move {
            Ok(to_js(&session.search_all(params?, limit as usize).await?))
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
        let params = input(&params, "search parameters").map_err(error_to_js)?;
        let limit = limit.map_or(usize::MAX, |l| l as usize);
        IssueIterator::create(self.session.clone(), SearchWalk::new(params, limit))
    }

    /// Jira's approximate count of the issues matching `jql`.
    #[wasm_bindgen(js_name = approximateCount, unchecked_return_type = "Promise<number>")]
    pub fn approximate_count(&self, jql: String) -> js_sys::Promise {
        self.call(Ok(requests::approximate_count(&jql)), Some(count))
    }

    /// One issue by key or id (all fields unless `options.fields` says otherwise).
    #[wasm_bindgen(js_name = getIssue, unchecked_return_type = "Promise<Issue>")]
    pub fn get_issue(&self, key: String, options: Option<Ts<GetIssueOptions>>) -> js_sys::Promise {
        let options = options.map_or(Ok(GetIssueOptions::default()), |o| {
            input(&o, "issue options")
        });
        self.call(
            options.and_then(|o| requests::get_issue(&key, &o)),
            Some(model::<Issue>),
        )
    }

    /// Creates an issue; `description` is plain text (sent as ADF).
    #[wasm_bindgen(js_name = createIssue, unchecked_return_type = "Promise<CreatedIssue>")]
    pub fn create_issue(&self, issue: Ts<CreateIssue>) -> js_sys::Promise {
        let request = input(&issue, "issue").map(|i| requests::create_issue(&i));
        self.call(request, Some(model::<CreatedIssue>))
    }

    /// Edits an issue; only the given fields change.
    #[wasm_bindgen(js_name = editIssue, unchecked_return_type = "Promise<void>")]
    pub fn edit_issue(&self, key: String, edit: Ts<EditIssue>) -> js_sys::Promise {
        let request = input(&edit, "issue changes").and_then(|e| requests::edit_issue(&key, &e));
        self.call(request, None)
    }

    /// Assigns an issue to `accountId`; `null` unassigns, `"-1"` picks the project's default.
    #[wasm_bindgen(js_name = assignIssue, unchecked_return_type = "Promise<void>")]
    pub fn assign_issue(
        &self,
        key: String,
        #[wasm_bindgen(js_name = accountId)] account_id: Option<String>,
    ) -> js_sys::Promise {
        self.call(requests::assign_issue(&key, account_id.as_deref()), None)
    }

    /// The users who can be assigned the issue `issueKey` (whose names or emails start with
    /// `query`, when given), for a picker. Positional rather than an options object: reading
    /// one costs the module more, and a popup picks for an existing issue.
    #[wasm_bindgen(js_name = assignableUsers, unchecked_return_type = "Promise<User[]>")]
    pub fn assignable_users(
        &self,
        #[wasm_bindgen(js_name = issueKey)] issue_key: String,
        query: Option<String>,
    ) -> js_sys::Promise {
        let search = AssignableSearch {
            issue_key: Some(issue_key),
            query,
            ..AssignableSearch::default()
        };
        self.call(
            requests::assignable_users(&search),
            Some(model::<Vec<User>>),
        )
    }

    /// The issue types that can be created in a project (for a create form).
    #[wasm_bindgen(js_name = issueTypes, unchecked_return_type = "Promise<IssueTypeMeta[]>")]
    pub fn issue_types_js(
        &self,
        #[wasm_bindgen(js_name = projectKey)] project_key: String,
    ) -> js_sys::Promise {
        let session = self.session.clone();
        promise(Box::pin(async move {
            Ok(to_js(&session.issue_types(&project_key).await?))
        }))
    }

    /// A page of an issue's comments, oldest first.
    #[wasm_bindgen(unchecked_return_type = "Promise<CommentPage>")]
    pub fn comments(&self, key: String, options: Option<Ts<PageOptions>>) -> js_sys::Promise {
        let options = options.map_or(Ok(PageOptions::default()), |o| input(&o, "page options"));
        let request = options.and_then(|o| {
            requests::comments(&key, u64::from(o.start_at.unwrap_or(0)), o.max_results)
        });
        self.call(request, Some(model::<CommentPage>))
    }

    /// Adds a comment made of plain `text` (blank lines separate paragraphs).
    #[wasm_bindgen(js_name = addComment, unchecked_return_type = "Promise<Comment>")]
    pub fn add_comment(&self, key: String, text: String) -> js_sys::Promise {
        self.call(requests::add_comment(&key, &text), Some(model::<Comment>))
    }

    /// The transitions available on an issue now.
    #[wasm_bindgen(unchecked_return_type = "Promise<Transition[]>")]
    pub fn transitions(&self, key: String) -> js_sys::Promise {
        self.call(requests::transitions(&key), Some(transitions))
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
            input(&s, "project search")
        });
        self.call(
            search.map(|s| requests::search_projects(&s)),
            Some(model::<PageBean<Project>>),
        )
    }
}

/// The plain text of an ADF document, for display (paragraphs separated by blank lines,
/// lists with markers, mentions by name). `null`/`undefined` give "".
#[wasm_bindgen(js_name = adfToText)]
pub fn adf_to_text(
    #[wasm_bindgen(unchecked_param_type = "AdfDocument | AdfNode | null | undefined")] doc: JsValue,
) -> String {
    // A document JSON cannot hold (a function inside) gives "".
    serde_wasm_bindgen::from_value(doc).map_or_else(|_| String::new(), |d| adf::to_plain_text(&d))
}

/// An ADF document made of plain text: blank lines separate paragraphs, line breaks are kept.
#[wasm_bindgen(js_name = textToAdf, unchecked_return_type = "AdfDocument")]
pub fn text_to_adf(text: &str) -> Result<JsValue, JsValue> {
    Ok(to_js(&adf::from_plain_text(text)))
}

struct IterState {
    session: Session<BrowserPlatform>,
    walk: RefCell<SearchWalk>,
    /// The rest of the current page, last issue first (`pop` takes the next one).
    buffer: RefCell<Vec<Issue>>,
    /// Serialises `next()` calls: a second call waits for the page the first is fetching.
    /// (An owned-guard mutex, the kind the in-context lock uses: one lock future in the wasm.)
    busy: std::sync::Arc<futures_util::lock::Mutex<()>>,
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
                    return Ok(step(Some(to_js(&issue))));
                }
                let Some(params) = state.walk.borrow().next_params() else {
                    return Ok(step(None));
                };
                let response = state.session.send(requests::search(&params)).await?;
                let page = parse::<SearchPage>(&response)?;
                let mut issues = state.walk.borrow_mut().accept(page);
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
