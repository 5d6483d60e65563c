// @ts-check
// The popup's keyboard shortcuts: which key does what where. Pure, unit-tested in tests/js/keys.test.mjs;
// ui.js performs the action. Keys typed into a text field are never taken (only Escape, which leaves it).

/** What the ? overlay lists, in order. */
export const SHORTCUTS = Object.freeze([
  { keys: ['/'], text: 'Search, or jump to an issue key' },
  { keys: ['j', '↓'], text: 'Next issue in the list' },
  { keys: ['k', '↑'], text: 'Previous issue in the list' },
  { keys: ['Enter'], text: 'Open the selected issue' },
  { keys: ['c'], text: 'Create an issue' },
  { keys: ['Esc'], text: 'Back to the list, or close this' },
  { keys: ['?'], text: 'Show or hide these shortcuts' },
]);

/**
 * @typedef {'search' | 'next' | 'prev' | 'open' | 'create' | 'back' | 'help' | 'closeHelp'} KeyAction
 * @typedef {{
 *   key: string, ctrlKey?: boolean, metaKey?: boolean, altKey?: boolean,
 *   inField?: boolean,   // the key goes to an input, textarea, select or editable element
 *   onControl?: boolean, // the key goes to a button or link, which acts on Enter itself
 *   view: string,        // the app's view: 'issues', 'issue', 'create', 'signedOut', ...
 *   overlay?: boolean,   // the shortcuts overlay is open
 * }} KeyInput
 */

/**
 * The action of a key press, or null (the browser keeps the key).
 * @param {KeyInput} e
 * @returns {KeyAction | null}
 */
export function keyAction(e) {
  if (e.ctrlKey || e.metaKey || e.altKey) return null;
  if (e.overlay) return e.key === 'Escape' || e.key === '?' ? 'closeHelp' : null;
  const working = e.view === 'issues' || e.view === 'issue' || e.view === 'create';
  if (!working) return null;
  if (e.key === 'Escape') return e.view === 'issue' || e.view === 'create' ? 'back' : null;
  if (e.inField) return null;
  switch (e.key) {
    case '?':
      return 'help';
    case 'c':
      return e.view === 'create' ? null : 'create';
    case '/':
      return e.view === 'issues' ? 'search' : null;
    case 'j':
    case 'ArrowDown':
      return e.view === 'issues' ? 'next' : null;
    case 'k':
    case 'ArrowUp':
      return e.view === 'issues' ? 'prev' : null;
    case 'Enter':
      return e.view === 'issues' && !e.onControl ? 'open' : null;
    default:
      return null;
  }
}

/**
 * The row selected after `next`/`prev` from `current` (-1: none yet) among `count` rows; stays at the ends.
 * @param {number} current
 * @param {number} count
 * @param {'next' | 'prev'} action
 */
export function moveSelection(current, count, action) {
  if (count <= 0) return -1;
  if (current < 0 || current >= count) return action === 'next' ? 0 : count - 1;
  return Math.max(0, Math.min(count - 1, current + (action === 'next' ? 1 : -1)));
}
