//! Deterministic seed data: users, sites, projects, workflows and issues.
//!
//! Everything here is a pure function of constants, so every start and every
//! `POST /__admin/reset` yields byte-identical data, and tests can rely on ids.

use serde_json::{json, Value};

use crate::util::mix;

/// A Jira status category (`statusCategory` in API responses).
pub(crate) struct StatusCategory {
    pub id: u32,
    pub key: &'static str,
    pub name: &'static str,
    pub color: &'static str,
}

pub(crate) const CAT_NEW: StatusCategory = StatusCategory {
    id: 2,
    key: "new",
    name: "To Do",
    color: "blue-gray",
};
pub(crate) const CAT_INDETERMINATE: StatusCategory = StatusCategory {
    id: 4,
    key: "indeterminate",
    name: "In Progress",
    color: "yellow",
};
pub(crate) const CAT_DONE: StatusCategory = StatusCategory {
    id: 3,
    key: "done",
    name: "Done",
    color: "green",
};
pub(crate) const CATEGORIES: [&StatusCategory; 3] = [&CAT_NEW, &CAT_INDETERMINATE, &CAT_DONE];

pub(crate) struct Status {
    pub id: &'static str,
    pub name: &'static str,
    pub description: &'static str,
    pub category: &'static StatusCategory,
}

pub(crate) const TODO: usize = 0;
pub(crate) const IN_PROGRESS: usize = 1;
pub(crate) const IN_REVIEW: usize = 2;
pub(crate) const DONE: usize = 3;

pub(crate) static STATUSES: [Status; 4] = [
    Status {
        id: "10000",
        name: "To Do",
        description: "Work that has not been started.",
        category: &CAT_NEW,
    },
    Status {
        id: "3",
        name: "In Progress",
        description: "Someone is working on it.",
        category: &CAT_INDETERMINATE,
    },
    Status {
        id: "10001",
        name: "In Review",
        description: "Waiting for a review.",
        category: &CAT_INDETERMINATE,
    },
    Status {
        id: "10002",
        name: "Done",
        description: "Work that is finished.",
        category: &CAT_DONE,
    },
];

/// One workflow transition; every project uses the same workflow.
pub(crate) struct Transition {
    pub id: &'static str,
    pub name: &'static str,
    pub to: usize,
    pub from: &'static [usize],
}

pub(crate) static TRANSITIONS: [Transition; 5] = [
    Transition {
        id: "11",
        name: "Back to To Do",
        to: TODO,
        from: &[IN_PROGRESS, IN_REVIEW],
    },
    Transition {
        id: "21",
        name: "Start Progress",
        to: IN_PROGRESS,
        from: &[TODO, IN_REVIEW],
    },
    Transition {
        id: "31",
        name: "Done",
        to: DONE,
        from: &[TODO, IN_PROGRESS, IN_REVIEW],
    },
    Transition {
        id: "41",
        name: "Send to Review",
        to: IN_REVIEW,
        from: &[IN_PROGRESS],
    },
    Transition {
        id: "51",
        name: "Reopen",
        to: TODO,
        from: &[DONE],
    },
];

pub(crate) struct IssueType {
    pub id: &'static str,
    pub name: &'static str,
    pub description: &'static str,
    pub avatar_id: u32,
}

pub(crate) static ISSUE_TYPES: [IssueType; 3] = [
    IssueType {
        id: "10001",
        name: "Task",
        description: "A small, distinct piece of work.",
        avatar_id: 10318,
    },
    IssueType {
        id: "10002",
        name: "Bug",
        description: "A problem or error.",
        avatar_id: 10303,
    },
    IssueType {
        id: "10003",
        name: "Story",
        description: "Functionality or a feature expressed as a user goal.",
        avatar_id: 10315,
    },
];

pub(crate) struct Priority {
    pub id: &'static str,
    pub name: &'static str,
}

pub(crate) const MEDIUM: usize = 2;

pub(crate) static PRIORITIES: [Priority; 5] = [
    Priority {
        id: "1",
        name: "Highest",
    },
    Priority {
        id: "2",
        name: "High",
    },
    Priority {
        id: "3",
        name: "Medium",
    },
    Priority {
        id: "4",
        name: "Low",
    },
    Priority {
        id: "5",
        name: "Lowest",
    },
];

/// An Atlassian account. `key` is the fake's handle for admin calls (`consent_user`, `revoke`).
pub(crate) struct User {
    pub key: &'static str,
    pub account_id: &'static str,
    pub name: &'static str,
    pub email: &'static str,
    pub nickname: &'static str,
    pub time_zone: &'static str,
    pub locale: &'static str,
    pub job_title: &'static str,
    pub department: &'static str,
    /// Cloud ids of the sites this account can use, in the order the consent page lists them.
    pub sites: &'static [&'static str],
}

pub(crate) const ACME: &str = "a5c0f6d2-3b1e-4c8a-9f7d-2e6b1a0c4d8e";
pub(crate) const INITECH: &str = "b7e2d4f6-8a0c-4e2b-8d6f-1a3c5e7b9d0f";
pub(crate) const GLOBEX: &str = "c9f4e6a8-0b2d-4f6a-a1c3-5e7d9b0f2a4c";

pub(crate) const ALICE_ACCOUNT: &str = "712020:0a11ce00-1a2b-4c3d-8e4f-5a6b7c8d9e01";
pub(crate) const BOB_ACCOUNT: &str = "712020:0b0b0000-2b3c-4d4e-9f50-6a7b8c9d0e02";
pub(crate) const CAROL_ACCOUNT: &str = "712020:0ca401e0-3c4d-4e5f-a061-7b8c9d0e1f03";
pub(crate) const DAVE_ACCOUNT: &str = "712020:0da7e000-4d5e-4f60-b172-8c9d0e1f2a04";

pub(crate) const ALICE: usize = 0;
pub(crate) const BOB: usize = 1;
pub(crate) const CAROL: usize = 2;
pub(crate) const DAVE: usize = 3;

pub(crate) static USERS: [User; 4] = [
    User {
        key: "alice",
        account_id: ALICE_ACCOUNT,
        name: "Alice Anderson",
        email: "alice@acme.example",
        nickname: "alice",
        time_zone: "Europe/London",
        locale: "en_GB",
        job_title: "Engineering Manager",
        department: "Platform",
        sites: &[ACME, INITECH],
    },
    User {
        key: "bob",
        account_id: BOB_ACCOUNT,
        name: "Bob Brown",
        email: "bob@globex.example",
        nickname: "bob",
        time_zone: "America/New_York",
        locale: "en_US",
        job_title: "Developer",
        department: "Core",
        sites: &[GLOBEX],
    },
    User {
        key: "carol",
        account_id: CAROL_ACCOUNT,
        name: "Carol Chen",
        email: "carol@acme.example",
        nickname: "carol",
        time_zone: "Asia/Singapore",
        locale: "en_US",
        job_title: "QA Lead",
        department: "Quality",
        sites: &[ACME, INITECH],
    },
    User {
        key: "dave",
        account_id: DAVE_ACCOUNT,
        name: "Dave Diaz",
        email: "dave@globex.example",
        nickname: "dave",
        time_zone: "Europe/Berlin",
        locale: "de_DE",
        job_title: "SRE",
        department: "Operations",
        sites: &[ACME, GLOBEX],
    },
];

pub(crate) fn user_by_key(key: &str) -> Option<usize> {
    USERS.iter().position(|u| u.key == key)
}

pub(crate) fn user_by_account(account_id: &str) -> Option<usize> {
    USERS.iter().position(|u| u.account_id == account_id)
}

/// A site (one cloud id). `confluence` adds a second accessible-resources entry with the same id.
pub(crate) struct SiteInfo {
    pub cloud_id: &'static str,
    pub name: &'static str,
    pub url: &'static str,
    pub confluence: bool,
    pub avatar: &'static str,
}

pub(crate) static SITES: [SiteInfo; 3] = [
    SiteInfo {
        cloud_id: ACME,
        name: "acme",
        url: "https://acme.atlassian.net",
        confluence: true,
        avatar: "https://site-admin-avatar-cdn.prod.public.atl-paas.net/avatars/240/rocket.png",
    },
    SiteInfo {
        cloud_id: INITECH,
        name: "initech",
        url: "https://initech.atlassian.net",
        confluence: false,
        avatar: "https://site-admin-avatar-cdn.prod.public.atl-paas.net/avatars/240/lightbulb.png",
    },
    SiteInfo {
        cloud_id: GLOBEX,
        name: "globex",
        url: "https://globex.atlassian.net",
        confluence: false,
        avatar: "https://site-admin-avatar-cdn.prod.public.atl-paas.net/avatars/240/globe.png",
    },
];

pub(crate) struct Project {
    pub id: u64,
    pub key: String,
    pub name: String,
    pub lead: usize,
    /// Nobody may write here: edits, creates, comments and transitions get 403.
    pub read_only: bool,
}

pub(crate) struct Comment {
    pub id: u64,
    pub author: usize,
    pub body: Value,
    pub created: u64,
    pub updated: u64,
}

pub(crate) struct Issue {
    pub id: u64,
    pub project: usize,
    pub number: u64,
    pub summary: String,
    pub description: Option<Value>,
    pub status: usize,
    pub issue_type: usize,
    pub priority: usize,
    pub assignee: Option<usize>,
    pub reporter: usize,
    pub labels: Vec<String>,
    /// Who watches it (Jira's autowatch: the reporter, the assignee at creation, commenters).
    pub watchers: Vec<usize>,
    /// `YYYY-MM-DD`, when the issue has a due date.
    pub duedate: Option<String>,
    pub created: u64,
    pub updated: u64,
    pub comments: Vec<Comment>,
}

/// One site's mutable Jira data.
pub(crate) struct SiteData {
    pub info: &'static SiteInfo,
    pub projects: Vec<Project>,
    pub issues: Vec<Issue>,
    pub next_issue_id: u64,
    pub next_comment_id: u64,
}

impl SiteData {
    pub fn issue_key(&self, issue: &Issue) -> String {
        format!("{}-{}", self.projects[issue.project].key, issue.number)
    }

    /// Finds an issue by id or key; keys match case-insensitively, as Jira's lookup does.
    pub fn find_issue(&self, id_or_key: &str) -> Option<usize> {
        if let Ok(id) = id_or_key.parse::<u64>() {
            return self.issues.iter().position(|i| i.id == id);
        }
        let (project, number) = id_or_key.rsplit_once('-')?;
        let number: u64 = number.parse().ok()?;
        let p = self
            .projects
            .iter()
            .position(|p| p.key.eq_ignore_ascii_case(project))?;
        self.issues
            .iter()
            .position(|i| i.project == p && i.number == number)
    }

    /// Finds a project by id or key (case-insensitive key).
    pub fn find_project(&self, id_or_key: &str) -> Option<usize> {
        self.projects
            .iter()
            .position(|p| p.id.to_string() == id_or_key || p.key.eq_ignore_ascii_case(id_or_key))
    }

    /// Site members: accounts that list this site.
    pub fn members(&self) -> Vec<usize> {
        (0..USERS.len())
            .filter(|&u| USERS[u].sites.contains(&self.info.cloud_id))
            .collect()
    }
}

/// A minimal ADF document with one paragraph.
pub(crate) fn adf(text: &str) -> Value {
    json!({
        "type": "doc",
        "version": 1,
        "content": [{"type": "paragraph", "content": [{"type": "text", "text": text}]}]
    })
}

/// The plain text inside an ADF document (for `text ~`).
pub(crate) fn adf_text(doc: &Value, out: &mut String) {
    match doc {
        Value::Object(map) => {
            if let Some(Value::String(t)) = map.get("text") {
                out.push_str(t);
                out.push(' ');
            }
            if let Some(content) = map.get("content") {
                adf_text(content, out);
            }
        }
        Value::Array(items) => items.iter().for_each(|i| adf_text(i, out)),
        _ => {}
    }
}

const VERBS: [&str; 8] = [
    "Fix",
    "Investigate",
    "Add",
    "Improve",
    "Refactor",
    "Document",
    "Remove",
    "Update",
];
const OBJECTS: [&str; 15] = [
    "login timeout",
    "search results paging",
    "billing export",
    "dashboard widgets",
    "webhook retries",
    "password reset email",
    "CSV import",
    "audit log",
    "rate limiter",
    "SSO settings",
    "invoice PDF",
    "notification preferences",
    "mobile layout",
    "API token rotation",
    "release checklist",
];
const CONTEXTS: [&str; 8] = [
    "on Safari",
    "for large tenants",
    "in the admin console",
    "after upgrade",
    "for EU customers",
    "",
    "in staging",
    "under load",
];
const LABELS: [&[&str]; 6] = [
    &[],
    &["backend"],
    &["frontend"],
    &["backend", "urgent"],
    &["ux"],
    &["customer"],
];

/// 2025-03-03T08:00:00Z: every seeded timestamp is after it and before mid-2025.
const BASE_TIME: u64 = 1_740_988_800;
/// Seeded issues' creation dates are spread over this many seconds (120 days).
const SPAN: u64 = 120 * 86_400;

struct ProjectSeed {
    key: &'static str,
    name: &'static str,
    lead: usize,
    issues: u64,
    read_only: bool,
}

/// Builds the seed for every site.
pub(crate) fn build() -> Vec<SiteData> {
    let plans: [(&'static SiteInfo, &[ProjectSeed]); 3] = [
        (
            &SITES[0],
            &[
                ProjectSeed {
                    key: "PLAT",
                    name: "Platform",
                    lead: ALICE,
                    issues: 264,
                    read_only: false,
                },
                ProjectSeed {
                    key: "WEB",
                    name: "Web Storefront",
                    lead: CAROL,
                    issues: 36,
                    read_only: false,
                },
                ProjectSeed {
                    key: "OPS",
                    name: "Operations",
                    lead: DAVE,
                    issues: 14,
                    read_only: false,
                },
                ProjectSeed {
                    key: "SEC",
                    name: "Security Audit",
                    lead: DAVE,
                    issues: 6,
                    read_only: true,
                },
            ],
        ),
        (
            &SITES[1],
            &[
                ProjectSeed {
                    key: "TPS",
                    name: "TPS Reports",
                    lead: ALICE,
                    issues: 30,
                    read_only: false,
                },
                ProjectSeed {
                    key: "INFRA",
                    name: "Infrastructure",
                    lead: CAROL,
                    issues: 12,
                    read_only: false,
                },
            ],
        ),
        (
            &SITES[2],
            &[
                ProjectSeed {
                    key: "GLX",
                    name: "Globex Core",
                    lead: BOB,
                    issues: 40,
                    read_only: false,
                },
                ProjectSeed {
                    key: "HR",
                    name: "People Ops",
                    lead: DAVE,
                    issues: 9,
                    read_only: false,
                },
            ],
        ),
    ];
    plans
        .iter()
        .enumerate()
        .map(|(s, (info, projects))| build_site(s as u64, info, projects))
        .collect()
}

fn build_site(site_no: u64, info: &'static SiteInfo, plan: &[ProjectSeed]) -> SiteData {
    let projects: Vec<Project> = plan
        .iter()
        .enumerate()
        .map(|(i, p)| Project {
            id: 10_000 + i as u64,
            key: p.key.to_string(),
            name: p.name.to_string(),
            lead: p.lead,
            read_only: p.read_only,
        })
        .collect();
    let members: Vec<usize> = (0..USERS.len())
        .filter(|&u| USERS[u].sites.contains(&info.cloud_id))
        .collect();
    // The user with several sites is assigned on acme/initech, bob on globex.
    let main_user = if info.cloud_id == GLOBEX { BOB } else { ALICE };
    let others: Vec<usize> = members
        .iter()
        .copied()
        .filter(|&u| u != main_user)
        .collect();

    let mut issues = Vec::new();
    let mut comment_id = 10_000u64;
    for (p, seed) in plan.iter().enumerate() {
        let step = SPAN / seed.issues;
        for n in 1..=seed.issues {
            let h = mix(site_no << 40 | (p as u64) << 20 | n);
            let created = BASE_TIME + (n - 1) * step + (p as u64) * 1237 + h % 3600;
            let updated = created + (h >> 8) % (20 * 86_400);
            let assignee = match n % 5 {
                1 | 2 => Some(main_user),
                3 => others.first().copied(),
                4 => others.last().copied(),
                _ => None,
            };
            let status = match (n * 7 + p as u64) % 4 {
                0 => TODO,
                1 => IN_PROGRESS,
                2 => DONE,
                _ => IN_REVIEW,
            };
            let summary = format!(
                "{} {} {}",
                VERBS[(h % 8) as usize],
                OBJECTS[((h >> 4) % 15) as usize],
                CONTEXTS[((h >> 12) % 8) as usize]
            )
            .trim_end()
            .to_string();
            let reporter = members[((h >> 16) % members.len() as u64) as usize];
            let description = (n % 6 != 0).then(|| {
                adf(&format!(
                    "{summary}. Reported by {}. Expected behaviour is described in the runbook.",
                    USERS[reporter].name
                ))
            });
            let mut comments = Vec::new();
            if n % 6 == 1 {
                let author = others[(n as usize / 6) % others.len()];
                comment_id += 1;
                comments.push(Comment {
                    id: comment_id,
                    author,
                    body: adf("Looked into this; it reproduces on the latest build."),
                    created: created + 3600,
                    updated: created + 3600,
                });
                if n % 12 == 1 {
                    comment_id += 1;
                    comments.push(Comment {
                        id: comment_id,
                        author: main_user,
                        body: adf("Thanks, I will pick it up this sprint."),
                        created: created + 7200,
                        updated: created + 7200,
                    });
                }
            }
            // Jira's autowatch: reporter and assignee; the main user also watches every 7th.
            let mut watchers = vec![reporter];
            watchers.extend(assignee);
            if n % 7 == 0 {
                watchers.push(main_user);
            }
            watchers.sort_unstable();
            watchers.dedup();
            issues.push(Issue {
                id: 0,
                project: p,
                number: n,
                summary,
                description,
                status,
                issue_type: ((h >> 20) % 3) as usize,
                priority: [1, 2, 2, 2, 3, 0, 4][((h >> 24) % 7) as usize],
                assignee,
                reporter,
                labels: LABELS[((h >> 28) % 6) as usize]
                    .iter()
                    .map(|l| l.to_string())
                    .collect(),
                watchers,
                // Every third issue is due on a day of 2026.
                duedate: matches!(h % 3, 0)
                    .then(|| format!("2026-{:02}-{:02}", 1 + (h >> 8) % 12, 1 + (h >> 12) % 28)),
                created,
                updated,
                comments,
            });
        }
    }
    // Ids grow with creation time across projects, as in Jira.
    issues.sort_by_key(|i| (i.created, i.project, i.number));
    for (k, issue) in issues.iter_mut().enumerate() {
        issue.id = 10_000 + k as u64;
    }
    let next_issue_id = 10_000 + issues.len() as u64;
    SiteData {
        info,
        projects,
        issues,
        next_issue_id,
        next_comment_id: comment_id + 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_is_deterministic_and_large_enough() {
        let a = build();
        let b = build();
        assert_eq!(a.len(), 3);
        for (x, y) in a.iter().zip(&b) {
            assert_eq!(x.issues.len(), y.issues.len());
            for (i, j) in x.issues.iter().zip(&y.issues) {
                assert_eq!(
                    (i.id, &i.summary, i.created, i.status),
                    (j.id, &j.summary, j.created, j.status)
                );
            }
        }
        assert!(a[0].issues.len() >= 250);
        let alice_open = a[0]
            .issues
            .iter()
            .filter(|i| i.assignee == Some(ALICE) && STATUSES[i.status].category.key != "done")
            .count();
        assert!(alice_open > 50, "{alice_open}");
    }

    #[test]
    fn lookups_work() {
        let sites = build();
        let acme = &sites[0];
        let idx = acme.find_issue("plat-7").unwrap();
        assert_eq!(acme.issue_key(&acme.issues[idx]), "PLAT-7");
        let id = acme.issues[idx].id.to_string();
        assert_eq!(acme.find_issue(&id), Some(idx));
        assert!(acme.find_issue("PLAT-9999").is_none());
        assert_eq!(acme.find_project("web"), Some(1));
        assert_eq!(acme.find_project("10002"), Some(2));
    }

    #[test]
    fn users_have_expected_sites() {
        assert_eq!(USERS[ALICE].sites.len(), 2);
        assert_eq!(USERS[BOB].sites.len(), 1);
        assert!(SITES
            .iter()
            .any(|s| s.confluence && USERS[ALICE].sites.contains(&s.cloud_id)));
    }
}
