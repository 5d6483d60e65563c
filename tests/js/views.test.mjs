// The popup's views and saved filters (www/views.js): the list, validation, the synced record, migration.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  BUILT_IN_VIEWS, DEFAULT_VIEW, MAX_FILTERS, addFilter, allViews, badgeView, deleteFilter, emptyState, migrate,
  normalizeState, setBadge, updateFilter, validateFilter, viewById,
} from '../../www/views.js';

/** A deterministic "random" for filter ids. */
const seq = () => {
  let n = 0;
  return () => ((n += 1) * 0.0137) % 1;
};

test('built-in views come first, each with its JQL; saved filters follow in order', () => {
  assert.deepEqual(BUILT_IN_VIEWS.map((v) => v.id), ['assigned', 'reported', 'watching', 'recent']);
  assert.equal(DEFAULT_VIEW, 'assigned');
  assert.match(viewById(emptyState(), 'assigned').jql, /^assignee = currentUser\(\) AND statusCategory != Done/);
  assert.match(viewById(emptyState(), 'reported').jql, /^reporter = currentUser\(\)/);
  assert.match(viewById(emptyState(), 'watching').jql, /^watcher = currentUser\(\)/);
  assert.match(viewById(emptyState(), 'recent').jql, /^updated >= -7d ORDER BY updated DESC$/);
  const a = addFilter(emptyState(), { name: ' Bugs ', jql: ' type = Bug ' }, seq());
  assert.ok(a.ok);
  const b = addFilter(a.state, { name: 'Urgent', jql: 'labels = urgent' }, seq());
  assert.ok(b.ok);
  const views = allViews(b.state);
  assert.deepEqual(views.map((v) => v.name), ['Assigned to me', 'Reported by me', 'Watching', 'Recently updated', 'Bugs', 'Urgent']);
  assert.deepEqual(views.slice(4).map((v) => [v.jql, v.builtIn]), [['type = Bug', false], ['labels = urgent', false]]);
  assert.notEqual(b.filter.id, a.filter.id, 'ids are unique even from the same random sequence');
  assert.equal(viewById(b.state, 'gone').id, 'assigned', 'a deleted view falls back to the default');
});

test('filter validation: typed codes, nothing changes on a refusal', () => {
  const s = addFilter(emptyState(), { name: 'Bugs', jql: 'type = Bug' }, seq()).state;
  const code = (input, except) => validateFilter(input, s.filters, except)?.code ?? null;
  assert.equal(code({ name: '', jql: 'x = y' }), 'name_required');
  assert.equal(code({ name: '   ', jql: 'x = y' }), 'name_required');
  assert.equal(code({ name: 'x'.repeat(61), jql: 'x = y' }), 'name_too_long');
  assert.equal(code({ name: 'bugs', jql: 'x = y' }), 'name_taken', 'names compare case-insensitively');
  assert.equal(code({ name: 'Watching', jql: 'x = y' }), 'name_taken', 'a built-in name is taken');
  assert.equal(code({ name: 'Bugs', jql: 'type = Bug' }, s.filters[0].id), null, 'keeping its own name on an edit');
  assert.equal(code({ name: 'New', jql: '  ' }), 'jql_required');
  assert.equal(code({ name: 'New', jql: 'x'.repeat(1001) }), 'jql_too_long');
  assert.equal(code({ name: 'New', jql: 'project = A' }), null);
  const refused = addFilter(s, { name: '', jql: 'x' });
  assert.equal(refused.ok, false);
  assert.equal(refused.error.field, 'name');
  let full = emptyState();
  for (let i = 0; i < MAX_FILTERS; i++) full = addFilter(full, { name: `F${i}`, jql: `project = P${i}` }).state;
  assert.equal(addFilter(full, { name: 'One more', jql: 'project = X' }).error.code, 'too_many');
  // The synced record stays under chrome.storage.sync's 8 KB per item.
  let big = emptyState();
  let last;
  for (let i = 0; i < MAX_FILTERS; i++) {
    last = addFilter(big, { name: `Big ${i}`, jql: `text ~ "${'y'.repeat(900)}"` });
    if (!last.ok) break;
    big = last.state;
  }
  assert.equal(last.ok, false);
  assert.equal(last.error.code, 'too_large');
  assert.ok(new TextEncoder().encode(JSON.stringify(big)).length <= 8192);
});

test('rename, edit, delete; the badge follows a deleted filter back to the default', () => {
  const added = addFilter(emptyState(), { name: 'Bugs', jql: 'type = Bug' }, seq());
  const id = added.filter.id;
  let s = setBadge(added.state, id);
  assert.equal(badgeView(s).name, 'Bugs');
  const renamed = updateFilter(s, id, { name: 'All bugs', jql: 'type = Bug ORDER BY created DESC' });
  assert.ok(renamed.ok);
  s = renamed.state;
  assert.deepEqual(s.filters, [{ id, name: 'All bugs', jql: 'type = Bug ORDER BY created DESC' }]);
  assert.equal(updateFilter(s, id, { name: 'Watching', jql: 'x' }).error.code, 'name_taken');
  assert.equal(updateFilter(s, 'nope', { name: 'A', jql: 'x' }).error.code, 'not_found');
  assert.equal(setBadge(s, 'nope'), s, 'an unknown badge view is refused');
  s = deleteFilter(s, id);
  assert.deepEqual(s.filters, []);
  assert.equal(s.badge, 'assigned');
  assert.equal(setBadge(s, 'watching').badge, 'watching');
});

test('an unreadable or hand-edited record loses only what is broken', () => {
  assert.deepEqual(normalizeState(undefined), emptyState());
  assert.deepEqual(normalizeState({ version: 2, filters: [] }), emptyState(), 'another version');
  assert.deepEqual(normalizeState('x'), emptyState());
  const s = normalizeState({
    version: 1,
    badge: 'f2',
    filters: [
      { id: 'f1', name: 'Good', jql: 'project = A' },
      { id: 'f1', name: 'Duplicate id', jql: 'project = B' },
      { id: 'assigned', name: 'Shadows a built-in', jql: 'project = C' },
      { id: 'f2', name: '', jql: 'project = D' },
      { id: 'f3', name: 'No JQL' },
      null,
    ],
  });
  assert.deepEqual(s.filters, [{ id: 'f1', name: 'Good', jql: 'project = A' }]);
  assert.equal(s.badge, 'assigned', 'the badge counted a dropped filter');
});

test('migration of the old badgeJql option: no user setting lost', () => {
  // Nothing set: nothing to write or remove.
  assert.deepEqual(migrate(undefined, undefined), { state: emptyState(), changed: false, absorbed: false });
  // The old default: the built-in "Assigned to me", recorded once.
  const def = migrate(undefined, 'assignee = currentUser() AND statusCategory != Done');
  assert.deepEqual(def, { state: emptyState(), changed: true, absorbed: true });
  // A JQL of the user's own: a saved filter "Badge" that the badge counts.
  const own = migrate(undefined, ' project = OPS AND priority = High ', seq());
  assert.equal(own.changed, true);
  assert.equal(own.absorbed, true);
  assert.equal(own.state.filters.length, 1);
  assert.equal(own.state.filters[0].name, 'Badge');
  assert.equal(own.state.filters[0].jql, 'project = OPS AND priority = High');
  assert.equal(badgeView(own.state).jql, 'project = OPS AND priority = High');
  // Run again with the record it wrote (the old option not yet removed): nothing changes.
  const again = migrate(own.state, 'project = OPS AND priority = High');
  assert.deepEqual(again, { state: own.state, changed: false, absorbed: true });
  // A record synced from another browser keeps its badge; this browser's JQL is added as a filter.
  const other = { version: 1, filters: [{ id: 'fa', name: 'Badge', jql: 'project = WEB' }], badge: 'watching' };
  const merged = migrate(other, 'project = OPS', seq());
  assert.equal(merged.changed, true);
  assert.deepEqual(merged.state.filters.map((f) => [f.name, f.jql]), [['Badge', 'project = WEB'], ['Badge 2', 'project = OPS']]);
  assert.equal(merged.state.badge, 'watching');
  // The same JQL already saved (fresh record impossible here, so only the badge choice on a new record).
  assert.equal(migrate(other, 'project = WEB').changed, false);
  // No room for it: the old setting stays where it is.
  let full = emptyState();
  for (let i = 0; i < MAX_FILTERS; i++) full = addFilter(full, { name: `F${i}`, jql: `project = P${i}` }).state;
  assert.deepEqual(migrate(full, 'project = Z'), { state: full, changed: false, absorbed: false });
});
