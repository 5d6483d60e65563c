//! The Jira calls of `JiraClient` for JavaScript, typed through tsify: every method resolves
//! with a model of [`crate::jira::models`] (dates as ISO strings, ADF as JSON) and rejects with
//! a `JiraError` (code `jira` with `details.errorMessages` / `details.errors` when Jira refused).
//! Also the ADF helpers and the async iterator over search results.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::Rc;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tsify::{Ts, Tsify};
use wasm_bindgen::prelude::*;

use super::client::JiraClient;
use super::error::to_js;
use crate::core::api_request::JiraRequest;
use crate::jira::models::{
    ApproximateCount, Comment, CommentPage, CreateIssue, CreatedIssue, EditIssue, GetIssueOptions,
    Issue, IssueTypeMeta, IssueTypeMetaPage, PageBean, Project, ProjectSearch, SearchPage,
    SearchParams, User,
};
use crate::jira::{adf, calls, requests, SearchWalk};
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

/// One step of an async iterator: `{done: false, value}` or `{done: true}`.
#[derive(Serialize)]
struct Step<'a> {
    done: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    value: Option<&'a Issue>,
}

/// JavaScript input as a model; a wrong shape is a `config` error naming what was wrong.
fn input<T>(value: Ts<T>, what: &str) -> Result<T, Error>
where
    T: Tsify + DeserializeOwned,
    T::JsType: Clone,
{
    value.to_rust().map_err(|e| Error::Config {
        message: format!("invalid {what}: {e}"),
    })
}

fn outputs<T: Tsify + Serialize>(values: &[T]) -> Result<Vec<Ts<T>>, JsValue> {
    values.iter().map(super::types::to_ts).collect()
}

/// A value as JavaScript receives it: plain objects, `null` for `None` (what the tsify types,
/// declared with `missing_as_null, hashmap_as_object`, describe).
fn json_value<T: Serialize + ?Sized>(value: &T) -> Result<JsValue, Error> {
    value
        .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .map_err(|e| Error::InvalidResponse {
            status: 0,
            detail: format!("could not convert a value for JavaScript: {e}"),
        })
}

fn json_compatible<T: Serialize + ?Sized>(value: &T) -> Result<JsValue, JsValue> {
    json_value(value).map_err(to_js)
}

/// Turns a 2xx response into what JavaScript receives.
type Convert = fn(&HttpResponse) -> Result<JsValue, Error>;

/// Reads a 2xx JSON body as `T` with the browser's `JSON.parse` and serde-wasm-bindgen: the
/// same models and checks as [`calls::parse`], without a JSON parser compiled into the wasm
/// for every model.
fn parse_js<T: DeserializeOwned>(response: &HttpResponse) -> Result<T, Error> {
    let invalid = |detail: String| Error::InvalidResponse {
        status: response.status,
        detail,
    };
    let body = response.body.trim();
    let js = js_sys::JSON::parse(if body.is_empty() { "null" } else { body })
        .map_err(|_| invalid("the response is not JSON".into()))?;
    serde_wasm_bindgen::from_value(js).map_err(|e| {
        invalid(format!(
            "the response does not match the expected shape: {e}"
        ))
    })
}

/// A parsed model, as JavaScript sees it.
fn model<T: DeserializeOwned + Serialize>(response: &HttpResponse) -> Result<JsValue, Error> {
    json_value(&parse_js::<T>(response)?)
}

/// 204 No Content.
fn nothing(_: &HttpResponse) -> Result<JsValue, Error> {
    Ok(JsValue::UNDEFINED)
}

fn transition_list(response: &HttpResponse) -> Result<JsValue, Error> {
    json_value(&parse_js::<calls::Transitions>(response)?.transitions)
}

fn count(response: &HttpResponse) -> Result<JsValue, Error> {
    parse_js::<ApproximateCount>(response).map(|c| JsValue::from_f64(c.count as f64))
}

impl JiraClient {
    /// One request, one conversion. Every single-request call goes through this one future
    /// type (instead of one async state machine per method), which keeps the wasm small.
    fn call(&self, request: Result<JiraRequest, Error>, convert: Convert) -> js_sys::Promise {
        let session = self.session.clone();
        wasm_bindgen_futures::future_to_promise(async move {
            let response = session.send(request.map_err(to_js)?).await.map_err(to_js)?;
            convert(&response).map_err(to_js)
        })
    }
}

#[wasm_bindgen]
impl JiraClient {
    /// The signed-in user.
    #[wasm_bindgen(unchecked_return_type = "Promise<User>")]
    pub fn myself(&self) -> js_sys::Promise {
        self.call(Ok(requests::myself()), model::<User>)
    }

    /// One page of a JQL search (`/rest/api/3/search/jql`). Pass the page's `nextPageToken`
    /// back for the next page; `isLast` is true on the last one. Without `fields`, the common
    /// typed fields are returned (not Jira's `id` only).
    #[wasm_bindgen(unchecked_return_type = "Promise<SearchPage>")]
    pub fn search(&self, params: Ts<SearchParams>) -> js_sys::Promise {
        let request = input(params, "search parameters").map(|p| requests::search(&p));
        self.call(request, model::<SearchPage>)
    }

    /// Every issue of a search up to `limit`, walking the pages.
    #[wasm_bindgen(js_name = searchAll)]
    pub async fn search_all(
        &self,
        params: Ts<SearchParams>,
        limit: u32,
    ) -> Result<Vec<Ts<Issue>>, JsValue> {
        let params = input(params, "search parameters").map_err(to_js)?;
        outputs(
            &self
                .session
                .search_all_with(params, limit as usize, parse_js::<SearchPage>)
                .await
                .map_err(to_js)?,
        )
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
        let params = input(params, "search parameters").map_err(to_js)?;
        let limit = limit.map_or(usize::MAX, |l| l as usize);
        IssueIterator::create(self.session.clone(), SearchWalk::new(params, limit))
    }

    /// Jira's approximate count of the issues matching `jql`.
    #[wasm_bindgen(js_name = approximateCount, unchecked_return_type = "Promise<number>")]
    pub fn approximate_count(&self, jql: String) -> js_sys::Promise {
        self.call(Ok(requests::approximate_count(&jql)), count)
    }

    /// One issue by key or id (all fields unless `options.fields` says otherwise).
    #[wasm_bindgen(js_name = getIssue, unchecked_return_type = "Promise<Issue>")]
    pub fn get_issue(&self, key: String, options: Option<Ts<GetIssueOptions>>) -> js_sys::Promise {
        let options = options.map_or(Ok(GetIssueOptions::default()), |o| {
            input(o, "issue options")
        });
        self.call(
            options.and_then(|o| requests::get_issue(&key, &o)),
            model::<Issue>,
        )
    }

    /// Creates an issue; `description` is plain text (sent as ADF).
    #[wasm_bindgen(js_name = createIssue, unchecked_return_type = "Promise<CreatedIssue>")]
    pub fn create_issue(&self, issue: Ts<CreateIssue>) -> js_sys::Promise {
        let request = input(issue, "issue").map(|i| requests::create_issue(&i));
        self.call(request, model::<CreatedIssue>)
    }

    /// Edits an issue; only the given fields change.
    #[wasm_bindgen(js_name = editIssue, unchecked_return_type = "Promise<void>")]
    pub fn edit_issue(&self, key: String, edit: Ts<EditIssue>) -> js_sys::Promise {
        let request = input(edit, "issue changes").and_then(|e| requests::edit_issue(&key, &e));
        self.call(request, nothing)
    }

    /// The issue types that can be created in a project (for a create form).
    #[wasm_bindgen(js_name = issueTypes)]
    pub async fn issue_types(
        &self,
        #[wasm_bindgen(js_name = projectKey)] project_key: String,
    ) -> Result<Vec<Ts<IssueTypeMeta>>, JsValue> {
        outputs(
            &self
                .session
                .issue_types_with(&project_key, parse_js::<IssueTypeMetaPage>)
                .await
                .map_err(to_js)?,
        )
    }

    /// A page of an issue's comments, oldest first.
    #[wasm_bindgen(unchecked_return_type = "Promise<CommentPage>")]
    pub fn comments(&self, key: String, options: Option<Ts<PageOptions>>) -> js_sys::Promise {
        let options = options.map_or(Ok(PageOptions::default()), |o| input(o, "page options"));
        let request = options.and_then(|o| {
            requests::comments(&key, u64::from(o.start_at.unwrap_or(0)), o.max_results)
        });
        self.call(request, model::<CommentPage>)
    }

    /// Adds a comment made of plain `text` (blank lines separate paragraphs).
    #[wasm_bindgen(js_name = addComment, unchecked_return_type = "Promise<Comment>")]
    pub fn add_comment(&self, key: String, text: String) -> js_sys::Promise {
        self.call(requests::add_comment(&key, &text), model::<Comment>)
    }

    /// The transitions available on an issue now.
    #[wasm_bindgen(unchecked_return_type = "Promise<Transition[]>")]
    pub fn transitions(&self, key: String) -> js_sys::Promise {
        self.call(requests::transitions(&key), transition_list)
    }

    /// Performs a transition (an id from `transitions(key)`).
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn transition(
        &self,
        key: String,
        #[wasm_bindgen(js_name = transitionId)] transition_id: String,
    ) -> js_sys::Promise {
        self.call(requests::transition_issue(&key, &transition_id), nothing)
    }

    /// A page of the projects the user can see (`startAt` / `maxResults` offset paging).
    #[wasm_bindgen(js_name = searchProjects, unchecked_return_type = "Promise<ProjectPage>")]
    pub fn search_projects(&self, search: Option<Ts<ProjectSearch>>) -> js_sys::Promise {
        let search = search.map_or(Ok(ProjectSearch::default()), |s| input(s, "project search"));
        self.call(
            search.map(|s| requests::search_projects(&s)),
            model::<PageBean<Project>>,
        )
    }
}

/// The plain text of an ADF document, for display (paragraphs separated by blank lines,
/// lists with markers, mentions by name). `null`/`undefined` give "".
#[wasm_bindgen(js_name = adfToText)]
pub fn adf_to_text(
    #[wasm_bindgen(unchecked_param_type = "AdfDocument | AdfNode | null | undefined")] doc: JsValue,
) -> String {
    let value: serde_json::Value =
        serde_wasm_bindgen::from_value(doc).unwrap_or(serde_json::Value::Null);
    adf::to_plain_text(&value)
}

/// An ADF document made of plain text: blank lines separate paragraphs, line breaks are kept.
#[wasm_bindgen(js_name = textToAdf, unchecked_return_type = "AdfDocument")]
pub fn text_to_adf(text: &str) -> Result<JsValue, JsValue> {
    json_compatible(&adf::from_plain_text(text))
}

struct IterState {
    session: Session<BrowserPlatform>,
    walk: RefCell<SearchWalk>,
    buffer: RefCell<VecDeque<Issue>>,
    /// Serialises `next()` calls: a second call waits for the page the first is fetching.
    busy: futures_util::lock::Mutex<()>,
    closed: Cell<bool>,
}

/// An async iterator over the issues of a search (see `JiraClient.searchIter`).
#[wasm_bindgen]
pub struct IssueIterator {
    state: Rc<IterState>,
}

impl IssueIterator {
    /// The iterator as a JS object that is also async-iterable: its `[Symbol.asyncIterator]`
    /// is `Object.bind(null, it)`, which returns `it` itself (no closure to leak, no eval).
    fn create(session: Session<BrowserPlatform>, walk: SearchWalk) -> Result<JsValue, JsValue> {
        let iterator = IssueIterator {
            state: Rc::new(IterState {
                session,
                walk: RefCell::new(walk),
                buffer: RefCell::new(VecDeque::new()),
                busy: futures_util::lock::Mutex::new(()),
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
        wasm_bindgen_futures::future_to_promise(async move {
            let _turn = state.busy.lock().await;
            loop {
                if state.closed.get() {
                    return json_compatible(&Step {
                        done: true,
                        value: None,
                    });
                }
                if let Some(issue) = state.buffer.borrow_mut().pop_front() {
                    return json_compatible(&Step {
                        done: false,
                        value: Some(&issue),
                    });
                }
                let Some(params) = state.walk.borrow().next_params() else {
                    return json_compatible(&Step {
                        done: true,
                        value: None,
                    });
                };
                let response = state.session.send(requests::search(&params)).await;
                let page = parse_js::<SearchPage>(&response.map_err(to_js)?).map_err(to_js)?;
                let issues = state.walk.borrow_mut().accept(page);
                state.buffer.borrow_mut().extend(issues);
            }
        })
    }

    /// Ends the iteration early (what `break` in `for await` calls); no further page is fetched.
    #[wasm_bindgen(
        js_name = "return",
        unchecked_return_type = "Promise<IteratorResult<Issue, undefined>>"
    )]
    pub fn finish(&self) -> js_sys::Promise {
        self.state.closed.set(true);
        self.state.buffer.borrow_mut().clear();
        js_sys::Promise::resolve(
            &json_compatible(&Step {
                done: true,
                value: None,
            })
            .unwrap_or(JsValue::UNDEFINED),
        )
    }
}
