// The search box's decisions (www/search.js).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { searchAction, textJql } from '../../www/search.js';

test('a key jumps to the issue, other text searches, nothing clears', () => {
  assert.deepEqual(searchAction('PLAT-12'), { kind: 'key', key: 'PLAT-12' });
  assert.deepEqual(searchAction('  plat-7 '), { kind: 'key', key: 'PLAT-7' });
  assert.deepEqual(searchAction(''), { kind: 'clear' });
  assert.deepEqual(searchAction('   '), { kind: 'clear' });
  assert.equal(searchAction('login bug').kind, 'text');
  assert.equal(searchAction('PLAT-12 crash').kind, 'text', 'a key inside text is a text search');
  assert.equal(searchAction('-12').kind, 'text');
});

test('the text is one JQL string literal, whatever it holds', () => {
  assert.equal(textJql('login bug'), 'text ~ "login bug" ORDER BY updated DESC');
  assert.equal(textJql('say "hi" \\ bye'), 'text ~ "say \\"hi\\" \\\\ bye" ORDER BY updated DESC');
  assert.equal(textJql('" OR project = X'), 'text ~ "\\" OR project = X" ORDER BY updated DESC');
});
