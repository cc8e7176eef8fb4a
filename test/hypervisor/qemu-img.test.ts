/** qemu-img output (recorded on this project's machine kind). */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { convertProgress, parseBackingChain } from '../../src/hypervisor/qemu-img.js';

const fx = (name: string) => readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');

describe('qemu-img output', () => {
  it('backing chain (recorded)', () => {
    const c = parseBackingChain(fx('qemu-img-chain.json'));
    assert.equal(c.length, 2);
    assert.equal(c[0]!.file, '/tmp/fxq/o.qcow2');
    assert.equal(c[1]!.file, '/tmp/fxq/b.qcow2');
  });
  it('convert -p progress lines carry (NN.NN/100%)', () => {
    const fractions = fx('qemu-img-convert-progress.txt')
      .split('\r')
      .map(convertProgress)
      .filter((f): f is number => f !== null);
    assert.ok(fractions.length > 3);
    assert.equal(fractions[0], 0);
    assert.ok(fractions.every((f, i) => i === 0 || f >= fractions[i - 1]!));
    assert.equal(convertProgress('    (100.00/100%)'), 1);
    assert.equal(convertProgress('qemu-img: warning'), null);
  });
});
