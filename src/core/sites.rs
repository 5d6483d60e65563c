//! `accessible-resources`: merge duplicates, infer products, keep Jira sites, select one.

use super::json::decode;
use crate::core::io::HttpResponse;
use crate::error::SiteChoice;
use crate::Error;

/// One entry of `GET /oauth/token/accessible-resources`.
/// `name`, `url` and `scopes` may be absent (empty), but not `null`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccessibleResource {
    pub id: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub url: String,
    #[serde(default)]
    pub scopes: Vec<String>,
    pub avatar_url: Option<String>,
}

/// An Atlassian product a site entry grants access to, inferred from its scopes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Product {
    Jira,
    Confluence,
    Other,
}

/// One site after merging the entries that share its cloud id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Site {
    pub choice: SiteChoice,
    pub scopes: Vec<String>,
    pub products: Vec<Product>,
}

/// The products a scope list implies (`read:jira-work`, `read:issue:jira`, `manage:jira-project`
/// → Jira; `*confluence*` → Confluence).
pub fn products_of(scopes: &[String]) -> Vec<Product> {
    let product = |s: &String| {
        if s.contains("jira") {
            Product::Jira
        } else if s.contains("confluence") {
            Product::Confluence
        } else {
            Product::Other
        }
    };
    // In `Product` order without a sort (a generic sort is kilobytes of wasm), by plain loops
    // (fewer iterator adapters in the wasm).
    let mut out = Vec::new();
    for p in [Product::Jira, Product::Confluence, Product::Other] {
        if scopes.iter().any(|s| product(s) == p) {
            out.push(p);
        }
    }
    out
}

/// Parses the accessible-resources body (a JSON array).
pub fn parse_accessible_resources(resp: &HttpResponse) -> Result<Vec<AccessibleResource>, Error> {
    decode(&resp.body).map_err(|category| Error::InvalidResponse {
        status: resp.status,
        detail: format!("accessible-resources is not a list of sites ({category:?} error)"),
    })
}

/// Merges entries with the same id (one per product), in first-seen order: scopes are united,
/// the first non-empty name/url/avatar wins.
pub fn merge(resources: Vec<AccessibleResource>) -> Vec<Site> {
    let mut out: Vec<Site> = Vec::new();
    for r in resources {
        if let Some(site) = out.iter_mut().find(|s| s.choice.id == r.id) {
            for s in r.scopes {
                if !site.scopes.contains(&s) {
                    site.scopes.push(s);
                }
            }
            if site.choice.name.is_empty() {
                site.choice.name = r.name;
            }
            if site.choice.url.is_empty() {
                site.choice.url = r.url;
            }
            if site.choice.avatar_url.is_none() {
                site.choice.avatar_url = r.avatar_url;
            }
        } else {
            let mut scopes = Vec::new();
            for s in r.scopes {
                if !scopes.contains(&s) {
                    scopes.push(s);
                }
            }
            out.push(Site {
                choice: SiteChoice {
                    id: r.id,
                    name: r.name,
                    url: r.url,
                    avatar_url: r.avatar_url,
                },
                scopes,
                products: Vec::new(),
            });
        }
    }
    for site in &mut out {
        site.products = products_of(&site.scopes);
    }
    out
}

/// The Jira sites among the merged sites.
pub fn jira_sites(sites: &[Site]) -> Vec<SiteChoice> {
    let mut out = Vec::new();
    for s in sites {
        if s.products.contains(&Product::Jira) {
            out.push(s.choice.clone());
        }
    }
    out
}

/// How many Jira sites the grant covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection {
    None,
    One(SiteChoice),
    Several(Vec<SiteChoice>),
}

/// None → no Jira site; one → chosen automatically; several → the user picks.
pub fn select(jira: &[SiteChoice]) -> Selection {
    match jira {
        [] => Selection::None,
        [one] => Selection::One(one.clone()),
        many => Selection::Several(many.to_vec()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BODY: &str = r#"[
        {"id":"c1","name":"acme","url":"https://acme.atlassian.net","scopes":["read:jira-work","write:jira-work"],"avatarUrl":"https://a/1.png"},
        {"id":"c2","name":"beta","url":"https://beta.atlassian.net","scopes":["read:jira-user"],"avatarUrl":null},
        {"id":"c1","name":"acme","url":"https://acme.atlassian.net","scopes":["read:confluence-content.all","read:jira-work"],"avatarUrl":"https://a/1.png"},
        {"id":"c3","name":"wiki","url":"https://wiki.atlassian.net","scopes":["read:confluence-content.all"]}
    ]"#;

    fn parsed() -> Vec<AccessibleResource> {
        parse_accessible_resources(&HttpResponse {
            status: 200,
            headers: vec![],
            body: BODY.into(),
        })
        .unwrap()
    }

    #[test]
    fn merges_duplicates_and_unions_scopes() {
        let sites = merge(parsed());
        assert_eq!(sites.len(), 3);
        assert_eq!(sites[0].choice.id, "c1");
        assert_eq!(
            sites[0].scopes,
            vec![
                "read:jira-work",
                "write:jira-work",
                "read:confluence-content.all"
            ]
        );
        assert_eq!(sites[0].products, vec![Product::Jira, Product::Confluence]);
        assert_eq!(
            sites[0].choice.avatar_url.as_deref(),
            Some("https://a/1.png")
        );
        assert_eq!(sites[2].products, vec![Product::Confluence]);
    }

    #[test]
    fn keeps_jira_sites_and_selects() {
        let jira = jira_sites(&merge(parsed()));
        assert_eq!(
            jira.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(),
            vec!["c1", "c2"]
        );
        assert!(matches!(select(&jira), Selection::Several(s) if s.len() == 2));
        assert_eq!(select(&jira[..1]), Selection::One(jira[0].clone()));
        assert_eq!(select(&[]), Selection::None);
    }

    #[test]
    fn granular_scopes_count_as_jira() {
        assert_eq!(
            products_of(&["read:issue:jira".into()]),
            vec![Product::Jira]
        );
        assert_eq!(products_of(&["read:me".into()]), vec![Product::Other]);
    }

    #[test]
    fn garbage_is_invalid_response() {
        let e = parse_accessible_resources(&HttpResponse {
            status: 200,
            headers: vec![],
            body: "<html>".into(),
        })
        .unwrap_err();
        assert_eq!(e.code(), crate::ErrorCode::InvalidResponse);
    }
}
