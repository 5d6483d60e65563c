//! The Jira calls of `JiraClient` for JavaScript, typed through tsify: every method resolves
//! with a model of [`crate::jira::models`] (dates as ISO strings, ADF as JSON) and rejects with
//! a `JiraError` (code `jira` with `details.errorMessages` / `details.errors` when Jira refused).
//! Also the ADF helpers and the async iterator over search results.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::Rc;

use serde::{Deserialize, Serialize};
use tsify::{Ts, Tsify};
use wasm_bindgen::prelude::*;

use super::client::JiraClient;
use super::error::to_js;
use crate::jira::models::{
    Comment, CommentPage, CreateIssue, CreatedIssue, EditIssue, GetIssueOptions, Issue,
    IssueTypeMeta, PageBean, Project, ProjectSearch, SearchPage, SearchParams, Transition, User,
};
use crate::jira::{adf, SearchWalk};
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

fn input<T>(value: Ts<T>, what: &str) -> Result<T, JsValue>
where
    T: Tsify + serde::de::DeserializeOwned,
    T::JsType: Clone,
{
    value.to_rust().map_err(|e| {
        to_js(Error::Config {
            message: format!("invalid {what}: {e}"),
        })
    })
}

fn output<T: Tsify + Serialize>(value: &T) -> Result<Ts<T>, JsValue> {
    super::types::to_ts(value)
}

fn outputs<T: Tsify + Serialize>(values: &[T]) -> Result<Vec<Ts<T>>, JsValue> {
    values.iter().map(output).collect()
}

/// Values with JSON objects inside (fields, ADF): plain objects, `null` for `None`.
fn json_compatible<T: Serialize + ?Sized>(value: &T) -> Result<JsValue, JsValue> {
    value
        .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .map_err(|e| {
            to_js(Error::InvalidResponse {
                status: 0,
                detail: format!("could not convert a value for JavaScript: {e}"),
            })
        })
}

#[wasm_bindgen]
impl JiraClient {
    /// The signed-in user.
    pub async fn myself(&self) -> Result<Ts<User>, JsValue> {
        output(&self.session.myself().await.map_err(to_js)?)
    }

    /// One page of a JQL search (`/rest/api/3/search/jql`). Pass the page's `nextPageToken`
    /// back for the next page; `isLast` is true on the last one. Without `fields`, the common
    /// typed fields are returned (not Jira's `id` only).
    pub async fn search(&self, params: Ts<SearchParams>) -> Result<Ts<SearchPage>, JsValue> {
        let params = input(params, "search parameters")?;
        output(&self.session.search(&params).await.map_err(to_js)?)
    }

    /// Every issue of a search up to `limit`, walking the pages.
    #[wasm_bindgen(js_name = searchAll)]
    pub async fn search_all(
        &self,
        params: Ts<SearchParams>,
        limit: u32,
    ) -> Result<Vec<Ts<Issue>>, JsValue> {
        let params = input(params, "search parameters")?;
        outputs(
            &self
                .session
                .search_all(params, limit as usize)
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
        let params = input(params, "search parameters")?;
        let limit = limit.map_or(usize::MAX, |l| l as usize);
        IssueIterator::create(self.session.clone(), SearchWalk::new(params, limit))
    }

    /// Jira's approximate count of the issues matching `jql`.
    #[wasm_bindgen(js_name = approximateCount)]
    pub async fn approximate_count(&self, jql: String) -> Result<f64, JsValue> {
        self.session
            .approximate_count(&jql)
            .await
            .map(|n| n as f64)
            .map_err(to_js)
    }

    /// One issue by key or id (all fields unless `options.fields` says otherwise).
    #[wasm_bindgen(js_name = getIssue)]
    pub async fn get_issue(
        &self,
        key: String,
        options: Option<Ts<GetIssueOptions>>,
    ) -> Result<Ts<Issue>, JsValue> {
        let options = match options {
            Some(options) => input(options, "issue options")?,
            None => GetIssueOptions::default(),
        };
        output(
            &self
                .session
                .get_issue_with(&key, &options)
                .await
                .map_err(to_js)?,
        )
    }

    /// Creates an issue; `description` is plain text (sent as ADF).
    #[wasm_bindgen(js_name = createIssue)]
    pub async fn create_issue(&self, issue: Ts<CreateIssue>) -> Result<Ts<CreatedIssue>, JsValue> {
        let issue = input(issue, "issue")?;
        output(&self.session.create_issue(&issue).await.map_err(to_js)?)
    }

    /// Edits an issue; only the given fields change.
    #[wasm_bindgen(js_name = editIssue)]
    pub async fn edit_issue(&self, key: String, edit: Ts<EditIssue>) -> Result<(), JsValue> {
        let edit = input(edit, "issue changes")?;
        self.session.edit_issue(&key, &edit).await.map_err(to_js)
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
                .issue_types(&project_key)
                .await
                .map_err(to_js)?,
        )
    }

    /// A page of an issue's comments, oldest first.
    pub async fn comments(
        &self,
        key: String,
        options: Option<Ts<PageOptions>>,
    ) -> Result<Ts<CommentPage>, JsValue> {
        let options = match options {
            Some(options) => input(options, "page options")?,
            None => PageOptions::default(),
        };
        let page = self
            .session
            .comments_page(
                &key,
                u64::from(options.start_at.unwrap_or(0)),
                options.max_results,
            )
            .await
            .map_err(to_js)?;
        output(&page)
    }

    /// Adds a comment made of plain `text` (blank lines separate paragraphs).
    #[wasm_bindgen(js_name = addComment)]
    pub async fn add_comment(&self, key: String, text: String) -> Result<Ts<Comment>, JsValue> {
        output(&self.session.add_comment(&key, &text).await.map_err(to_js)?)
    }

    /// The transitions available on an issue now.
    pub async fn transitions(&self, key: String) -> Result<Vec<Ts<Transition>>, JsValue> {
        outputs(&self.session.transitions(&key).await.map_err(to_js)?)
    }

    /// Performs a transition (an id from `transitions(key)`).
    pub async fn transition(
        &self,
        key: String,
        #[wasm_bindgen(js_name = transitionId)] transition_id: String,
    ) -> Result<(), JsValue> {
        self.session
            .transition_issue(&key, &transition_id)
            .await
            .map_err(to_js)
    }

    /// A page of the projects the user can see (`startAt` / `maxResults` offset paging).
    #[wasm_bindgen(js_name = searchProjects, unchecked_return_type = "ProjectPage")]
    pub async fn search_projects(
        &self,
        search: Option<Ts<ProjectSearch>>,
    ) -> Result<JsValue, JsValue> {
        let search = match search {
            Some(search) => input(search, "project search")?,
            None => ProjectSearch::default(),
        };
        let page: PageBean<Project> = self.session.search_projects(&search).await.map_err(to_js)?;
        json_compatible(&page)
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
                let page = state.session.search(&params).await.map_err(to_js)?;
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
