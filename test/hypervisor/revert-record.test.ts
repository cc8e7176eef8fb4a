/** The revert record kept in a VM's metadata (snapshots/revert-record.ts). Pure. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isKvmopsError } from '../../src/domain/errors.js';
import { KEEP_REVERT_IDS, parseRevertRecord, revertRecordXml } from '../../src/hypervisor/snapshots/revert-record.js';

describe('revert record', () => {
  it('reads what virsh metadata prints (no prefix, double quotes)', () => {
    const got = parseRevertRecord('<revert>\n  <applied id="job-1" snapshot="s1" at="2026-01-01T00:00:00.000Z"/>\n  <applied id="job-7" snapshot="b"/>\n</revert>\n');
    assert.deepEqual(got, [
      { id: 'job-1', snapshot: 's1', at: '2026-01-01T00:00:00.000Z' },
      { id: 'job-7', snapshot: 'b', at: '' },
    ]);
  });
  it('round trip; the same id twice is one entry, the newest last', () => {
    const one = parseRevertRecord(revertRecordXml([], { id: 'job-1', snapshot: 's', at: 't1' }));
    const two = parseRevertRecord(revertRecordXml(one, { id: 'job-2', snapshot: 's', at: 't2' }));
    assert.deepEqual(parseRevertRecord(revertRecordXml(two, { id: 'job-1', snapshot: 's', at: 't3' })).map((e) => e.id), ['job-2', 'job-1']);
  });
  it(`keeps the last ${KEEP_REVERT_IDS} ids`, () => {
    let entries = parseRevertRecord('<revert/>');
    for (let i = 1; i <= KEEP_REVERT_IDS + 5; i++) entries = parseRevertRecord(revertRecordXml(entries, { id: `job-${i}`, snapshot: 's', at: '' }));
    assert.equal(entries.length, KEEP_REVERT_IDS);
    assert.equal(entries[0]!.id, 'job-6');
    assert.equal(entries.at(-1)!.id, `job-${KEEP_REVERT_IDS + 5}`);
  });
  it('fails closed on a record it does not know', () => {
    assert.throws(() => parseRevertRecord('<other/>'), (e) => isKvmopsError(e, 'unexpected-output'));
    assert.throws(() => parseRevertRecord('<revert><applied snapshot="s"/></revert>'), (e) => isKvmopsError(e, 'unexpected-output'));
    assert.throws(() => parseRevertRecord('not xml'), (e) => isKvmopsError(e, 'unexpected-output'));
  });
});
