//! The Jira calls as async methods of [`Session`]: each builds its request with
//! [`super::requests`], sends it through the session (auth, site, refresh, retries) and reads
//! the answer with [`parse`] (the JavaScript bindings send and parse the same way).
//! Jira's `ErrorCollection` answers come back as [`Error::Jira`] with `errorMessages` and `errors`.

use super::models::{
    ApproximateCount, AssignableSearch, Comment, CommentPage, CreateIssue, CreatedIssue, EditIssue,
    GetIssueOptions, Issue, IssueTypeMeta, IssueTypeMetaPage, PageBean, Project, ProjectSearch,
    SearchPage, SearchParams, Transition, User,
};
use serde::de::DeserializeOwned;

use super::paging::SearchWalk;
use super::requests;
use crate::core::api_request::JiraRequest;
use crate::core::io::HttpResponse;
use crate::core::json::decode;
use crate::session::{Platform, Session};
use crate::Error;

/// At most this many createmeta pages are read by [`Session::issue_types`] (a loop guard;
/// projects have a handful of issue types).
const MAX_ISSUE_TYPE_PAGES: usize = 20;

/// The body of `GET .../transitions`.
#[derive(serde::Deserialize)]
pub(crate) struct Transitions {
    #[serde(default)]
    pub transitions: Vec<Transition>,
}

/// Reads a 2xx JSON body as `T`; a body of another shape is [`Error::InvalidResponse`].
pub(crate) fn parse<T: DeserializeOwned>(response: &HttpResponse) -> Result<T, Error> {
    let body = response.body.trim();
    decode(if body.is_empty() { "null" } else { body }).map_err(|category| Error::InvalidResponse {
        status: response.status,
        detail: format!("the response does not match the expected shape ({category:?} error)"),
    })
}

/// `{"transitions": [...]}` → the list.
pub(crate) fn parse_transitions(response: &HttpResponse) -> Result<Vec<Transition>, Error> {
    parse::<Transitions>(response).map(|t| t.transitions)
}

/// `{"count": n}` → n.
pub(crate) fn parse_count(response: &HttpResponse) -> Result<u64, Error> {
    parse::<ApproximateCount>(response).map(|c| c.count)
}

impl<P: Platform> Session<P> {
    async fn fetch<T: DeserializeOwned>(&self, request: JiraRequest) -> Result<T, Error> {
        parse(&self.send(request).await?)
    }

    /// The signed-in user (`GET /rest/api/3/myself`).
    pub async fn myself(&self) -> Result<User, Error> {
        self.fetch(requests::myself()).await
    }

    /// One page of a JQL search: GET, or POST when the JQL is long (see [`requests::search`]).
    pub async fn search(&self, params: &SearchParams) -> Result<SearchPage, Error> {
        self.fetch(requests::search(params)).await
    }

    /// One page of a JQL search with `GET /rest/api/3/search/jql`.
    pub async fn search_get(&self, params: &SearchParams) -> Result<SearchPage, Error> {
        self.fetch(requests::search_get(params)).await
    }

    /// One page of a JQL search with `POST /rest/api/3/search/jql`.
    pub async fn search_post(&self, params: &SearchParams) -> Result<SearchPage, Error> {
        self.fetch(requests::search_post(params)).await
    }

    /// Walks the pages of a search and returns at most `limit` issues; pages are requested
    /// one after the other and no page asks for more than is still wanted.
    pub async fn search_all(
        &self,
        params: SearchParams,
        limit: usize,
    ) -> Result<Vec<Issue>, Error> {
        let mut walk = SearchWalk::new(params, limit);
        let mut issues = Vec::new();
        while let Some(params) = walk.next_params() {
            let page = parse::<SearchPage>(&self.send(requests::search(&params)).await?)?;
            issues.extend(walk.accept(page));
        }
        Ok(issues)
    }

    /// Jira's approximate number of issues matching `jql` (the search API has no totals).
    pub async fn approximate_count(&self, jql: &str) -> Result<u64, Error> {
        parse_count(&self.send(requests::approximate_count(jql)).await?)
    }

    /// One issue with all its fields.
    pub async fn get_issue(&self, key: &str) -> Result<Issue, Error> {
        self.get_issue_with(key, &GetIssueOptions::default()).await
    }

    /// One issue, with `fields` / `expand` chosen by the caller.
    pub async fn get_issue_with(
        &self,
        key: &str,
        options: &GetIssueOptions,
    ) -> Result<Issue, Error> {
        self.fetch(requests::get_issue(key, options)?).await
    }

    /// Creates an issue; a missing or invalid field is an [`Error::Jira`] whose `errors` name it.
    pub async fn create_issue(&self, issue: &CreateIssue) -> Result<CreatedIssue, Error> {
        self.fetch(requests::create_issue(issue)).await
    }

    /// Edits an issue (Jira answers 204 No Content).
    pub async fn edit_issue(&self, key: &str, edit: &EditIssue) -> Result<(), Error> {
        self.send(requests::edit_issue(key, edit)?).await.map(drop)
    }

    /// Assigns an issue (`None`: unassigns; `"-1"`: the project's default assignee); 204.
    pub async fn assign_issue(&self, key: &str, account_id: Option<&str>) -> Result<(), Error> {
        self.send(requests::assign_issue(key, account_id)?)
            .await
            .map(drop)
    }

    /// The users who can be assigned an issue (or new issues of a project), for a picker.
    pub async fn assignable_users(&self, search: &AssignableSearch) -> Result<Vec<User>, Error> {
        self.fetch(requests::assignable_users(search)?).await
    }

    /// The issue types that can be created in a project, for a create form (all pages).
    pub async fn issue_types(&self, project: &str) -> Result<Vec<IssueTypeMeta>, Error> {
        let mut types = Vec::new();
        for _ in 0..MAX_ISSUE_TYPE_PAGES {
            let request = requests::issue_types(project, types.len() as u64, None)?;
            let page = parse::<IssueTypeMetaPage>(&self.send(request).await?)?;
            let received = page.issue_types.len();
            types.extend(page.issue_types);
            if received == 0 || types.len() as u64 >= page.total {
                break;
            }
        }
        Ok(types)
    }

    /// The first page of an issue's comments, oldest first (Jira's page size).
    pub async fn comments(&self, key: &str) -> Result<CommentPage, Error> {
        self.comments_page(key, 0, None).await
    }

    /// A page of an issue's comments.
    pub async fn comments_page(
        &self,
        key: &str,
        start_at: u64,
        max_results: Option<u32>,
    ) -> Result<CommentPage, Error> {
        self.fetch(requests::comments(key, start_at, max_results)?)
            .await
    }

    /// Adds a comment whose ADF body is made of `text` (paragraphs and line breaks kept).
    pub async fn add_comment(&self, key: &str, text: &str) -> Result<Comment, Error> {
        self.fetch(requests::add_comment(key, text)?).await
    }

    /// The transitions the user can perform on the issue now.
    pub async fn transitions(&self, key: &str) -> Result<Vec<Transition>, Error> {
        parse_transitions(&self.send(requests::transitions(key)?).await?)
    }

    /// Performs a transition (Jira answers 204); one that is not allowed is an [`Error::Jira`].
    pub async fn transition_issue(&self, key: &str, transition_id: &str) -> Result<(), Error> {
        self.send(requests::transition_issue(key, transition_id)?)
            .await
            .map(drop)
    }

    /// One page of the projects the user can see (offset paging).
    pub async fn search_projects(
        &self,
        search: &ProjectSearch,
    ) -> Result<PageBean<Project>, Error> {
        self.fetch(requests::search_projects(search)).await
    }
}
