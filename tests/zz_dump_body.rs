mod support;
use jira_3lo::jira::requests;
use jira_3lo::jira::SearchParams;
use jira_3lo::session::Status;
#[tokio::test(flavor = "current_thread")]
async fn dump() {
    let env = support::start().await;
    let session = env.session();
    if let Status::SiteSelectionRequired { sites } = env.sign_in(&session).await {
        let acme = sites.iter().find(|s| s.name == "acme").unwrap();
        session.choose_site(&acme.id).await.unwrap();
    }
    let mut p = SearchParams::new("project = PLAT ORDER BY key ASC");
    p.max_results = Some(50);
    p.fields = Some(vec!["*all".into()]);
    let r = session.send(requests::search(&p)).await.unwrap();
    std::fs::write("/tmp/search50.json", &r.body).unwrap();
    let mut p = SearchParams::new("project = PLAT ORDER BY key ASC");
    p.max_results = Some(50);
    let r = session.send(requests::search(&p)).await.unwrap();
    std::fs::write("/tmp/search50_default.json", &r.body).unwrap();
}
