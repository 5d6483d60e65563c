// Baseline for `cargo xtask bench popup`: the same single search request the popup makes, written by hand in
// plain JavaScript (no wasm, no token storage, no refresh logic), rendering the same rows.
// The benchmark injects {apiBaseUrl, cloudId, accessToken} as globalThis.__bench before this page loads.
const { apiBaseUrl, cloudId, accessToken } = globalThis.__bench ?? {};
const JQL = 'assignee = currentUser() AND statusCategory != Done ORDER BY updated DESC';
const FIELDS = ['summary', 'status', 'issuetype', 'priority', 'updated', 'project'];

const url = new URL(`${apiBaseUrl}/ex/jira/${encodeURIComponent(cloudId)}/rest/api/3/search/jql`);
url.searchParams.set('jql', JQL);
url.searchParams.set('fields', FIELDS.join(','));
url.searchParams.set('maxResults', '30');
const res = await fetch(url, { headers: { Authorization: `Bearer ${accessToken}`, Accept: 'application/json' } });
const page = await res.json();
const list = document.getElementById('issues');
for (const issue of page.issues ?? []) {
  const row = document.createElement('button');
  row.className = 'issue-row';
  const key = document.createElement('span');
  key.className = 'issue-key';
  key.textContent = issue.key;
  const summary = document.createElement('span');
  summary.className = 'issue-summary';
  summary.textContent = issue.fields?.summary ?? '';
  row.append(key, summary);
  const li = document.createElement('li');
  li.append(row);
  list.append(li);
}
performance.mark('jira3lo:first-issues');
