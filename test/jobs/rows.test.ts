import assert from 'node:assert/strict';
import { test } from 'node:test';
import { errorCode, toJson } from '../../src/jobs/rows.js';

test('errorCode keeps known codes and turns anything else into internal', () => {
  assert.equal(errorCode('vm-not-found'), 'vm-not-found');
  assert.equal(errorCode('ENOENT'), 'internal');
});

test('toJson stores undefined as NULL and everything else as JSON', () => {
  assert.equal(toJson(undefined), null);
  assert.equal(toJson(null), 'null');
  assert.equal(toJson({ a: 1 }), '{"a":1}');
});
