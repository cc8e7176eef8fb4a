/**
 * The storage dir's file names (storage.ts), property style: whatever names users pick —
 * with `--`, dots, digits, hyphens at the end — no two objects' files can collide, and only a
 * file made for a VM is owned by it. Seeded PRNG: the same cases every run.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isValidName } from '../../src/domain/names.js';
import { derivedDomainUuid, newDomainUuid, type DomainUuid } from '../../src/hypervisor/domain-uuid.js';
import { StorageLayout } from '../../src/hypervisor/storage.js';

/** mulberry32 */
function prng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const TARGETS = ['vda', 'vdb', 'vdaa', 'sda', 'sdb', 'hdc', 'xvda', 'vdz9'];
const PIECES = ['--', '-', '.', '..', 'a', 'b', 'vda', 'vdb', 'qcow2', 'xml', '0', '7', 'Z', '_', '--vda', '.qcow2', '--vdb.qcow2'];

/** Valid names built to provoke collisions: runs of `--`, dots, targets and extensions inside. */
function randomNames(n: number, seed: number): string[] {
  const rnd = prng(seed);
  const out = new Set<string>();
  while (out.size < n) {
    let s = ['a', 'b', 'c', 'w', '1'][Math.floor(rnd() * 5)]!;
    const parts = 1 + Math.floor(rnd() * 6);
    for (let i = 0; i < parts; i++) s += PIECES[Math.floor(rnd() * PIECES.length)]!;
    if (isValidName(s)) out.add(s);
  }
  return [...out];
}

const storage = new StorageLayout('/var/lib/kvmops');

describe('storage file names', () => {
  const names = randomNames(3000, 42);

  it('the generator does make the hard cases', () => {
    assert.ok(names.some((n) => n.includes('--vda')));
    assert.ok(names.some((n) => n.endsWith('.qcow2')));
    assert.ok(names.some((n) => n.endsWith('-')));
    // names.ts allows ASCII only: other letters never reach a file name
    for (const u of ['wéb', 'вм', 'vm\u00a01', 'a/b', 'x\u0301']) assert.equal(isValidName(u), false, u);
  });

  it('template files: one path per (template, target) and per template XML, and the name splits back', () => {
    const seen = new Map<string, string>();
    for (const t of names) {
      const xml = `${storage.templatesDir}/${t}.xml`;
      assert.equal(seen.get(xml), undefined, `${xml} twice`);
      seen.set(xml, `${t} xml`);
      for (const target of TARGETS) {
        const p = storage.templateDisk(t, target);
        const owner = `${t} ${target}`;
        assert.equal(seen.get(p), undefined, `${p}: ${seen.get(p)} and ${owner}`);
        seen.set(p, owner);
        // the last `--` separates: targets have no `-`
        const base = p.slice(storage.templatesDir.length + 1, -'.qcow2'.length);
        const i = base.lastIndexOf('--');
        assert.deepEqual([base.slice(0, i), base.slice(i + 2)], [t, target]);
        assert.equal(storage.ownerOf(p), null);
        // what the inventory reads back: the template a chain's file belongs to
        assert.equal(storage.templateOf(p), t);
      }
    }
  });

  it('templateOf: null for every file that is not a template disk', () => {
    const u = newDomainUuid();
    for (const p of [storage.newVmFile(u, 'vda'), `${storage.templatesDir}/x.xml`, `${storage.templatesDir}/sub/a--vda.qcow2`, '/elsewhere/a--vda.qcow2', `${storage.templatesDir}/--vda.qcow2`]) {
      assert.equal(storage.templateOf(p), null, p);
    }
  });

  it('VM files: owned by exactly the VM they were made for; old and hand-made names by nobody', () => {
    const uuids: DomainUuid[] = names.map((n, i) => (i % 2 ? newDomainUuid() : derivedDomainUuid(storage.root, 'job-1', n)));
    assert.equal(new Set(uuids).size, uuids.length, 'one uuid per VM, whatever the names');
    const seen = new Set<string>();
    uuids.forEach((u, i) => {
      for (const target of TARGETS.slice(0, 1 + (i % TARGETS.length))) {
        const p = storage.newVmFile(u, target);
        assert.ok(!seen.has(p), p);
        seen.add(p);
        assert.equal(storage.ownerOf(p), u);
      }
    });
    for (const n of names) {
      // the names kvmops used before, and anything a person might call a file there
      for (const f of [`${n}--vda.qcow2`, `${n}--vda--${n}.qcow2`, `${n}--vda--s1--2.qcow2`, `${n}.qcow2`, n]) {
        assert.equal(storage.ownerOf(`${storage.vmsDir}/${f}`), null, f);
      }
    }
    const u = uuids[0]!;
    assert.equal(storage.ownerOf(`${storage.vmsDir}/${u}.vda.0123456789ab.raw`), null, 'kvmops makes qcow2 disks only');
    // seeds: `<uuid>.seed.<tag>.iso`, owned like disks; an ISO of any other shape by nobody
    const seed = storage.newSeedFile(u);
    assert.match(seed, new RegExp(`/vms/${u}\\.seed\\.[0-9a-f]{12}\\.iso$`));
    assert.equal(storage.ownerOf(seed), u);
    assert.ok(storage.isSeedFile(seed));
    assert.equal(storage.isSeedFile(storage.newVmFile(u, 'vda')), false);
    for (const f of [`${u}.vda.0123456789ab.iso`, `${u}.seed.iso`, `${u}.seed.0123456789ab.iso.part`, 'seed.iso']) {
      assert.equal(storage.ownerOf(`${storage.vmsDir}/${f}`), null, f);
    }
    assert.equal(storage.ownerOf(`${storage.templatesDir}/${u}.vda.0123456789ab.qcow2`), null, 'not in the vms dir');
    assert.equal(storage.ownerOf(`${storage.vmsDir}/sub/${u}.vda.0123456789ab.qcow2`), null, 'not directly in the vms dir');
    assert.equal(storage.ownerOf(`${storage.vmsDir}/../elsewhere/${u}.vda.0123456789ab.qcow2`), null, 'not out through ..');
    assert.equal(storage.ownerOf(`/tmp/${u}.vda.0123456789ab.qcow2`), null, 'not outside the storage dir');
  });
});
