//! Walking `nextPageToken` pages of a JQL search up to a caller's limit, as a pure state
//! machine: the Rust `search_all` loop and the JavaScript async iterator both drive it, so the
//! stopping rules live in one place and are unit-tested without I/O.

use super::models::{Issue, SearchPage, SearchParams};
use super::requests::DEFAULT_WALK_PAGE_SIZE;

/// The state of a search walk. Call [`next_params`](Self::next_params), send that search,
/// feed the page to [`accept`](Self::accept); repeat until `next_params` is `None`.
#[derive(Debug, Clone)]
pub struct SearchWalk {
    params: SearchParams,
    page_size: u32,
    remaining: usize,
    done: bool,
}

impl SearchWalk {
    /// At most `limit` issues in total. `params.max_results` is the page size
    /// (default [`DEFAULT_WALK_PAGE_SIZE`]); `params.next_page_token`, if set, is where to start.
    pub fn new(params: SearchParams, limit: usize) -> Self {
        let page_size = params
            .max_results
            .filter(|n| *n > 0)
            .unwrap_or(DEFAULT_WALK_PAGE_SIZE);
        SearchWalk {
            params,
            page_size,
            remaining: limit,
            done: limit == 0,
        }
    }

    /// The parameters of the next page to fetch, or `None` when the walk is over. A page never
    /// asks for more issues than are still wanted.
    pub fn next_params(&self) -> Option<SearchParams> {
        if self.done || self.remaining == 0 {
            return None;
        }
        let mut params = self.params.clone();
        params.max_results = Some(
            self.page_size
                .min(u32::try_from(self.remaining).unwrap_or(u32::MAX)),
        );
        Some(params)
    }

    /// Takes a fetched page: returns its issues (cut to the limit) and moves the cursor.
    /// The walk ends on the last page, at the limit, on an empty page, or when Jira hands
    /// back the token it was just given (a loop guard: a walk always terminates).
    pub fn accept(&mut self, page: SearchPage) -> Vec<Issue> {
        let mut issues = page.issues;
        issues.truncate(self.remaining);
        self.remaining -= issues.len();
        let next = page.next_page_token.filter(|t| !t.is_empty());
        let stuck = next.is_some() && next == self.params.next_page_token;
        if page.is_last || next.is_none() || issues.is_empty() || stuck || self.remaining == 0 {
            self.done = true;
        }
        self.params.next_page_token = next;
        issues
    }

    /// True once no further page will be requested.
    pub fn is_done(&self) -> bool {
        self.done || self.remaining == 0
    }
}

/// Normalises a search page: an empty token is no token, and a page without a token is last.
pub(crate) fn normalize(mut page: SearchPage) -> SearchPage {
    page.next_page_token = page.next_page_token.filter(|t| !t.is_empty());
    if page.next_page_token.is_none() {
        page.is_last = true;
    }
    page
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jira::models::IssueFields;

    fn issues(from: usize, n: usize) -> Vec<Issue> {
        (from..from + n)
            .map(|i| Issue {
                id: i.to_string(),
                key: format!("A-{i}"),
                self_url: None,
                fields: IssueFields::default(),
                extra: Default::default(),
            })
            .collect()
    }

    fn page(from: usize, n: usize, token: Option<&str>) -> SearchPage {
        normalize(SearchPage {
            issues: issues(from, n),
            next_page_token: token.map(str::to_string),
            is_last: false,
            names: None,
        })
    }

    #[test]
    fn walks_pages_until_the_limit_and_asks_only_for_what_is_left() {
        let mut walk = SearchWalk::new(
            SearchParams {
                max_results: Some(50),
                ..SearchParams::new("project = A")
            },
            120,
        );
        let p = walk.next_params().unwrap();
        assert_eq!(
            (p.max_results, p.next_page_token.as_deref()),
            (Some(50), None)
        );
        assert_eq!(walk.accept(page(0, 50, Some("t1"))).len(), 50);
        let p = walk.next_params().unwrap();
        assert_eq!(
            (p.max_results, p.next_page_token.as_deref()),
            (Some(50), Some("t1"))
        );
        assert_eq!(walk.accept(page(50, 50, Some("t2"))).len(), 50);
        let p = walk.next_params().unwrap();
        assert_eq!(
            (p.max_results, p.next_page_token.as_deref()),
            (Some(20), Some("t2"))
        );
        // A server that ignores maxResults still cannot push the walk past the limit.
        let last = walk.accept(page(100, 50, Some("t3")));
        assert_eq!(last.len(), 20);
        assert_eq!(last[19].key, "A-119");
        assert!(walk.is_done() && walk.next_params().is_none());
    }

    #[test]
    fn stops_on_the_last_page_an_empty_page_or_a_repeated_token() {
        let mut walk = SearchWalk::new(SearchParams::new("x"), 1000);
        assert_eq!(
            walk.next_params().unwrap().max_results,
            Some(DEFAULT_WALK_PAGE_SIZE)
        );
        walk.accept(page(0, 3, None));
        assert!(walk.next_params().is_none());

        let mut walk = SearchWalk::new(SearchParams::new("x"), 1000);
        walk.accept(page(0, 0, Some("t")));
        assert!(walk.next_params().is_none(), "empty page ends the walk");

        let mut walk = SearchWalk::new(SearchParams::new("x"), 1000);
        walk.accept(page(0, 2, Some("same")));
        assert!(walk.next_params().is_some());
        walk.accept(page(2, 2, Some("same")));
        assert!(
            walk.next_params().is_none(),
            "a token handed back unchanged ends the walk"
        );

        let mut walk = SearchWalk::new(SearchParams::new("x"), 1000);
        let mut p = page(0, 2, Some("t"));
        p.is_last = true;
        walk.accept(p);
        assert!(walk.is_done());

        assert!(SearchWalk::new(SearchParams::new("x"), 0)
            .next_params()
            .is_none());
    }

    #[test]
    fn normalize_marks_tokenless_pages_last() {
        assert!(page(0, 1, None).is_last);
        assert!(page(0, 1, Some("")).is_last);
        assert!(!page(0, 1, Some("t")).is_last);
    }
}
