// @ts-check
// The popup's search box: an issue key jumps straight to the issue, other text searches Jira.
// Pure, unit-tested in tests/js/search.test.mjs.

/** An issue key as people type it (`plat-12` too). */
const ISSUE_KEY = /^[A-Za-z][A-Za-z0-9_]*-\d+$/;

/**
 * What the search box asks for.
 * @param {string} input
 * @returns {{ kind: 'clear' } | { kind: 'key', key: string } | { kind: 'text', query: string, jql: string }}
 */
export function searchAction(input) {
  const query = String(input ?? '').trim();
  if (!query) return { kind: 'clear' };
  if (ISSUE_KEY.test(query)) return { kind: 'key', key: query.toUpperCase() };
  return { kind: 'text', query, jql: textJql(query) };
}

/** Jira's full-text search, newest first; the text is a JQL string literal (quotes and backslashes escaped). */
export function textJql(query) {
  const literal = query.replace(/["\\]/g, '\\$&');
  return `text ~ "${literal}" ORDER BY updated DESC`;
}
