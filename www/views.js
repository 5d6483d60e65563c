// @ts-check
// The popup's views: the built-in ones (Assigned to me, Reported by me, Watching, Recently updated) and the
// user's saved JQL filters, which live in chrome.storage.sync so they follow the user to every browser they
// sign in to. The badge counts one of them. Pure, unit-tested in tests/js/views.test.mjs; the small storage
// glue at the end is only called in the extension.

/**
 * chrome.storage.sync key of the saved filters and the badge's choice: one record,
 * `{version: 1, filters: [{id, name, jql}], badge: <view id>}`.
 */
export const FILTERS_KEY = 'jira3lo.filters';
export const VERSION = 1;
/** Limits that keep the record inside chrome.storage.sync's 8 KB per item (QUOTA_BYTES_PER_ITEM). */
export const MAX_FILTERS = 20;
export const MAX_NAME = 60;
export const MAX_JQL = 1000;
const QUOTA_BYTES_PER_ITEM = 8192;

/** @typedef {{ id: string, name: string, jql: string }} Filter */
/** @typedef {{ id: string, name: string, jql: string, builtIn: boolean }} View */
/** @typedef {{ version: number, filters: Filter[], badge: string }} ViewsState */

/** @type {readonly View[]} */
export const BUILT_IN_VIEWS = Object.freeze([
  { id: 'assigned', name: 'Assigned to me', jql: 'assignee = currentUser() AND statusCategory != Done ORDER BY updated DESC', builtIn: true },
  { id: 'reported', name: 'Reported by me', jql: 'reporter = currentUser() ORDER BY created DESC', builtIn: true },
  { id: 'watching', name: 'Watching', jql: 'watcher = currentUser() ORDER BY updated DESC', builtIn: true },
  { id: 'recent', name: 'Recently updated', jql: 'updated >= -7d ORDER BY updated DESC', builtIn: true },
]);

export const DEFAULT_VIEW = 'assigned';

/** @returns {ViewsState} */
export const emptyState = () => ({ version: VERSION, filters: [], badge: DEFAULT_VIEW });

/**
 * Every view in switcher order: the built-in ones, then the saved filters.
 * @param {ViewsState} state
 * @returns {View[]}
 */
export function allViews(state) {
  return [...BUILT_IN_VIEWS, ...(state?.filters ?? []).map((f) => ({ ...f, builtIn: false }))];
}

/**
 * The view with this id, or the default one when it is gone (a filter deleted on another device).
 * @param {ViewsState} state
 * @param {string | undefined} id
 */
export function viewById(state, id) {
  const views = allViews(state);
  return views.find((v) => v.id === id) ?? views[0];
}

/** The view the badge counts. @param {ViewsState} state */
export const badgeView = (state) => viewById(state, state?.badge);

/**
 * What is wrong with a filter, or null. Codes: `name_required`, `name_too_long`, `name_taken`,
 * `jql_required`, `jql_too_long`, `too_many`.
 * @param {{ name?: string, jql?: string }} input
 * @param {Filter[]} filters the saved filters (the one being renamed is skipped by `exceptId`)
 * @param {string} [exceptId]
 * @returns {null | { code: string, message: string, field: 'name' | 'jql' }}
 */
export function validateFilter(input, filters, exceptId) {
  const name = String(input?.name ?? '').trim();
  const jql = String(input?.jql ?? '').trim();
  const others = filters.filter((f) => f.id !== exceptId);
  if (!name) return { code: 'name_required', message: 'Give the filter a name.', field: 'name' };
  if (name.length > MAX_NAME) return { code: 'name_too_long', message: `Keep the name under ${MAX_NAME + 1} characters.`, field: 'name' };
  const lower = name.toLowerCase();
  if ([...BUILT_IN_VIEWS, ...others].some((v) => v.name.toLowerCase() === lower)) {
    return { code: 'name_taken', message: `A view named “${name}” exists already.`, field: 'name' };
  }
  if (!jql) return { code: 'jql_required', message: 'Enter the JQL the filter lists.', field: 'jql' };
  if (jql.length > MAX_JQL) return { code: 'jql_too_long', message: `Keep the JQL under ${MAX_JQL + 1} characters.`, field: 'jql' };
  if (!exceptId && others.length >= MAX_FILTERS) return { code: 'too_many', message: `At most ${MAX_FILTERS} saved filters.`, field: 'name' };
  return null;
}

/** A new filter id, unique among `filters` (short: it is stored in the synced record). */
export function newFilterId(filters, random = Math.random) {
  for (;;) {
    const id = `f${Math.floor(random() * 36 ** 6).toString(36)}`;
    if (!filters.some((f) => f.id === id) && !BUILT_IN_VIEWS.some((v) => v.id === id)) return id;
  }
}

/**
 * Adds a filter, or explains why not (nothing changes then).
 * @param {ViewsState} state
 * @param {{ name: string, jql: string }} input
 * @returns {{ ok: true, state: ViewsState, filter: Filter } | { ok: false, error: { code: string, message: string, field: string } }}
 */
export function addFilter(state, input, random = Math.random) {
  const error = validateFilter(input, state.filters) ?? quotaError({ ...state, filters: [...state.filters, { id: 'f000000', name: input.name.trim(), jql: input.jql.trim() }] });
  if (error) return { ok: false, error };
  const filter = { id: newFilterId(state.filters, random), name: input.name.trim(), jql: input.jql.trim() };
  return { ok: true, state: { ...state, filters: [...state.filters, filter] }, filter };
}

/**
 * Renames or edits a saved filter (built-in views cannot be changed).
 * @param {ViewsState} state
 * @param {string} id
 * @param {{ name: string, jql: string }} input
 */
export function updateFilter(state, id, input) {
  if (!state.filters.some((f) => f.id === id)) return { ok: false, error: { code: 'not_found', message: 'That filter was deleted meanwhile.', field: 'name' } };
  const filters = state.filters.map((f) => (f.id === id ? { id, name: input.name.trim(), jql: input.jql.trim() } : f));
  const error = validateFilter(input, state.filters, id) ?? quotaError({ ...state, filters });
  if (error) return { ok: false, error };
  return { ok: true, state: { ...state, filters } };
}

/** Deletes a saved filter; a badge that counted it goes back to the default view. */
export function deleteFilter(state, id) {
  return { ...state, filters: state.filters.filter((f) => f.id !== id), badge: state.badge === id ? DEFAULT_VIEW : state.badge };
}

/** Chooses what the badge counts (an unknown id is refused: the state is returned as it was). */
export function setBadge(state, id) {
  return allViews(state).some((v) => v.id === id) ? { ...state, badge: id } : state;
}

function quotaError(state) {
  const bytes = new TextEncoder().encode(JSON.stringify(state)).length + FILTERS_KEY.length;
  return bytes > QUOTA_BYTES_PER_ITEM ? { code: 'too_large', message: 'The saved filters are too large to sync; shorten or delete some.', field: 'jql' } : null;
}

/**
 * The stored record made safe to use: anything unreadable (another version, a hand-edited record, missing
 * members) becomes an empty state or loses only the broken entries.
 * @param {unknown} raw
 * @returns {ViewsState}
 */
export function normalizeState(raw) {
  const r = /** @type {any} */ (raw);
  if (!r || typeof r !== 'object' || r.version !== VERSION || !Array.isArray(r.filters)) return emptyState();
  const seen = new Set(BUILT_IN_VIEWS.map((v) => v.id));
  const filters = [];
  for (const f of r.filters) {
    if (!f || typeof f.id !== 'string' || typeof f.name !== 'string' || typeof f.jql !== 'string') continue;
    if (seen.has(f.id) || !f.name.trim() || !f.jql.trim()) continue;
    seen.add(f.id);
    filters.push({ id: f.id, name: f.name, jql: f.jql });
  }
  const state = { version: VERSION, filters, badge: DEFAULT_VIEW };
  return setBadge(state, typeof r.badge === 'string' ? r.badge : DEFAULT_VIEW);
}

/** The old default of the badge option (before views): counting it needs no saved filter. */
const LEGACY_DEFAULT_BADGE_JQL = 'assignee = currentUser() AND statusCategory != Done';

/**
 * Moves the options page's old `badgeJql` (chrome.storage.local) into the synced views: a JQL of its own
 * becomes a saved filter "Badge" that the badge counts, unless a saved filter has that JQL already (then
 * the badge counts that one when this is a new record). The old default JQL is the built-in "Assigned to
 * me". `changed`: the record must be written; `absorbed`: the old setting is in the record now, so the
 * caller removes `badgeJql` (after writing). No room for another filter: neither, the old setting stays.
 * @param {unknown} stored the synced record, or undefined when there is none yet
 * @param {string | undefined} legacyJql
 * @returns {{ state: ViewsState, changed: boolean, absorbed: boolean }}
 */
export function migrate(stored, legacyJql, random = Math.random) {
  const fresh = stored === undefined || stored === null;
  let state = normalizeState(stored);
  const jql = String(legacyJql ?? '').trim();
  if (!jql) return { state, changed: false, absorbed: legacyJql !== undefined };
  if (jql === LEGACY_DEFAULT_BADGE_JQL) return { state, changed: fresh, absorbed: true };
  const same = state.filters.find((f) => f.jql.trim() === jql);
  if (same) return { state: fresh ? { ...state, badge: same.id } : state, changed: fresh, absorbed: true };
  let name = 'Badge';
  for (let n = 2; validateFilter({ name, jql }, state.filters)?.code === 'name_taken'; n++) name = `Badge ${n}`;
  const added = addFilter(state, { name, jql: jql.slice(0, MAX_JQL) }, random);
  if (!added.ok) return { state, changed: false, absorbed: false };
  state = added.state;
  // A record that came from another browser keeps its badge choice; the filter is there to pick.
  if (fresh) state = { ...state, badge: added.filter.id };
  return { state, changed: true, absorbed: true };
}

// ---- storage glue (extension only) ----------------------------------------------------------------

const OPTIONS_KEY = 'jira3lo.options'; // config.js's key, where the old badgeJql lives

/** The synced record, with the old badgeJql option migrated into it (written once, then removed). */
export async function loadViewsState() {
  const [synced, local] = await Promise.all([chrome.storage.sync.get(FILTERS_KEY), chrome.storage.local.get(OPTIONS_KEY)]);
  const options = local[OPTIONS_KEY] ?? {};
  const { state, changed, absorbed } = migrate(synced[FILTERS_KEY], options.badgeJql);
  if (changed) await chrome.storage.sync.set({ [FILTERS_KEY]: state });
  if (absorbed && options.badgeJql !== undefined) {
    // The setting lives in the synced record now: drop the old copy, only after the write above.
    const rest = { ...options };
    delete rest.badgeJql;
    await chrome.storage.local.set({ [OPTIONS_KEY]: rest });
  }
  return state;
}

/** @param {ViewsState} state */
export async function saveViewsState(state) {
  await chrome.storage.sync.set({ [FILTERS_KEY]: state });
}

/** Calls `callback(state)` when the synced record changes (this browser or another one). */
export function onViewsChanged(callback) {
  chrome.storage.onChanged.addListener((changes, area) => {
    if (area === 'sync' && FILTERS_KEY in changes) callback(normalizeState(changes[FILTERS_KEY].newValue));
  });
}
