import assert from 'node:assert/strict';
import { test } from 'node:test';
import { matchesFilter, vmTargetProblem } from '../../src/domain/name-filter.js';

test('a VM target is a name (the name rules) or a glob of name characters, * and ?', () => {
  for (const ok of ['web-01', 'web-*', 'db-0?', '*', '*-web', 'a?c*', 'x'.repeat(63)]) assert.equal(vmTargetProblem(ok), null, ok);
  for (const bad of ['web-[12]', 'web *', 'web/*', '*;ls', 'x'.repeat(62) + '**', '', '-web', '12345', 'guestfs-abc1']) {
    assert.notEqual(vmTargetProblem(bad), null, bad);
  }
});

test('a glob matches the whole name, case-sensitively; . and - are literal', () => {
  const web = matchesFilter('web-*');
  assert.deepEqual(['web-01', 'web-', 'Web-01', 'my-web-01', 'webby'].filter(web), ['web-01', 'web-']);
  const db = matchesFilter('db-0?');
  assert.deepEqual(['db-01', 'db-0', 'db-010', 'db-0.'].filter(db), ['db-01', 'db-0.']);
  assert.deepEqual(['a.b', 'axb', 'a.bc'].filter(matchesFilter('a.?')), ['a.b']);
  assert.deepEqual(['a.b', 'axb', 'a.'].filter(matchesFilter('a.*')), ['a.b', 'a.']);
});
