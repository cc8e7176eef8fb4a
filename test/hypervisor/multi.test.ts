/** Chunking of long virsh batches (multi.ts): pure, no virsh needed. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isKvmopsError } from '../../src/domain/errors.js';
import { chunkRanges, MULTI_CHUNK_BYTES } from '../../src/hypervisor/multi.js';

const joinedBytes = (scripts: string[], [a, b]: [number, number]) => Buffer.byteLength(scripts.slice(a, b).join(' ; '));

describe('chunkRanges', () => {
  it('keeps every script, in order, and no chunk over the limit', () => {
    // 3,000 domains × a dumpxml-sized script: far over one argument's 128 KiB as one string
    const scripts = Array.from({ length: 3000 }, (_, i) => `'dumpxml' '${String(i).padStart(8, '0')}-0000-4000-8000-000000000000' ; 'echo' '@@m-${i}@@'`);
    assert.ok(Buffer.byteLength(scripts.join(' ; ')) > 128 * 1024);
    const ranges = chunkRanges(scripts);
    assert.ok(ranges.length > 2);
    assert.deepEqual(ranges.flatMap(([a, b]) => Array.from({ length: b - a }, (_, k) => a + k)), scripts.map((_, i) => i));
    for (const r of ranges) assert.ok(joinedBytes(scripts, r) <= MULTI_CHUNK_BYTES, `chunk ${r.join('-')}`);
    // greedy: a chunk ends only where the next script would not fit
    for (const [a, b] of ranges.slice(0, -1)) assert.ok(joinedBytes(scripts, [a, b + 1]) > MULTI_CHUNK_BYTES);
  });

  it('counts bytes, not characters', () => {
    const s = 'é'.repeat(10); // 20 bytes
    assert.deepEqual(chunkRanges([s, s, s], 43), [[0, 2], [2, 3]]); // 20 + 3 + 20 = 43
    assert.deepEqual(chunkRanges([s, s, s], 42), [[0, 1], [1, 2], [2, 3]]);
  });

  it('edge cases: nothing, one script, a script exactly the limit; refuses one that cannot fit', () => {
    assert.deepEqual(chunkRanges([]), []);
    assert.deepEqual(chunkRanges(['a']), [[0, 1]]);
    assert.deepEqual(chunkRanges(['abcd', 'ab'], 4), [[0, 1], [1, 2]]);
    assert.throws(() => chunkRanges(['abcde'], 4), (e) => isKvmopsError(e, 'invalid-input'));
  });
});
