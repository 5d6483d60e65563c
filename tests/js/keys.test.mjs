// The popup's keyboard shortcuts (www/keys.js).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SHORTCUTS, keyAction, moveSelection } from '../../www/keys.js';

const on = (key, more = {}) => keyAction({ key, view: 'issues', ...more });

test('the list: j/k and arrows move, Enter opens, / searches, c creates, ? shows the shortcuts', () => {
  assert.equal(on('j'), 'next');
  assert.equal(on('ArrowDown'), 'next');
  assert.equal(on('k'), 'prev');
  assert.equal(on('ArrowUp'), 'prev');
  assert.equal(on('Enter'), 'open');
  assert.equal(on('Enter', { onControl: true }), null, 'a focused row or button acts on Enter itself');
  assert.equal(on('/'), 'search');
  assert.equal(on('c'), 'create');
  assert.equal(on('?'), 'help');
  assert.equal(on('Escape'), null, 'nothing to go back to');
  assert.equal(on('x'), null);
});

test('never while typing, never with a modifier; Escape still leaves a form', () => {
  for (const key of ['j', 'k', 'c', '/', '?', 'Enter', 'ArrowDown']) {
    assert.equal(on(key, { inField: true }), null, key);
    assert.equal(keyAction({ key, view: 'issue', inField: true }), null, key);
  }
  assert.equal(on('c', { ctrlKey: true }), null, 'ctrl+c copies');
  assert.equal(on('j', { metaKey: true }), null);
  assert.equal(on('k', { altKey: true }), null);
  assert.equal(keyAction({ key: 'Escape', view: 'issue', inField: true }), 'back');
  assert.equal(keyAction({ key: 'Escape', view: 'create', inField: true }), 'back');
});

test('the issue view and the create form', () => {
  const issue = (key) => keyAction({ key, view: 'issue' });
  assert.equal(issue('Escape'), 'back');
  assert.equal(issue('c'), 'create');
  assert.equal(issue('?'), 'help');
  assert.equal(issue('j'), null, 'arrows scroll the issue');
  assert.equal(issue('ArrowDown'), null);
  assert.equal(issue('/'), null);
  assert.equal(keyAction({ key: 'c', view: 'create' }), null);
  assert.equal(keyAction({ key: 'Escape', view: 'create' }), 'back');
});

test('the overlay: Escape or ? closes it, other keys do nothing', () => {
  assert.equal(on('Escape', { overlay: true }), 'closeHelp');
  assert.equal(on('?', { overlay: true }), 'closeHelp');
  assert.equal(on('j', { overlay: true }), null);
  assert.equal(on('c', { overlay: true }), null);
});

test('signed out, connecting, choosing a site: no shortcut', () => {
  for (const view of ['signedOut', 'connecting', 'sites', 'loading']) {
    for (const key of ['j', 'c', '?', 'Escape', '/']) assert.equal(keyAction({ key, view }), null, `${view} ${key}`);
  }
});

test('the selection moves within the list and stays at its ends', () => {
  assert.equal(moveSelection(-1, 3, 'next'), 0);
  assert.equal(moveSelection(-1, 3, 'prev'), 2);
  assert.equal(moveSelection(0, 3, 'next'), 1);
  assert.equal(moveSelection(2, 3, 'next'), 2);
  assert.equal(moveSelection(0, 3, 'prev'), 0);
  assert.equal(moveSelection(5, 3, 'next'), 0, 'a stale index starts over');
  assert.equal(moveSelection(0, 0, 'next'), -1);
});

test('the overlay lists every shortcut the mapping knows', () => {
  const listed = SHORTCUTS.flatMap((s) => s.keys);
  for (const k of ['/', 'j', 'k', 'Enter', 'c', 'Esc', '?']) assert.ok(listed.includes(k), k);
});
