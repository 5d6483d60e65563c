// @ts-check
// The popup's first paint without waiting for the module: per Jira site, the last list view painted from
// fresh data (rows as needed to paint them, the count, the site's name, which view/JQL) is kept in
// chrome.storage.session under SNAPSHOT_KEY. The next popup reads it in one storage call and paints it
// while the wasm module loads, then the real client revalidates and updates the rows in place.
//
// What a snapshot holds is picked field by field (never a whole Jira answer, never a token); it is bounded
// (MAX_ROWS rows, MAX_TEXT characters a text, MAX_SITES sites) and lives in the session area, which the
// browser empties when it quits. A sign-out anywhere clears it (see isSignOutChange): a signed-out user, or
// the next account, never sees the previous account's rows.

/** chrome.storage.session key of the snapshots (outside the module's own `jira3lo:` namespace). */
export const SNAPSHOT_KEY = 'jira3lo.snapshot';
/** The stored shape's version: a snapshot of another version is ignored (and overwritten by the next paint). */
export const SNAPSHOT_VERSION = 1;
/** Rows kept per site: one page of the list (the popup asks for 30). */
export const MAX_ROWS = 30;
/** Sites kept: the least recently painted ones go first. */
export const MAX_SITES = 5;
/** Longest text kept (a summary, a status name...): enough to paint a row, bounded whatever Jira sends. */
export const MAX_TEXT = 300;

/**
 * @typedef {{ id: string, name: string, url: string }} SnapshotSite
 * @typedef {{ key: string, fields: {
 *   summary?: string,
 *   status?: { name: string, statusCategory?: { key?: string, colorName?: string } },
 *   issuetype?: { name: string },
 *   priority?: { name: string },
 *   updated?: string,
 *   project?: { key: string },
 *   assignee?: { accountId?: string, displayName?: string } | null,
 * } }} SnapshotRow
 * @typedef {{ site: SnapshotSite, jql: string, query: string | null, rows: SnapshotRow[], more: boolean, savedAt: number }} SiteSnapshot
 * @typedef {{ v: number, current: string | null, sites: Record<string, SiteSnapshot> }} SnapshotStore
 */

/** @returns {SnapshotStore} */
export const emptyStore = () => ({ v: SNAPSHOT_VERSION, current: null, sites: {} });

/** @param {unknown} v */
const text = (v) => (typeof v === 'string' ? v.slice(0, MAX_TEXT) : undefined);
/** @param {unknown} v @returns {v is Record<string, any>} */
const isObject = (v) => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * The part of one issue of a search answer that paints its row (what `JiraApp.issueRow` reads, plus the
 * project key the create form preselects). Nothing else of the answer is copied.
 * @param {any} issue
 * @returns {SnapshotRow | null}
 */
export function rowOf(issue) {
  const key = text(issue?.key);
  if (!key) return null;
  const f = isObject(issue.fields) ? issue.fields : {};
  /** @type {SnapshotRow['fields']} */
  const fields = {};
  if (text(f.summary) !== undefined) fields.summary = text(f.summary);
  if (text(f.status?.name) !== undefined) {
    const cat = f.status.statusCategory;
    fields.status = { name: /** @type {string} */ (text(f.status.name)) };
    if (isObject(cat)) fields.status.statusCategory = { key: text(cat.key), colorName: text(cat.colorName) };
  }
  if (text(f.issuetype?.name) !== undefined) fields.issuetype = { name: /** @type {string} */ (text(f.issuetype.name)) };
  if (text(f.priority?.name) !== undefined) fields.priority = { name: /** @type {string} */ (text(f.priority.name)) };
  if (text(f.updated) !== undefined) fields.updated = text(f.updated);
  if (text(f.project?.key) !== undefined) fields.project = { key: /** @type {string} */ (text(f.project.key)) };
  // Who it is assigned to (the row's "assign to me" depends on it); null = unassigned.
  if ('assignee' in f) {
    /** @type {{ accountId?: string, displayName?: string } | null} */
    let who = null;
    if (isObject(f.assignee)) {
      who = {};
      if (text(f.assignee.accountId) !== undefined) who.accountId = text(f.assignee.accountId);
      if (text(f.assignee.displayName) !== undefined) who.displayName = text(f.assignee.displayName);
    }
    fields.assignee = who;
  }
  return { key, fields };
}

/**
 * A site's snapshot of a list painted from fresh data.
 * @param {{ site: any, jql: string, query?: string | null, issues: any[], more?: boolean, now?: number }} view
 * @returns {SiteSnapshot | null} null when there is no usable site
 */
export function siteSnapshot({ site, jql, query = null, issues, more = false, now = Date.now() }) {
  const id = text(site?.id);
  if (!id || typeof jql !== 'string') return null;
  const all = (Array.isArray(issues) ? issues : []).map(rowOf).filter((r) => r !== null);
  const rows = /** @type {SnapshotRow[]} */ (all.slice(0, MAX_ROWS));
  return {
    site: { id, name: text(site.name) ?? '', url: text(site.url) ?? '' },
    jql: jql.slice(0, 2000),
    query: text(query) ?? null,
    rows,
    more: !!more || all.length > MAX_ROWS,
    savedAt: now,
  };
}

/**
 * The stored value, checked: anything else than a snapshot store of this version reads as empty.
 * @param {unknown} raw
 * @returns {SnapshotStore}
 */
export function parseStore(raw) {
  if (!isObject(raw) || raw.v !== SNAPSHOT_VERSION || !isObject(raw.sites)) return emptyStore();
  /** @type {Record<string, SiteSnapshot>} */
  const sites = {};
  for (const [id, s] of Object.entries(raw.sites)) {
    if (isObject(s) && s.site?.id === id && Array.isArray(s.rows) && typeof s.jql === 'string') sites[id] = /** @type {SiteSnapshot} */ (s);
  }
  const current = typeof raw.current === 'string' ? raw.current : null;
  return { v: SNAPSHOT_VERSION, current, sites };
}

/**
 * The store with `snap` as its site's snapshot and that site as the current one; the least recently
 * painted sites beyond MAX_SITES are dropped.
 * @param {SnapshotStore} store
 * @param {SiteSnapshot} snap
 * @returns {SnapshotStore}
 */
export function withSnapshot(store, snap) {
  const sites = { ...store.sites, [snap.site.id]: snap };
  const keep = Object.values(sites).sort((a, b) => b.savedAt - a.savedAt).slice(0, MAX_SITES);
  return { v: SNAPSHOT_VERSION, current: snap.site.id, sites: Object.fromEntries(keep.map((s) => [s.site.id, s])) };
}

/**
 * The store with `siteId` as the current site (a site switch before its list was painted).
 * @param {SnapshotStore} store
 * @param {string | null} siteId
 * @returns {SnapshotStore}
 */
export const withCurrent = (store, siteId) => ({ ...store, current: siteId });

/**
 * What the first paint shows: the current site's snapshot, if any.
 * @param {SnapshotStore} store
 * @returns {SiteSnapshot | null}
 */
export const currentSnapshot = (store) => (store.current ? store.sites[store.current] ?? null : null);

/**
 * Whether a chrome.storage change removes a grant (the module's `jira3lo:<ns>:refresh` record): a sign-out,
 * a grant Atlassian refused, the options page moving to other servers. Then the snapshots must go.
 * @param {Record<string, { oldValue?: unknown, newValue?: unknown }>} changes
 * @param {string} area
 */
export function isSignOutChange(changes, area) {
  if (area !== 'local') return false;
  return Object.entries(changes).some(([k, c]) => /^jira3lo:[^:]+:refresh$/.test(k) && c.newValue === undefined);
}

// ---- chrome.storage.session -----------------------------------------------------------------------

/** The stored snapshots, in one storage call (the first paint's only one). Never throws. */
export async function readSnapshots() {
  try {
    return parseStore((await chrome.storage.session.get(SNAPSHOT_KEY))[SNAPSHOT_KEY]);
  } catch {
    return emptyStore(); // no session storage here: no first paint from a snapshot
  }
}

/** Forgets every snapshot. */
export async function clearSnapshots() {
  await chrome.storage.session.remove(SNAPSHOT_KEY);
}

/** Clears the snapshots whenever a grant is removed in any context (registered by the popup and the background). */
export function clearSnapshotsOnSignOut() {
  chrome.storage.onChanged.addListener((changes, area) => {
    if (isSignOutChange(changes, area)) clearSnapshots().catch(() => {});
  });
}

/**
 * The popup's view of the snapshots: kept in memory after the first read, written through to storage.
 * `JiraApp` uses `forSite` (paint a site's last list while its fresh one loads), `select` (a site was chosen)
 * and `save` (a list was painted from fresh data).
 */
export class Snapshots {
  /** @param {SnapshotStore} store */
  constructor(store) {
    this.store = store;
  }

  /** @param {string | null | undefined} siteId */
  forSite(siteId) {
    return siteId ? this.store.sites[siteId] ?? null : null;
  }

  current() {
    return currentSnapshot(this.store);
  }

  /** @param {string | null | undefined} siteId */
  select(siteId) {
    if (!siteId || this.store.current === siteId) return;
    this.store = withCurrent(this.store, siteId);
    this.write();
  }

  /** @param {Parameters<typeof siteSnapshot>[0]} view */
  save(view) {
    const snap = siteSnapshot(view);
    if (!snap) return;
    this.store = withSnapshot(this.store, snap);
    this.write();
  }

  async clear() {
    this.store = emptyStore();
    await clearSnapshots();
  }

  /** A grant removed in any context: forget the snapshots here too (the next save must not bring them back). */
  watchSignOut() {
    chrome.storage.onChanged.addListener((changes, area) => {
      if (isSignOutChange(changes, area)) this.clear().catch(() => {});
    });
  }

  write() {
    chrome.storage.session.set({ [SNAPSHOT_KEY]: this.store }).catch(() => {}); // a lost snapshot costs one slower paint
  }
}
