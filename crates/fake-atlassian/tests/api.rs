//! api.atlassian.com behaviour over real HTTP: the gateway (tokens, sites, scopes, CORS, rate
//! limit), accessible-resources, /me and the Jira REST subset with its JQL.

mod common;

use std::collections::HashSet;

use common::*;
use reqwest::StatusCode;
use serde_json::{json, Value};

const ALL_SCOPES: &str =
    "read:jira-work write:jira-work read:jira-user manage:jira-project read:me offline_access read:confluence-content.all";

// ---------- gateway ----------

#[tokio::test]
async fn accessible_resources_lists_duplicate_ids_with_product_scopes() {
    let env = start().await;
    let t = env.sign_in(ALL_SCOPES).await;
    let (status, list) = json_of(
        env.get(&t.access, "/oauth/token/accessible-resources")
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 3, "{list:?}");
    let acme: Vec<&Value> = list.iter().filter(|r| r["id"] == ACME).collect();
    assert_eq!(acme.len(), 2, "acme appears once per product");
    let scopes: Vec<Vec<String>> = acme
        .iter()
        .map(|r| {
            r["scopes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s.as_str().unwrap().to_string())
                .collect()
        })
        .collect();
    assert!(scopes
        .iter()
        .any(|s| s == &vec!["read:confluence-content.all".to_string()]));
    assert!(scopes
        .iter()
        .any(|s| s.contains(&"read:jira-work".to_string())
            && !s.contains(&"offline_access".to_string())));
    for r in list {
        assert!(
            r["url"].as_str().unwrap().starts_with("https://")
                && r["url"].as_str().unwrap().ends_with(".atlassian.net")
        );
        assert!(r["name"].is_string() && r["avatarUrl"].is_string());
    }
    assert!(list
        .iter()
        .any(|r| r["id"] == INITECH && r["url"] == "https://initech.atlassian.net"));

    // Without a Confluence scope, no Confluence entry.
    let jira_only = env.sign_in(SCOPES).await;
    let (_, list) = json_of(
        env.get(&jira_only.access, "/oauth/token/accessible-resources")
            .await,
    )
    .await;
    assert_eq!(list.as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn bob_has_exactly_one_site() {
    let env = start().await;
    env.admin("/__admin/settings", json!({"consent_user": "bob"}))
        .await;
    let t = env.sign_in(ALL_SCOPES).await;
    let (_, list) = json_of(
        env.get(&t.access, "/oauth/token/accessible-resources")
            .await,
    )
    .await;
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["id"], GLOBEX);
    assert_eq!(list[0]["url"], "https://globex.atlassian.net");
}

#[tokio::test]
async fn me_needs_read_me() {
    let env = start().await;
    let t = env.sign_in(SCOPES).await;
    let (status, me) = json_of(env.get(&t.access, "/me").await).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["account_id"], fake_atlassian::ids::ALICE_ACCOUNT_ID);
    for k in [
        "account_type",
        "email",
        "name",
        "picture",
        "account_status",
        "nickname",
        "zoneinfo",
        "locale",
        "extended_profile",
    ] {
        assert!(me.get(k).is_some(), "{k}");
    }
    let no_me = env.sign_in("read:jira-work").await;
    let (status, body) = json_of(env.get(&no_me.access, "/me").await).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        body,
        json!({"code": 401, "message": "Unauthorized; scope does not match"})
    );
}

#[tokio::test]
async fn missing_scope_is_the_gateway_401() {
    let env = start().await;
    let read_only = env.sign_in("read:jira-work").await;
    let write_only = env.sign_in("write:jira-work").await;
    let scope_401 = json!({"code": 401, "message": "Unauthorized; scope does not match"});
    let checks = [
        (
            env.get(&read_only.access, &jira(ACME, "/myself")).await,
            &scope_401,
        ),
        (
            env.post(
                &read_only.access,
                &jira(ACME, "/issue/PLAT-1/comment"),
                json!({"body": adf("x")}),
            )
            .await,
            &scope_401,
        ),
        (
            env.post(
                &read_only.access,
                &jira(ACME, "/issue/PLAT-1/transitions"),
                json!({"transition": {"id": "31"}}),
            )
            .await,
            &scope_401,
        ),
        (
            env.post(&read_only.access, &jira(ACME, "/issue"), json!({}))
                .await,
            &scope_401,
        ),
        (
            env.put(&read_only.access, &jira(ACME, "/issue/PLAT-1"), json!({}))
                .await,
            &scope_401,
        ),
        (
            env.get(
                &write_only.access,
                &jira(ACME, "/search/jql?jql=project%3DPLAT"),
            )
            .await,
            &scope_401,
        ),
        (
            env.get(&write_only.access, &jira(ACME, "/issue/PLAT-1"))
                .await,
            &scope_401,
        ),
        (
            env.get(&write_only.access, &jira(ACME, "/issue/PLAT-1/transitions"))
                .await,
            &scope_401,
        ),
        (
            env.get(&write_only.access, &jira(ACME, "/project/search"))
                .await,
            &scope_401,
        ),
    ];
    for (resp, expected) in checks {
        let url = resp.url().to_string();
        let (status, body) = json_of(resp).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{url}");
        assert_eq!(&body, expected, "{url}");
    }
    // And with the scope, the same calls pass the gateway.
    assert_eq!(
        env.get_status(&read_only.access, &jira(ACME, "/issue/PLAT-1"))
            .await,
        StatusCode::OK
    );
}

#[tokio::test]
async fn garbage_missing_and_expired_tokens_are_401_unauthorized() {
    let env = start().await;
    let unauthorized = json!({"code": 401, "message": "Unauthorized"});
    let (status, body) = json_of(env.get("garbage", &jira(ACME, "/myself")).await).await;
    assert_eq!((status, &body), (StatusCode::UNAUTHORIZED, &unauthorized));
    let resp = env
        .http
        .get(env.url(&jira(ACME, "/myself")))
        .send()
        .await
        .unwrap();
    assert_eq!(
        json_of(resp).await,
        (StatusCode::UNAUTHORIZED, unauthorized.clone())
    );
    let basic = env
        .http
        .get(env.url("/oauth/token/accessible-resources"))
        .basic_auth("a", Some("b"))
        .send()
        .await
        .unwrap();
    assert_eq!(basic.status(), StatusCode::UNAUTHORIZED);
    let t = env.sign_in(SCOPES).await;
    env.advance(3600).await;
    assert_eq!(
        json_of(
            env.get(&t.access, "/oauth/token/accessible-resources")
                .await
        )
        .await,
        (StatusCode::UNAUTHORIZED, unauthorized)
    );
}

#[tokio::test]
async fn cloud_id_outside_the_grant_is_404_gateway_shape() {
    let env = start().await;
    let t = env.sign_in(SCOPES).await;
    for cloud in [GLOBEX, "00000000-0000-4000-8000-000000000000"] {
        let (status, body) = json_of(env.get(&t.access, &jira(cloud, "/myself")).await).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(body, json!({"code": 404, "message": "Not Found"}));
    }
    assert_eq!(env.myself_status(&t, INITECH).await, StatusCode::OK);
}

#[tokio::test]
async fn cors_like_api_atlassian_com() {
    let env = start().await;
    let t = env.sign_in(SCOPES).await;
    let origin = "chrome-extension://abcdefghijklmnopabcdefghijklmnop";
    let resp = env
        .http
        .get(env.url(&jira(ACME, "/myself")))
        .bearer_auth(&t.access)
        .header("origin", origin)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["access-control-allow-origin"], origin);
    let expose = resp.headers()["access-control-expose-headers"]
        .to_str()
        .unwrap()
        .to_lowercase();
    assert!(expose.contains("retry-after") && expose.contains("x-ratelimit-remaining"));
    // Errors carry CORS too, so a browser can read a 401.
    let resp = env
        .http
        .get(env.url(&jira(ACME, "/myself")))
        .header("origin", origin)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(resp.headers()["access-control-allow-origin"], origin);
    // Preflight.
    let pre = env
        .http
        .request(
            reqwest::Method::OPTIONS,
            env.url(&jira(ACME, "/issue/PLAT-1")),
        )
        .header("origin", origin)
        .header("access-control-request-method", "PUT")
        .header(
            "access-control-request-headers",
            "authorization,content-type",
        )
        .send()
        .await
        .unwrap();
    assert!(pre.status().is_success());
    assert_eq!(pre.headers()["access-control-allow-origin"], origin);
    let allowed = pre.headers()["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_lowercase();
    assert!(allowed.contains("authorization") && allowed.contains("content-type"));
    assert!(pre.headers()["access-control-allow-methods"]
        .to_str()
        .unwrap()
        .contains("PUT"));
    let stats = env.stats().await;
    assert_eq!(
        stats["preflights"]["OPTIONS /ex/jira/{cloudId}/rest/api/3/issue/{issueIdOrKey}"],
        1
    );
    assert!(stats["requests"]
        .get("OPTIONS /ex/jira/{cloudId}/rest/api/3/issue/{issueIdOrKey}")
        .is_none());
    // The token endpoint is server-to-server: no CORS.
    let tok = env
        .http
        .post(env.url("/oauth/token"))
        .header("origin", origin)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert!(tok.headers().get("access-control-allow-origin").is_none());
}

#[tokio::test]
async fn rate_limit_429_with_retry_after_then_recovers_by_the_clock() {
    let env = start().await;
    let t = env.sign_in(SCOPES).await;
    env.admin(
        "/__admin/settings",
        json!({"rate_limit_budget": 3, "rate_limit_window_secs": 60}),
    )
    .await;
    let myself = jira(ACME, "/myself");
    for left in [2, 1, 0] {
        let resp = env.get(&t.access, &myself).await;
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(resp.headers()["x-ratelimit-limit"], "3");
        assert_eq!(
            resp.headers()["x-ratelimit-remaining"],
            left.to_string().as_str()
        );
    }
    let resp = env.get(&t.access, &myself).await;
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = resp.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    assert_eq!(resp.headers()["x-ratelimit-remaining"], "0");
    let reset = resp.headers()["x-ratelimit-reset"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        reset.len() == 17 && reset.ends_with('Z') && reset.contains('T'),
        "{reset}"
    );
    let (_, body) = json_of(resp).await;
    assert!(body["errorMessages"].is_array());
    // Still limited until the window ends, then the budget is back.
    assert_eq!(
        env.get_status(&t.access, &myself).await,
        StatusCode::TOO_MANY_REQUESTS
    );
    env.advance(retry).await;
    assert_eq!(env.get_status(&t.access, &myself).await, StatusCode::OK);
    // Lifting the limit.
    env.admin("/__admin/settings", json!({"rate_limit_budget": null}))
        .await;
    for _ in 0..5 {
        let resp = env.get(&t.access, &myself).await;
        assert_eq!(resp.status(), StatusCode::OK);
        assert!(resp.headers().get("x-ratelimit-limit").is_none());
    }
}

// ---------- Jira ----------

fn adf(text: &str) -> Value {
    json!({"type": "doc", "version": 1, "content": [{"type": "paragraph", "content": [{"type": "text", "text": text}]}]})
}

#[tokio::test]
async fn myself_is_the_consenting_user() {
    let env = start().await;
    let t = env.sign_in(SCOPES).await;
    let (status, me) = json_of(env.get(&t.access, &jira(ACME, "/myself")).await).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["accountId"], fake_atlassian::ids::ALICE_ACCOUNT_ID);
    assert_eq!(me["displayName"], "Alice Anderson");
    assert_eq!(me["active"], true);
    assert!(me["avatarUrls"]["48x48"].is_string());
    assert!(me["self"]
        .as_str()
        .unwrap()
        .starts_with(&env.url(&jira(ACME, "/user"))));
}

/// Walks every page of a search; returns the issues and the number of pages.
async fn walk(
    env: &Env,
    token: &str,
    jql: &str,
    max: u32,
    fields: &str,
    post: bool,
) -> (Vec<Value>, usize) {
    let mut issues = Vec::new();
    let mut next: Option<String> = None;
    let mut pages = 0;
    loop {
        pages += 1;
        assert!(pages < 100, "paging must end");
        let resp = if post {
            let mut body = json!({"jql": jql, "maxResults": max, "fields": fields.split(',').collect::<Vec<_>>()});
            if let Some(n) = &next {
                body["nextPageToken"] = json!(n);
            }
            env.post(token, &jira(ACME, "/search/jql"), body).await
        } else {
            let mut u = url::Url::parse(&env.url(&jira(ACME, "/search/jql"))).unwrap();
            u.query_pairs_mut()
                .append_pair("jql", jql)
                .append_pair("maxResults", &max.to_string())
                .append_pair("fields", fields);
            if let Some(n) = &next {
                u.query_pairs_mut().append_pair("nextPageToken", n);
            }
            env.http.get(u).bearer_auth(token).send().await.unwrap()
        };
        let (status, body) = json_of(resp).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert!(
            body.get("total").is_none() && body.get("startAt").is_none(),
            "no totals on search/jql"
        );
        let page = body["issues"].as_array().unwrap();
        assert!(page.len() <= max as usize);
        issues.extend(page.iter().cloned());
        if body["isLast"] == true {
            assert!(body.get("nextPageToken").is_none());
            return (issues, pages);
        }
        next = Some(body["nextPageToken"].as_str().unwrap().to_string());
    }
}

#[tokio::test]
async fn search_pages_with_next_page_token_get_and_post() {
    let env = start().await;
    let t = env.sign_in(SCOPES).await;
    let (all, pages) = walk(
        &env,
        &t.access,
        "project = PLAT ORDER BY key ASC",
        100,
        "summary,status",
        false,
    )
    .await;
    assert!(all.len() >= 250);
    assert_eq!(pages, all.len().div_ceil(100));
    let keys: Vec<&str> = all.iter().map(|i| i["key"].as_str().unwrap()).collect();
    assert_eq!(
        keys.iter().collect::<HashSet<_>>().len(),
        keys.len(),
        "no duplicates across pages"
    );
    assert_eq!(keys[0], "PLAT-1");
    assert_eq!(keys[1], "PLAT-2");
    let (same, _) = walk(
        &env,
        &t.access,
        "project = PLAT ORDER BY key ASC",
        100,
        "summary,status",
        true,
    )
    .await;
    assert_eq!(same, all, "POST pages like GET");
    let (default_page, pages) = walk(&env, &t.access, "project = PLAT", 50, "summary", true).await;
    assert_eq!(default_page.len(), all.len());
    assert_eq!(pages, all.len().div_ceil(50));
}

#[tokio::test]
async fn search_shapes_fields_and_max_results() {
    let env = start().await;
    let t = env.sign_in(SCOPES).await;
    // Default fields: ids only.
    let (_, body) = json_of(
        env.get(
            &t.access,
            &jira(ACME, "/search/jql?jql=project%20%3D%20WEB"),
        )
        .await,
    )
    .await;
    let issues = body["issues"].as_array().unwrap();
    assert_eq!(issues.len(), 36);
    assert_eq!(
        issues[0].as_object().unwrap().keys().collect::<Vec<_>>(),
        vec!["id"]
    );
    assert_eq!(body["isLast"], true);
    // Requested fields, and only those.
    let (_, body) = json_of(
        env.get(
            &t.access,
            &jira(
                ACME,
                "/search/jql?jql=project%3DWEB&fields=summary,status,assignee&maxResults=5",
            ),
        )
        .await,
    )
    .await;
    let issues = body["issues"].as_array().unwrap();
    assert_eq!(issues.len(), 5);
    let fields = issues[0]["fields"].as_object().unwrap();
    let mut names: Vec<&str> = fields.keys().map(String::as_str).collect();
    names.sort();
    assert_eq!(names, vec!["assignee", "status", "summary"]);
    let status = &issues[0]["fields"]["status"];
    assert!(status["name"].is_string());
    assert!(["new", "indeterminate", "done"]
        .contains(&status["statusCategory"]["key"].as_str().unwrap()));
    assert!(
        status["statusCategory"]["colorName"].is_string()
            && status["statusCategory"]["name"].is_string()
    );
    assert!(issues[0]["key"].as_str().unwrap().starts_with("WEB-"));
    assert!(issues[0]["self"]
        .as_str()
        .unwrap()
        .starts_with(&env.url(&jira(ACME, "/issue/"))));
    // *all brings everything a popup shows.
    let (_, body) = json_of(
        env.get(
            &t.access,
            &jira(ACME, "/search/jql?jql=key%3DPLAT-1&fields=*all"),
        )
        .await,
    )
    .await;
    let f = &body["issues"][0]["fields"];
    for k in [
        "summary",
        "status",
        "assignee",
        "reporter",
        "priority",
        "issuetype",
        "project",
        "created",
        "updated",
        "labels",
        "description",
    ] {
        assert!(f.get(k).is_some(), "{k}");
    }
    assert!(f["created"].as_str().unwrap().ends_with(".000+0000"));
    assert_eq!(f["project"]["key"], "PLAT");
}

#[tokio::test]
async fn jql_subset_filters_correctly() {
    let env = start().await;
    let t = env.sign_in(SCOPES).await;
    let fields = "summary,status,assignee,project,labels";
    let (plat, _) = walk(&env, &t.access, "project = PLAT", 100, fields, true).await;
    let (everything, _) = walk(&env, &t.access, "project is not EMPTY", 100, fields, true).await;
    let alice = fake_atlassian::ids::ALICE_ACCOUNT_ID;
    let is_mine = |i: &Value| i["fields"]["assignee"]["accountId"] == alice;
    let category = |i: &Value| {
        i["fields"]["status"]["statusCategory"]["key"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let count = |pred: &dyn Fn(&Value) -> bool| everything.iter().filter(|i| pred(i)).count();

    let (mine_open, _) = walk(
        &env,
        &t.access,
        "assignee = currentUser() AND statusCategory != Done ORDER BY updated DESC",
        100,
        fields,
        false,
    )
    .await;
    assert!(mine_open.len() > 50, "a useful list: {}", mine_open.len());
    assert_eq!(
        mine_open.len(),
        count(&|i| is_mine(i) && category(i) != "done")
    );
    assert!(mine_open
        .iter()
        .all(|i| is_mine(i) && category(i) != "done"));

    let (in_progress, _) = walk(
        &env,
        &t.access,
        "project = PLAT AND status = \"In Progress\"",
        100,
        fields,
        false,
    )
    .await;
    assert_eq!(
        in_progress.len(),
        plat.iter()
            .filter(|i| i["fields"]["status"]["name"] == "In Progress")
            .count()
    );
    assert!(!in_progress.is_empty());

    let (done_or_web, _) = walk(
        &env,
        &t.access,
        "statusCategory = Done OR project = WEB",
        100,
        fields,
        false,
    )
    .await;
    assert_eq!(
        done_or_web.len(),
        count(&|i| category(i) == "done" || i["fields"]["project"]["key"] == "WEB")
    );

    let word = plat[0]["fields"]["summary"]
        .as_str()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .to_lowercase();
    let (text, _) = walk(
        &env,
        &t.access,
        &format!("project = PLAT AND summary ~ \"{word}\""),
        100,
        fields,
        false,
    )
    .await;
    let expected = plat
        .iter()
        .filter(|i| {
            i["fields"]["summary"]
                .as_str()
                .unwrap()
                .to_lowercase()
                .contains(&word)
        })
        .count();
    assert_eq!(text.len(), expected);
    assert!(!text.is_empty());
    let (full_text, _) = walk(
        &env,
        &t.access,
        &format!("project = PLAT AND text ~ \"{word}\""),
        100,
        fields,
        false,
    )
    .await;
    assert!(full_text.len() >= text.len());

    // ORDER BY created ASC is ascending by the created field.
    let (by_created, _) = walk(
        &env,
        &t.access,
        "project = WEB ORDER BY created ASC",
        100,
        "created",
        true,
    )
    .await;
    let times: Vec<&str> = by_created
        .iter()
        .map(|i| i["fields"]["created"].as_str().unwrap())
        .collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]));
    let (by_key_desc, _) = walk(
        &env,
        &t.access,
        "project = WEB ORDER BY key DESC",
        100,
        "summary",
        true,
    )
    .await;
    assert_eq!(by_key_desc[0]["key"], "WEB-36");
}

#[tokio::test]
async fn bad_jql_is_400_error_collection() {
    let env = start().await;
    let t = env.sign_in(SCOPES).await;
    for jql in [
        "project = ",
        "project = NOSUCH",
        "nosuchfield = 1",
        "project = PLAT ORDER BY",
        "status = \"Sleeping\"",
        "ORDER BY key DESC",
        "",
        "project ~ PLAT",
        "assignee = somebody()",
    ] {
        let (status, body) = json_of(
            env.post(&t.access, &jira(ACME, "/search/jql"), json!({"jql": jql}))
                .await,
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{jql}");
        assert!(
            !body["errorMessages"].as_array().unwrap().is_empty(),
            "{jql}"
        );
        assert!(body["errors"].is_object(), "{jql}");
    }
    let (_, body) = json_of(
        env.post(
            &t.access,
            &jira(ACME, "/search/jql"),
            json!({"jql": "order by key desc"}),
        )
        .await,
    )
    .await;
    assert!(body["errorMessages"][0]
        .as_str()
        .unwrap()
        .contains("Unbounded"));
    let (status, _) = json_of(
        env.post(
            &t.access,
            &jira(ACME, "/search/jql"),
            json!({"jql": "project = PLAT", "nextPageToken": "bogus"}),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn approximate_count_matches_search() {
    let env = start().await;
    let t = env.sign_in(SCOPES).await;
    let (all, _) = walk(
        &env,
        &t.access,
        "assignee = currentUser() AND statusCategory != Done",
        100,
        "summary",
        true,
    )
    .await;
    let (status, body) = json_of(
        env.post(
            &t.access,
            &jira(ACME, "/search/approximate-count"),
            json!({"jql": "assignee = currentUser() AND statusCategory != Done"}),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["count"], all.len());
    let (status, _) = json_of(
        env.post(
            &t.access,
            &jira(ACME, "/search/approximate-count"),
            json!({"jql": "order by key"}),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn removed_search_endpoint_is_410() {
    let env = start().await;
    let t = env.sign_in(SCOPES).await;
    let (status, body) = json_of(
        env.get(&t.access, &jira(ACME, "/search?jql=project%3DPLAT"))
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::GONE);
    assert!(body["errorMessages"][0]
        .as_str()
        .unwrap()
        .contains("/rest/api/3/search/jql"));
}

#[tokio::test]
async fn get_issue_by_key_or_id_and_404() {
    let env = start().await;
    let t = env.sign_in(SCOPES).await;
    let (status, issue) = json_of(env.get(&t.access, &jira(ACME, "/issue/PLAT-3")).await).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(issue["key"], "PLAT-3");
    let id = issue["id"].as_str().unwrap();
    assert_eq!(issue["fields"]["issuetype"]["subtask"], false);
    assert!(issue["fields"]["priority"]["name"].is_string());
    assert!(issue["fields"]["reporter"]["accountId"].is_string());
    assert!(issue["fields"]["comment"]["comments"].is_array());
    let (_, by_id) = json_of(
        env.get(&t.access, &jira(ACME, &format!("/issue/{id}")))
            .await,
    )
    .await;
    assert_eq!(by_id["key"], "PLAT-3");
    let (_, lower) = json_of(
        env.get(&t.access, &jira(ACME, "/issue/plat-3?fields=summary"))
            .await,
    )
    .await;
    assert_eq!(lower["key"], "PLAT-3");
    assert_eq!(lower["fields"].as_object().unwrap().len(), 1);
    let (status, body) = json_of(env.get(&t.access, &jira(ACME, "/issue/PLAT-99999")).await).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        body,
        json!({"errorMessages": ["Issue does not exist or you do not have permission to see it."], "errors": {}})
    );
    // An issue of another site is not visible here.
    let (status, _) = json_of(env.get(&t.access, &jira(INITECH, "/issue/PLAT-3")).await).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn create_edit_and_persist() {
    let env = start().await;
    let t = env.sign_in(SCOPES).await;
    let (status, created) = json_of(
        env.post(
            &t.access,
            &jira(ACME, "/issue"),
            json!({"fields": {"project": {"key": "OPS"}, "issuetype": {"name": "Bug"}, "summary": "Pager fires twice",
                              "description": adf("Seen on Monday"), "labels": ["oncall"]}}),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(created["key"], "OPS-15");
    assert!(created["id"].is_string());
    assert!(created["self"]
        .as_str()
        .unwrap()
        .ends_with(&format!("/issue/{}", created["id"].as_str().unwrap())));
    let (_, issue) = json_of(env.get(&t.access, &jira(ACME, "/issue/OPS-15")).await).await;
    assert_eq!(issue["fields"]["summary"], "Pager fires twice");
    assert_eq!(issue["fields"]["status"]["name"], "To Do");
    assert_eq!(issue["fields"]["issuetype"]["name"], "Bug");
    assert_eq!(
        issue["fields"]["reporter"]["accountId"],
        fake_atlassian::ids::ALICE_ACCOUNT_ID
    );
    assert_eq!(issue["fields"]["labels"], json!(["oncall"]));
    // Searchable right away.
    let (_, found) = json_of(
        env.post(
            &t.access,
            &jira(ACME, "/search/jql"),
            json!({"jql": "project = OPS AND text ~ pager", "fields": ["summary"]}),
        )
        .await,
    )
    .await;
    assert_eq!(found["issues"][0]["key"], "OPS-15");

    let edit = env
        .put(
            &t.access,
            &jira(ACME, "/issue/OPS-15"),
            json!({"fields": {"summary": "Pager fires three times", "assignee": {"accountId": fake_atlassian::ids::ALICE_ACCOUNT_ID}},
                   "update": {"labels": [{"add": "urgent"}, {"remove": "oncall"}]}}),
        )
        .await;
    assert_eq!(edit.status(), StatusCode::NO_CONTENT);
    let (_, issue) = json_of(env.get(&t.access, &jira(ACME, "/issue/OPS-15")).await).await;
    assert_eq!(issue["fields"]["summary"], "Pager fires three times");
    assert_eq!(issue["fields"]["labels"], json!(["urgent"]));
    assert_eq!(
        issue["fields"]["assignee"]["accountId"],
        fake_atlassian::ids::ALICE_ACCOUNT_ID
    );

    // Validation errors: ErrorCollection with per-field errors, nothing applied.
    let (status, body) = json_of(
        env.put(
            &t.access,
            &jira(ACME, "/issue/OPS-15"),
            json!({"fields": {"summary": "ok", "description": "plain text", "status": "Done"}}),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["errors"]["description"].is_string() && body["errors"]["status"].is_string());
    let (_, issue) = json_of(
        env.get(&t.access, &jira(ACME, "/issue/OPS-15?fields=summary"))
            .await,
    )
    .await;
    assert_eq!(issue["fields"]["summary"], "Pager fires three times");
    let (status, body) = json_of(
        env.post(
            &t.access,
            &jira(ACME, "/issue"),
            json!({"fields": {"project": {"key": "NOPE"}}}),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    for k in ["project", "summary", "issuetype"] {
        assert!(body["errors"][k].is_string(), "{k}: {body}");
    }
    assert_eq!(
        env.put(
            &t.access,
            &jira(ACME, "/issue/OPS-999"),
            json!({"fields": {}})
        )
        .await
        .status(),
        StatusCode::NOT_FOUND
    );

    // Reset restores the seed.
    env.admin("/__admin/reset", json!({})).await;
    let t = env.sign_in(SCOPES).await;
    assert_eq!(
        env.get_status(&t.access, &jira(ACME, "/issue/OPS-15"))
            .await,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn writes_to_a_read_only_project_are_403() {
    let env = start().await;
    let t = env.sign_in(SCOPES).await;
    let forbidden = [
        env.put(&t.access, &jira(ACME, "/issue/SEC-1"), json!({"fields": {"summary": "x"}})).await,
        env.post(&t.access, &jira(ACME, "/issue/SEC-1/comment"), json!({"body": adf("x")})).await,
        env.post(&t.access, &jira(ACME, "/issue/SEC-1/transitions"), json!({"transition": {"id": "31"}})).await,
        env.post(&t.access, &jira(ACME, "/issue"), json!({"fields": {"project": {"key": "SEC"}, "issuetype": {"name": "Task"}, "summary": "x"}})).await,
    ];
    for resp in forbidden {
        let (status, body) = json_of(resp).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert!(
            body["errorMessages"][0]
                .as_str()
                .unwrap()
                .contains("permission"),
            "{body}"
        );
        assert_eq!(body["errors"], json!({}));
    }
    // Reading is fine.
    assert_eq!(
        env.get_status(&t.access, &jira(ACME, "/issue/SEC-1")).await,
        StatusCode::OK
    );
}

#[tokio::test]
async fn comments_take_adf_only() {
    let env = start().await;
    let t = env.sign_in(SCOPES).await;
    let path = jira(ACME, "/issue/PLAT-2/comment");
    let (_, before) = json_of(env.get(&t.access, &path).await).await;
    let n = before["total"].as_u64().unwrap();
    let (status, created) = json_of(
        env.post(&t.access, &path, json!({"body": adf("Works for me")}))
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(created["body"], adf("Works for me"));
    assert_eq!(
        created["author"]["accountId"],
        fake_atlassian::ids::ALICE_ACCOUNT_ID
    );
    assert!(created["id"].is_string() && created["created"].is_string());
    let (_, after) = json_of(env.get(&t.access, &path).await).await;
    assert_eq!(after["total"], n + 1);
    assert_eq!(
        after["comments"].as_array().unwrap().last().unwrap()["id"],
        created["id"]
    );
    for bad in [
        json!({"body": "plain string"}),
        json!({}),
        json!({"body": {"type": "paragraph"}}),
    ] {
        let (status, body) = json_of(env.post(&t.access, &path, bad.clone()).await).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
        assert!(body["errors"]["comment"].is_string());
    }
    let (_, page) = json_of(
        env.get(&t.access, &format!("{path}?startAt=1&maxResults=1"))
            .await,
    )
    .await;
    assert_eq!(page["startAt"], 1);
    assert!(page["comments"].as_array().unwrap().len() <= 1);
}

#[tokio::test]
async fn transitions_follow_the_workflow() {
    let env = start().await;
    let t = env.sign_in(SCOPES).await;
    let (_, created) = json_of(
        env.post(&t.access, &jira(ACME, "/issue"), json!({"fields": {"project": {"key": "WEB"}, "issuetype": {"id": "10001"}, "summary": "Flow"}})).await,
    )
    .await;
    let key = created["key"].as_str().unwrap().to_string();
    let tpath = jira(ACME, &format!("/issue/{key}/transitions"));
    let (_, list) = json_of(env.get(&t.access, &tpath).await).await;
    let names: Vec<&str> = list["transitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["to"]["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"In Progress") && names.contains(&"Done"),
        "{names:?}"
    );
    assert!(list["transitions"][0]["to"]["statusCategory"]["key"].is_string());
    let start = list["transitions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["to"]["name"] == "In Progress")
        .unwrap()["id"]
        .clone();

    let resp = env.post(&t.access, &tpath, json!({"transition": {"id": start}, "update": {"comment": [{"add": {"body": adf("Starting")}}]}})).await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    assert!(resp.text().await.unwrap().is_empty());
    let (_, issue) = json_of(
        env.get(&t.access, &jira(ACME, &format!("/issue/{key}")))
            .await,
    )
    .await;
    assert_eq!(issue["fields"]["status"]["name"], "In Progress");
    assert_eq!(
        issue["fields"]["status"]["statusCategory"]["key"],
        "indeterminate"
    );
    assert_eq!(issue["fields"]["comment"]["total"], 1);

    // From In Progress, "Reopen" (51) is not available: 400; unknown filter → empty list.
    let (status, body) = json_of(
        env.post(&t.access, &tpath, json!({"transition": {"id": "51"}}))
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["errorMessages"][0].as_str().unwrap().contains("51"));
    let (_, filtered) = json_of(
        env.get(&t.access, &format!("{tpath}?transitionId=51"))
            .await,
    )
    .await;
    assert_eq!(filtered["transitions"], json!([]));
    let (status, _) = json_of(env.post(&t.access, &tpath, json!({})).await).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    assert_eq!(
        env.post(&t.access, &tpath, json!({"transition": {"id": "31"}}))
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    let (_, issue) = json_of(
        env.get(
            &t.access,
            &jira(ACME, &format!("/issue/{key}?fields=status")),
        )
        .await,
    )
    .await;
    assert_eq!(issue["fields"]["status"]["statusCategory"]["key"], "done");
    let (_, list) = json_of(env.get(&t.access, &tpath).await).await;
    assert_eq!(
        list["transitions"].as_array().unwrap().len(),
        1,
        "only Reopen from Done"
    );
}

#[tokio::test]
async fn project_search_pages_by_offset() {
    let env = start().await;
    let t = env.sign_in(SCOPES).await;
    let (status, page) = json_of(
        env.get(&t.access, &jira(ACME, "/project/search?maxResults=2"))
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page["total"], 4);
    assert_eq!(page["startAt"], 0);
    assert_eq!(page["maxResults"], 2);
    assert_eq!(page["isLast"], false);
    let keys: Vec<&str> = page["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["key"].as_str().unwrap())
        .collect();
    assert_eq!(keys, vec!["OPS", "PLAT"]);
    assert!(page["nextPage"].as_str().unwrap().contains("startAt=2"));
    let (_, last) = json_of(
        env.get(
            &t.access,
            &jira(ACME, "/project/search?startAt=2&maxResults=2"),
        )
        .await,
    )
    .await;
    assert_eq!(last["isLast"], true);
    let keys: Vec<&str> = last["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["key"].as_str().unwrap())
        .collect();
    assert_eq!(keys, vec!["SEC", "WEB"]);
    assert!(last.get("nextPage").is_none());
    let (_, q) = json_of(
        env.get(&t.access, &jira(ACME, "/project/search?query=store"))
            .await,
    )
    .await;
    assert_eq!(q["values"][0]["name"], "Web Storefront");
    assert!(q["values"][0]["id"].is_string() && q["values"][0]["avatarUrls"].is_object());
    let (status, _) = json_of(
        env.get(&t.access, &jira(ACME, "/project/search?query=zzz"))
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, other) = json_of(env.get(&t.access, &jira(INITECH, "/project/search")).await).await;
    assert_eq!(other["total"], 2);
}

#[tokio::test]
async fn createmeta_lists_issue_types() {
    let env = start().await;
    let t = env.sign_in(SCOPES).await;
    let (status, body) = json_of(
        env.get(&t.access, &jira(ACME, "/issue/createmeta/PLAT/issuetypes"))
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let names: Vec<&str> = body["issueTypes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["Task", "Bug", "Story"]);
    assert_eq!(body["total"], 3);
    let (_, by_id) = json_of(
        env.get(&t.access, &jira(ACME, "/issue/createmeta/10000/issuetypes"))
            .await,
    )
    .await;
    assert_eq!(by_id["total"], 3);
    let (status, body) = json_of(
        env.get(&t.access, &jira(ACME, "/issue/createmeta/NOPE/issuetypes"))
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(body["errorMessages"].is_array());
}

#[tokio::test]
async fn bob_sees_his_site_only() {
    let env = start().await;
    env.admin("/__admin/settings", json!({"consent_user": "bob"}))
        .await;
    let t = env.sign_in(SCOPES).await;
    let (_, mine) = json_of(
        env.post(
            &t.access,
            &jira(GLOBEX, "/search/jql"),
            json!({"jql": "assignee = currentUser()", "fields": ["assignee"]}),
        )
        .await,
    )
    .await;
    let issues = mine["issues"].as_array().unwrap();
    assert!(!issues.is_empty());
    assert!(issues
        .iter()
        .all(|i| i["fields"]["assignee"]["accountId"] == fake_atlassian::ids::BOB_ACCOUNT_ID));
    assert_eq!(env.myself_status(&t, ACME).await, StatusCode::NOT_FOUND);
}

/// The keys a search returns (GET, summary only).
async fn keys_of(env: &Env, token: &str, jql: &str) -> Vec<String> {
    let (status, body) = json_of(
        env.post(
            token,
            &jira(ACME, "/search/jql"),
            json!({"jql": jql, "fields": ["summary"], "maxResults": 100}),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{jql}: {body}");
    body["issues"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["key"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn views_reporter_watcher_and_recently_updated() {
    let env = start().await;
    let t = env.sign_in(SCOPES).await;
    let alice = fake_atlassian::ids::ALICE_ACCOUNT_ID;
    // Reported by me: every hit has alice as reporter.
    let (_, page) = json_of(
        env.post(
            &t.access,
            &jira(ACME, "/search/jql"),
            json!({"jql": "reporter = currentUser()", "fields": ["reporter"], "maxResults": 100}),
        )
        .await,
    )
    .await;
    let hits = page["issues"].as_array().unwrap();
    assert!(!hits.is_empty());
    assert!(hits
        .iter()
        .all(|i| i["fields"]["reporter"]["accountId"] == alice));

    // Watching: what /watchers says, both ways.
    let watching = keys_of(&env, &t.access, "watcher = currentUser() ORDER BY key ASC").await;
    assert!(!watching.is_empty());
    let (status, w) = json_of(
        env.get(
            &t.access,
            &jira(ACME, &format!("/issue/{}/watchers", watching[0])),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(w["isWatching"], true);
    assert_eq!(w["watchCount"], w["watchers"].as_array().unwrap().len());
    assert!(w["watchers"]
        .as_array()
        .unwrap()
        .iter()
        .any(|u| u["accountId"] == alice && u["displayName"].is_string()));
    let not_watched = keys_of(&env, &t.access, "watcher != currentUser() ORDER BY key ASC").await;
    let (_, w) = json_of(
        env.get(
            &t.access,
            &jira(ACME, &format!("/issue/{}/watchers", not_watched[0])),
        )
        .await,
    )
    .await;
    assert_eq!(w["isWatching"], false);
    // Commenting watches the issue (Jira's autowatch).
    let comment = env
        .post(
            &t.access,
            &jira(ACME, &format!("/issue/{}/comment", not_watched[0])),
            json!({"body": adf("following this")}),
        )
        .await;
    assert_eq!(comment.status(), StatusCode::CREATED);
    let watched_now = format!("watcher = currentUser() AND key = {}", not_watched[0]);
    assert_eq!(
        keys_of(&env, &t.access, &watched_now).await,
        vec![not_watched[0].clone()]
    );

    // Recently updated, by the fake clock: the seed is older than a week, so only what was just
    // changed; the newest change first.
    let recent = "updated >= -7d ORDER BY updated DESC";
    assert_eq!(
        keys_of(&env, &t.access, recent).await,
        vec![not_watched[0].clone()]
    );
    env.advance(60).await;
    let edit = env
        .put(
            &t.access,
            &jira(ACME, "/issue/PLAT-5"),
            json!({"fields": {"summary": "Edited just now", "labels": ["triage", "ux"]}}),
        )
        .await;
    assert_eq!(edit.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        keys_of(&env, &t.access, recent).await,
        vec!["PLAT-5".to_string(), not_watched[0].clone()]
    );
    let (_, issue) = json_of(
        env.get(
            &t.access,
            &jira(ACME, "/issue/PLAT-5?fields=summary,labels"),
        )
        .await,
    )
    .await;
    assert_eq!(issue["fields"]["summary"], "Edited just now");
    assert_eq!(issue["fields"]["labels"], json!(["triage", "ux"]));
    // Eight days later the changes are not recent any more.
    env.advance(8 * 86_400).await;
    let t = env.sign_in(SCOPES).await; // the old access token expired meanwhile
    assert!(keys_of(&env, &t.access, recent).await.is_empty());
    let (status, body) = json_of(
        env.post(
            &t.access,
            &jira(ACME, "/search/jql"),
            json!({"jql": "updated >= 'last week'"}),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["errorMessages"][0]
        .as_str()
        .unwrap()
        .contains("is invalid"));
}

#[tokio::test]
async fn assign_and_assignable_users() {
    let env = start().await;
    let t = env.sign_in(SCOPES).await;
    let ids = |list: &Value| -> Vec<String> {
        list.as_array()
            .unwrap()
            .iter()
            .map(|u| u["accountId"].as_str().unwrap().to_string())
            .collect()
    };
    let search = |q: &str| {
        let path = jira(ACME, &format!("/user/assignable/search?{q}"));
        let (env, token) = (&env, t.access.clone());
        async move { env.get(&token, &path).await }
    };
    // acme's members: alice, carol, dave (not bob).
    let (status, all) = json_of(search("issueKey=PLAT-5").await).await;
    assert_eq!(status, StatusCode::OK);
    let mut members = ids(&all);
    members.sort();
    let mut expected = vec![
        fake_atlassian::ids::ALICE_ACCOUNT_ID.to_string(),
        fake_atlassian::ids::CAROL_ACCOUNT_ID.to_string(),
        fake_atlassian::ids::DAVE_ACCOUNT_ID.to_string(),
    ];
    expected.sort();
    assert_eq!(members, expected);
    assert!(all[0]["displayName"].is_string() && all[0]["avatarUrls"]["24x24"].is_string());
    let (_, carol) = json_of(search("project=WEB&query=car").await).await;
    assert_eq!(ids(&carol), vec![fake_atlassian::ids::CAROL_ACCOUNT_ID]);
    let (_, chen) = json_of(search("issueKey=PLAT-5&query=Chen").await).await;
    assert_eq!(ids(&chen), ids(&carol), "any word of the name");
    let (_, one) = json_of(search("issueKey=PLAT-5&maxResults=1&startAt=1").await).await;
    assert_eq!(ids(&one), vec![ids(&all)[1].clone()]);
    let (_, sec) = json_of(search("project=SEC").await).await;
    assert_eq!(
        sec,
        json!([]),
        "nobody is assignable in a read-only project"
    );
    assert_eq!(search("query=a").await.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        search("issueKey=PLAT-9999").await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(search("project=NOPE").await.status(), StatusCode::NOT_FOUND);
    let no_user_scope = env.sign_in("read:jira-work write:jira-work").await;
    assert_eq!(
        env.get_status(
            &no_user_scope.access,
            &jira(ACME, "/user/assignable/search?project=WEB")
        )
        .await,
        StatusCode::UNAUTHORIZED
    );

    // PUT .../assignee: someone, the default (project lead), nobody; 204 each time.
    let path = jira(ACME, "/issue/WEB-5/assignee");
    let assignee = || async {
        let (_, issue) = json_of(
            env.get(&t.access, &jira(ACME, "/issue/WEB-5?fields=assignee"))
                .await,
        )
        .await;
        issue["fields"]["assignee"]["accountId"]
            .as_str()
            .map(str::to_string)
    };
    let put = |body: Value| env.put(&t.access, &path, body);
    assert_eq!(
        put(json!({"accountId": fake_atlassian::ids::DAVE_ACCOUNT_ID}))
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        assignee().await.as_deref(),
        Some(fake_atlassian::ids::DAVE_ACCOUNT_ID)
    );
    assert!(keys_of(
        &env,
        &t.access,
        &format!(
            "assignee = \"{}\" AND project = WEB",
            fake_atlassian::ids::DAVE_ACCOUNT_ID
        )
    )
    .await
    .contains(&"WEB-5".to_string()));
    assert_eq!(
        put(json!({"accountId": "-1"})).await.status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        assignee().await.as_deref(),
        Some(fake_atlassian::ids::CAROL_ACCOUNT_ID),
        "WEB's lead"
    );
    assert_eq!(
        put(json!({"accountId": null})).await.status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(assignee().await, None);
    // Refused: bob is not on acme; no accountId at all; a missing issue; a read-only project.
    let (status, body) =
        json_of(put(json!({"accountId": fake_atlassian::ids::BOB_ACCOUNT_ID})).await).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["errors"]["assignee"].is_string(), "{body}");
    assert_eq!(assignee().await, None, "nothing applied");
    assert_eq!(put(json!({})).await.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        env.put(
            &t.access,
            &jira(ACME, "/issue/WEB-999/assignee"),
            json!({"accountId": null})
        )
        .await
        .status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        env.put(
            &t.access,
            &jira(ACME, "/issue/SEC-1/assignee"),
            json!({"accountId": null})
        )
        .await
        .status(),
        StatusCode::FORBIDDEN
    );
    let read_only = env.sign_in("read:jira-work read:jira-user").await;
    assert_eq!(
        env.put(&read_only.access, &path, json!({"accountId": null}))
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
}
