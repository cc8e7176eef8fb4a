import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { snapshotCreatePayload } from '../../src/kinds/snapshot-create.js';
import { codePointLength, controlCharProblem, cut, cutUtf8, descriptionSchema, utf8Length, visibleControls } from '../../src/domain/text.js';

/** src/domain/text.ts: what free text may hold, and cutting it without breaking characters. */

const wellFormed = (s: string) => !/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(s);

describe('control characters', () => {
  it('names the first control character, its code and its position', () => {
    assert.equal(controlCharProblem('plain text — ünïcode 🚀'), null);
    assert.equal(controlCharProblem('ab\x1b[31mred'), 'must not contain control characters: U+001B (ESC) at character 3');
    assert.equal(controlCharProblem('🚀\n'), 'must not contain control characters: U+000A (newline) at character 2');
    assert.match(controlCharProblem('x\u0085')!, /U\+0085 at character 2/); // C1: NEL
    assert.match(controlCharProblem('x\u007f')!, /U\+007F \(DEL\)/);
    assert.match(controlCharProblem('abc\u202eexe.txt')!, /U\+202E at character 4/); // right-to-left override
    assert.match(controlCharProblem('tab\there')!, /tab/);
    assert.match(controlCharProblem('lone \ud83d here')!, /unpaired UTF-16 surrogate \(U\+D83D\) at character 6/);
  });

  it('descriptionSchema: 500 characters counted as code points, no control characters', () => {
    assert.equal(descriptionSchema.safeParse('🚀'.repeat(500)).success, true, '500 emoji are 500 characters (1000 UTF-16 units)');
    assert.equal(descriptionSchema.safeParse('x'.repeat(501)).success, false);
    const r = descriptionSchema.safeParse('pre\x07bell');
    assert.equal(r.success, false);
    assert.match(r.error!.issues[0]!.message, /U\+0007 at character 4/);
  });

  it('the snapshot.create payload refuses them too (a row written by hand is checked again at claim)', () => {
    const p = { host: 'local', vm: 'db', name: 's1', kind: 'internal' };
    assert.equal(snapshotCreatePayload.safeParse({ ...p, description: 'fine' }).success, true);
    assert.equal(snapshotCreatePayload.safeParse({ ...p, description: 'evil\x1b]0;title\x07' }).success, false);
  });

  it('visibleControls shows control characters as escapes and never passes a lone surrogate', () => {
    assert.equal(visibleControls('a\x1b[2Jb\r\n'), 'a\\x1b[2Jb\\x0d\\x0a');
    assert.equal(visibleControls('one\ntwo\x00', '\n'), 'one\ntwo\\x00');
    assert.equal(visibleControls('\u202eabc'), '\\u202eabc');
    assert.equal(visibleControls('x\udc00y'), 'x\ufffdy');
    assert.equal(visibleControls('ok 🚀'), 'ok 🚀');
  });
});

describe('cut', () => {
  it('leaves short text alone and ends cut text with an ellipsis, within max code points', () => {
    assert.equal(cut('short', 10), 'short');
    assert.equal(cut('abcdefghij', 5), 'abcd…');
    assert.equal(codePointLength(cut('x'.repeat(3000), 2000)), 2000);
    assert.equal(cut('abc', 0), '');
  });

  it('never splits a surrogate pair (emoji), whatever the cut point', () => {
    const text = 'a🚀b😀c👍🏽d'.repeat(20);
    for (let max = 1; max <= 40; max += 1) {
      const c = cut(text, max);
      assert.ok(wellFormed(c), `cut at ${max} is valid Unicode: ${JSON.stringify(c)}`);
      assert.ok(codePointLength(c) <= max);
    }
    // The naive UTF-16 cut this replaces would leave half of 🚀 here:
    assert.equal(wellFormed('a🚀'.slice(0, 2)), false);
    assert.equal(cut('a🚀🚀', 2), 'a…');
    assert.equal(cut('🚀🚀🚀', 3), '🚀🚀🚀');
  });
});

describe('cutUtf8', () => {
  it('keeps at most that many UTF-8 bytes, between code points, with an ellipsis when cut', () => {
  assert.equal(utf8Length('aé€🚀'), 1 + 2 + 3 + 4);
  assert.equal(cutUtf8('short', 5), 'short');
  assert.equal(cutUtf8('abcdefgh', 7), 'abcd…');
  // 🚀 is 4 bytes (2 UTF-16 units): never half of it.
  for (let max = 3; max <= 20; max++) {
    const out = cutUtf8('🚀'.repeat(10), max);
    assert.ok(utf8Length(out) <= max, `${max}: ${out}`);
    assert.ok(wellFormed(out), out);
    assert.equal(out, `${'🚀'.repeat(Math.floor((max - 3) / 4))}…`);
  }
  assert.equal(cutUtf8('abcdef', 2), '');
  });
});
