import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { couldHoldOs, parseExists } from '../../src/hypervisor/cloud-init.js';
import { parseHexDump } from '../../src/hypervisor/qemu-io.js';

/** The bytes of `buf` placed at `offset` (what parseHexDump gives for a read there). */
function bytesAt(...parts: Array<[offset: number, bytes: number[] | string]>): Map<number, number> {
  const m = new Map<number, number>();
  for (const [offset, b] of parts) [...(typeof b === 'string' ? Buffer.from(b, 'latin1') : b)].forEach((x, i) => m.set(offset + i, x));
  return m;
}
const zeros = (n: number) => new Array<number>(n).fill(0);

describe('qemu-io hex dump', () => {
  it('dump lines → offset → byte; summaries and short last lines too', () => {
    const out = [
      '000001f8:  00 00 00 00 00 00 55 aa 52 56 be 1b 81 e8 39 01  ......U.RV....9.',
      'read 16/16 bytes at offset 504',
      '16 bytes, 1 ops; 00.00 sec (158.594 KiB/sec and 2029.9993 ops/sec)',
      '00010040:  5f 42 48 52 66 53 5f 4d  _BHRfS_M',
      'read 8/8 bytes at offset 65600',
    ].join('\n');
    const b = parseHexDump(out);
    assert.equal(b.size, 24);
    assert.equal(b.get(510), 0x55);
    assert.equal(b.get(511), 0xaa);
    assert.equal(b.get(519), 0x01);
    assert.equal(b.get(65600), 0x5f);
    assert.equal(b.get(65607), 0x4d);
    assert.equal(b.get(520), undefined);
  });
  it('a dump whose ASCII column looks like hex is read by its hex column only', () => {
    const b = parseHexDump('00000000:  61 62 20 63  ab c');
    assert.deepEqual([...b.values()], [0x61, 0x62, 0x20, 0x63]);
  });
});

describe('could a disk hold an OS (before launching an appliance)', () => {
  it('blank and pattern-filled disks: no', () => {
    assert.equal(couldHoldOs(bytesAt([0, zeros(2048)], [65600, zeros(8)])), null);
    assert.equal(couldHoldOs(bytesAt([0, new Array<number>(2048).fill(0x5a)])), null);
    assert.equal(couldHoldOs(new Map()), null, 'nothing read (a disk smaller than the ranges)');
    // 0x55 repeated is not a boot signature
    assert.equal(couldHoldOs(bytesAt([0, new Array<number>(2048).fill(0x55)])), null);
  });
  it('a partition table, GPT, ext, XFS, LVM, btrfs: yes', () => {
    assert.equal(couldHoldOs(bytesAt([510, [0x55, 0xaa]])), 'partition table');
    assert.equal(couldHoldOs(bytesAt([512, 'EFI PART'])), 'GPT');
    assert.equal(couldHoldOs(bytesAt([1080, [0x53, 0xef]])), 'ext filesystem');
    assert.equal(couldHoldOs(bytesAt([0, 'XFSB'])), 'XFS filesystem');
    assert.equal(couldHoldOs(bytesAt([512, 'LABELONE'])), 'LVM');
    assert.equal(couldHoldOs(bytesAt([1536, 'LABELONE'])), 'LVM');
    assert.equal(couldHoldOs(bytesAt([65600, '_BHRfS_M'])), 'btrfs filesystem');
    assert.equal(couldHoldOs(bytesAt([1081, [0x53, 0xef]])), null, 'one byte off is not ext');
  });
});

describe("guestfish's exists answers", () => {
  it('any true: yes; all false: no', () => {
    assert.equal(parseExists('false\ntrue\n', 2), 'yes');
    assert.equal(parseExists('true\nfalse\n', 2), 'yes');
    assert.equal(parseExists('false\nfalse\n', 2), 'no');
  });
  it('anything else is not an answer', () => {
    assert.equal(parseExists('false\n', 2), null);
    assert.equal(parseExists('', 2), null);
    assert.equal(parseExists('false\nmaybe\n', 2), null);
    assert.equal(parseExists('false\nfalse\nfalse\n', 2), null);
  });
});
