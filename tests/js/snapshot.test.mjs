// The popup's first-paint snapshots (www/snapshot.js): what is kept, how much, for which site, and when it goes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  MAX_ROWS, MAX_SITES, MAX_TEXT, SNAPSHOT_VERSION, currentSnapshot, emptyStore, isSignOutChange, parseStore, rowOf,
  siteSnapshot, withCurrent, withSnapshot,
} from '../../www/snapshot.js';

const SITE = { id: 'cloud-1', name: 'Acme', url: 'https://acme.atlassian.net', scopes: ['read:jira-work'], avatarUrl: 'https://x/a.png' };
const JQL = 'assignee = currentUser() AND statusCategory != Done ORDER BY updated DESC';

/** An issue as Jira's search answers it, with more than a row paints. */
const issue = (n, extra = {}) => ({
  id: String(1000 + n),
  key: `PLAT-${n}`,
  self: `https://api.example/rest/api/3/issue/${1000 + n}`,
  expand: 'renderedFields',
  fields: {
    summary: `Summary ${n}`,
    status: { name: 'In Progress', id: '3', self: 'https://x', statusCategory: { key: 'indeterminate', colorName: 'yellow', id: 4 } },
    issuetype: { name: 'Task', iconUrl: 'https://x/i.png' },
    priority: { name: 'High', id: '2' },
    updated: '2024-05-01T10:00:00.000+0000',
    project: { key: 'PLAT', name: 'Platform', id: '10000' },
    description: { type: 'doc', content: [] },
    assignee: { accountId: 'abc', emailAddress: 'bob@example.com' },
    ...extra,
  },
});

test('a row keeps exactly what paints it, and nothing else of the answer', () => {
  assert.deepEqual(rowOf(issue(1)), {
    key: 'PLAT-1',
    fields: {
      summary: 'Summary 1',
      status: { name: 'In Progress', statusCategory: { key: 'indeterminate', colorName: 'yellow' } },
      issuetype: { name: 'Task' },
      priority: { name: 'High' },
      updated: '2024-05-01T10:00:00.000+0000',
      project: { key: 'PLAT' },
      assignee: { accountId: 'abc' },
    },
  });
  assert.deepEqual(rowOf({ key: 'X-1' }), { key: 'X-1', fields: {} }, 'missing fields stay missing');
  assert.equal(rowOf({ fields: {} }), null, 'no key, no row');
  assert.equal(rowOf(null), null);
  assert.equal(rowOf({ key: 'X-2', fields: { summary: 'x'.repeat(5000) } }).fields.summary.length, MAX_TEXT, 'texts are cut');
  assert.deepEqual(rowOf({ key: 'X-3', fields: { summary: { evil: true }, status: 'Done' } }), { key: 'X-3', fields: {} }, 'wrong types are dropped');
});

test('a site snapshot: site id, name and url only, rows capped, the view and its JQL', () => {
  const issues = Array.from({ length: MAX_ROWS + 5 }, (_, i) => issue(i));
  const snap = siteSnapshot({ site: SITE, jql: JQL, issues, now: 42 });
  assert.deepEqual(snap.site, { id: 'cloud-1', name: 'Acme', url: 'https://acme.atlassian.net' });
  assert.equal(snap.rows.length, MAX_ROWS);
  assert.equal(snap.more, true, 'more rows than kept: the count says so');
  assert.equal(snap.jql, JQL);
  assert.equal(snap.query, null);
  assert.equal(snap.savedAt, 42);
  const few = siteSnapshot({ site: SITE, jql: 'text ~ "x"', query: 'x', issues: [issue(1)], more: false });
  assert.equal(few.more, false);
  assert.equal(few.query, 'x');
  assert.equal(siteSnapshot({ site: {}, jql: JQL, issues: [] }), null, 'no site id, no snapshot');
  assert.equal(siteSnapshot({ site: SITE, jql: undefined, issues: [] }), null);
});

test('no token, code or secret-shaped field is ever copied into a snapshot', () => {
  const sneaky = issue(7, { accessToken: 'at-secret', refresh_token: 'rt-secret' });
  const site = { ...SITE, accessToken: 'at-secret', token: 'rt-secret' };
  const store = withSnapshot(emptyStore(), siteSnapshot({ site, jql: JQL, issues: [{ ...sneaky, token: 'rt-secret' }] }));
  const json = JSON.stringify(store);
  assert.ok(!json.includes('secret'), json);
  assert.ok(!json.includes('bob@example.com'), 'fields the row does not paint are not kept');
});

test('per site: the painted site becomes current; the least recently painted beyond MAX_SITES go', () => {
  let store = emptyStore();
  assert.equal(currentSnapshot(store), null);
  for (let i = 0; i < MAX_SITES + 2; i++) {
    store = withSnapshot(store, siteSnapshot({ site: { ...SITE, id: `s${i}` }, jql: JQL, issues: [issue(i)], now: i }));
  }
  assert.equal(Object.keys(store.sites).length, MAX_SITES);
  assert.ok(!('s0' in store.sites) && !('s1' in store.sites), 'the oldest went');
  assert.equal(store.current, `s${MAX_SITES + 1}`);
  assert.equal(currentSnapshot(store).rows[0].key, `PLAT-${MAX_SITES + 1}`);
  // A switch to a site before its list was painted: the first paint shows that site's snapshot (or none).
  store = withCurrent(store, 's3');
  assert.equal(currentSnapshot(store).site.id, 's3');
  assert.equal(currentSnapshot(withCurrent(store, 'unknown')), null);
});

test('what is stored is checked before it is painted', () => {
  const good = withSnapshot(emptyStore(), siteSnapshot({ site: SITE, jql: JQL, issues: [issue(1)] }));
  assert.deepEqual(parseStore(JSON.parse(JSON.stringify(good))), good);
  for (const bad of [undefined, null, 'x', [], {}, { ...good, v: SNAPSHOT_VERSION + 1 }, { ...good, sites: [] }]) {
    assert.deepEqual(parseStore(bad), emptyStore(), JSON.stringify(bad));
  }
  const mislabelled = { ...good, sites: { other: good.sites['cloud-1'], broken: { site: { id: 'broken' } } } };
  assert.deepEqual(parseStore(mislabelled).sites, {}, 'a snapshot filed under another site id, or without rows, is dropped');
});

test('a removed grant record is a sign-out; a rotated one, another area or another key is not', () => {
  assert.equal(isSignOutChange({ 'jira3lo:default:refresh': { oldValue: { v: 1 } } }, 'local'), true);
  assert.equal(isSignOutChange({ 'jira3lo:other:refresh': { oldValue: 'x', newValue: undefined } }, 'local'), true);
  assert.equal(isSignOutChange({ 'jira3lo:default:refresh': { oldValue: 'a', newValue: 'b' } }, 'local'), false, 'a rotation');
  assert.equal(isSignOutChange({ 'jira3lo:default:refresh': { newValue: 'b' } }, 'local'), false, 'a sign-in');
  assert.equal(isSignOutChange({ 'jira3lo:default:refresh': { oldValue: 'a' } }, 'session'), false);
  assert.equal(isSignOutChange({ 'jira3lo:default:access': { oldValue: 'a' } }, 'local'), false);
  assert.equal(isSignOutChange({ 'jira3lo.options': { oldValue: 'a' } }, 'local'), false);
});
