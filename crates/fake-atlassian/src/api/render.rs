//! JSON shapes of Jira REST v3 (reference §8): User, IssueBean, Comment, Transition, Project.
//! `self` links point at the fake's gateway URL, as api.atlassian.com's do.

use serde_json::{json, Map, Value};

use crate::seed::{
    Comment, Issue, Project, SiteData, Transition, ISSUE_TYPES, PRIORITIES, STATUSES, USERS,
};
use crate::util::jira_time;

/// Where links point: `{base}/ex/jira/{cloudId}/rest/api/3`.
pub(crate) struct Links<'a> {
    pub api: String,
    pub site: &'a SiteData,
}

impl<'a> Links<'a> {
    pub fn new(base_url: &str, site: &'a SiteData) -> Self {
        Links {
            api: format!("{base_url}/ex/jira/{}/rest/api/3", site.info.cloud_id),
            site,
        }
    }
}

fn avatar_urls(seed: &str) -> Value {
    let url = |size: u32| format!("https://avatar-management.example/avatars/{seed}/{size}.png");
    json!({"48x48": url(48), "24x24": url(24), "16x16": url(16), "32x32": url(32)})
}

/// A Jira `User` (`myself`, assignee, reporter, comment author).
pub(crate) fn user(l: &Links, u: usize) -> Value {
    let user = &USERS[u];
    json!({
        "self": format!("{}/user?accountId={}", l.api, user.account_id),
        "accountId": user.account_id,
        "accountType": "atlassian",
        "emailAddress": user.email,
        "avatarUrls": avatar_urls(user.key),
        "displayName": user.name,
        "active": true,
        "timeZone": user.time_zone,
        "locale": user.locale,
    })
}

pub(crate) fn status(l: &Links, s: usize) -> Value {
    let st = &STATUSES[s];
    let c = st.category;
    json!({
        "self": format!("{}/status/{}", l.api, st.id),
        "description": st.description,
        "iconUrl": format!("{}/images/icons/statuses/generic.png", l.site.info.url),
        "name": st.name,
        "id": st.id,
        "statusCategory": {
            "self": format!("{}/statuscategory/{}", l.api, c.id),
            "id": c.id,
            "key": c.key,
            "colorName": c.color,
            "name": c.name,
        },
    })
}

pub(crate) fn priority(l: &Links, p: usize) -> Value {
    let pr = &PRIORITIES[p];
    json!({
        "self": format!("{}/priority/{}", l.api, pr.id),
        "iconUrl": format!("{}/images/icons/priorities/{}.svg", l.site.info.url, pr.name.to_lowercase()),
        "name": pr.name,
        "id": pr.id,
    })
}

pub(crate) fn issue_type(l: &Links, t: usize) -> Value {
    let it = &ISSUE_TYPES[t];
    json!({
        "self": format!("{}/issuetype/{}", l.api, it.id),
        "id": it.id,
        "description": it.description,
        "iconUrl": format!("{}/rest/api/2/universal_avatar/view/type/issuetype/avatar/{}?size=medium", l.site.info.url, it.avatar_id),
        "name": it.name,
        "untranslatedName": it.name,
        "subtask": false,
        "avatarId": it.avatar_id,
        "hierarchyLevel": 0,
    })
}

/// The short project shape embedded in issues.
pub(crate) fn project_ref(l: &Links, p: &Project) -> Value {
    json!({
        "self": format!("{}/project/{}", l.api, p.id),
        "id": p.id.to_string(),
        "key": p.key,
        "name": p.name,
        "projectTypeKey": "software",
        "simplified": false,
        "avatarUrls": avatar_urls(&p.key.to_lowercase()),
    })
}

/// The project shape of `project/search`.
pub(crate) fn project_full(l: &Links, p: &Project) -> Value {
    let mut v = project_ref(l, p);
    let extra = json!({
        "expand": "description,lead,issueTypes,url,projectKeys,permissions,insight",
        "style": "classic",
        "isPrivate": false,
        "properties": {},
        "lead": user(l, p.lead),
    });
    if let (Value::Object(m), Value::Object(e)) = (&mut v, extra) {
        m.extend(e);
    }
    v
}

pub(crate) fn comment(l: &Links, issue_id: u64, c: &Comment) -> Value {
    json!({
        "self": format!("{}/issue/{}/comment/{}", l.api, issue_id, c.id),
        "id": c.id.to_string(),
        "author": user(l, c.author),
        "body": c.body,
        "updateAuthor": user(l, c.author),
        "created": jira_time(c.created),
        "updated": jira_time(c.updated),
        "jsdPublic": true,
    })
}

pub(crate) fn transition(l: &Links, t: &Transition) -> Value {
    json!({
        "id": t.id,
        "name": t.name,
        "to": status(l, t.to),
        "hasScreen": false,
        "isGlobal": false,
        "isInitial": false,
        "isAvailable": true,
        "isConditional": false,
        "isLooped": false,
    })
}

/// Field names the fake knows, in the order Jira tends to print them.
pub(crate) const FIELDS: [&str; 13] = [
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
    "comment",
    "duedate",
];

/// Which fields to include (the `fields` parameter).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct FieldSel(u16);

impl FieldSel {
    pub const ALL: FieldSel = FieldSel((1 << FIELDS.len()) - 1);
    /// `*navigable`: everything but `comment`.
    pub const NAVIGABLE: FieldSel = FieldSel(((1 << FIELDS.len()) - 1) & !(1 << 11));

    /// Parses `fields` items (each may be comma-separated): names, `*all`, `*navigable`,
    /// `-name`. Unknown names are ignored, as Jira does.
    pub fn parse<'s>(items: impl IntoIterator<Item = &'s str>) -> FieldSel {
        let (mut add, mut remove) = (0u16, 0u16);
        for item in items.into_iter().flat_map(|s| s.split(',')) {
            let item = item.trim();
            match item {
                "*all" => add |= Self::ALL.0,
                "*navigable" => add |= Self::NAVIGABLE.0,
                _ => {
                    let (neg, name) = match item.strip_prefix('-') {
                        Some(n) => (true, n),
                        None => (false, item),
                    };
                    if let Some(i) = FIELDS.iter().position(|f| f.eq_ignore_ascii_case(name)) {
                        if neg {
                            remove |= 1 << i;
                        } else {
                            add |= 1 << i;
                        }
                    }
                }
            }
        }
        FieldSel(add & !remove)
    }

    fn has(self, i: usize) -> bool {
        self.0 & (1 << i) != 0
    }
}

/// An IssueBean with the selected fields.
pub(crate) fn issue(l: &Links, i: &Issue, sel: FieldSel) -> Value {
    let mut fields = Map::new();
    for (n, name) in FIELDS.iter().enumerate() {
        if !sel.has(n) {
            continue;
        }
        let v = match *name {
            "summary" => json!(i.summary),
            "status" => status(l, i.status),
            "assignee" => i.assignee.map_or(Value::Null, |u| user(l, u)),
            "reporter" => user(l, i.reporter),
            "priority" => priority(l, i.priority),
            "issuetype" => issue_type(l, i.issue_type),
            "project" => project_ref(l, &l.site.projects[i.project]),
            "created" => json!(jira_time(i.created)),
            "updated" => json!(jira_time(i.updated)),
            "labels" => json!(i.labels),
            "duedate" => json!(i.duedate),
            "description" => i.description.clone().unwrap_or(Value::Null),
            "comment" => {
                let comments: Vec<Value> = i.comments.iter().map(|c| comment(l, i.id, c)).collect();
                json!({
                    "comments": comments,
                    "self": format!("{}/issue/{}/comment", l.api, i.id),
                    "maxResults": comments.len(),
                    "total": comments.len(),
                    "startAt": 0,
                })
            }
            _ => continue,
        };
        fields.insert((*name).to_string(), v);
    }
    json!({
        "expand": "renderedFields,names,schema,operations,editmeta,changelog,versionedRepresentations",
        "id": i.id.to_string(),
        "self": format!("{}/issue/{}", l.api, i.id),
        "key": l.site.issue_key(i),
        "fields": fields,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_selection() {
        assert_eq!(FieldSel::parse(["*all"]), FieldSel::ALL);
        assert_eq!(FieldSel::parse(["*all,-comment"]), FieldSel::NAVIGABLE);
        let s = FieldSel::parse(["summary", "status,nosuchfield"]);
        assert!(s.has(0) && s.has(1) && !s.has(2));
        assert_eq!(FieldSel::parse(["id"]), FieldSel(0));
    }
}
