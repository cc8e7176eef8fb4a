import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { isKvmopsError } from '../../src/domain/errors.js';
import {
  parseNodeInfo,
  parseNodeMemStats,
  parseDomBlkList,
  parseDomInfo,
  parseDomList,
  parseDomState,
  parseNameList,
  parsePoolInfo,
  parseVersion,
  parseVolList,
  parseVolumeXml,
  splitSections,
} from '../../src/hypervisor/parse.js';

/** Outputs recorded from this machine's virsh (libvirt 9.0.0, LC_ALL=C). */
const fx = (name: string) => readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');
const unexpected = (e: unknown) => isKvmopsError(e, 'unexpected-output');

describe('parseNameList', () => {
  it('reads list --all --name with its trailing empty line', () => {
    assert.deepEqual(parseNameList(fx('list-name.txt')), ['exp1', 'fxvm']);
  });
  it('trims pool-list --name padding', () => {
    assert.deepEqual(parseNameList(fx('pool-list.txt')), ['fx-t', 'fx-v']);
  });
  it('empty output is an empty list', () => assert.deepEqual(parseNameList('\n'), []));
  it('refuses a line with inner spaces', () => assert.throws(() => parseNameList('a b\n'), unexpected));
});

describe('parseDomList', () => {
  it('reads ids, names and two-word states', () => {
    assert.deepEqual(parseDomList(fx('list-all.txt')), [
      { id: 1, name: 'fxvm', state: 'running' },
      { id: null, name: 'exp1', state: 'shut off' },
    ]);
  });
  it('an empty table', () => assert.deepEqual(parseDomList(' Id   Name   State\n--------------------\n\n'), []));
  it('fails closed on an unknown state', () =>
    assert.throws(() => parseDomList(' Id   Name   State\n---\n 1  a  dancing\n'), unexpected));
  it('fails closed on another table', () => assert.throws(() => parseDomList(fx('vol-list.txt')), unexpected));
});

describe('parseDomState', () => {
  it('running (booted)', () => assert.deepEqual(parseDomState(fx('domstate-running.txt')), { state: 'running', reason: 'booted' }));
  it('shut off (destroyed)', () =>
    assert.deepEqual(parseDomState(fx('domstate-destroyed.txt')), { state: 'shut off', reason: 'destroyed' }));
  it('shut off (unknown)', () => assert.equal(parseDomState(fx('domstate-shutoff.txt')).state, 'shut off'));
  it('in shutdown, without a reason', () => assert.deepEqual(parseDomState('in shutdown\n'), { state: 'in shutdown', reason: '' }));
  it('fails closed', () => {
    assert.throws(() => parseDomState('blocked (x)\n'), unexpected);
    assert.throws(() => parseDomState(''), unexpected);
  });
});

describe('parseDomInfo', () => {
  it('running domain', () => {
    const d = parseDomInfo(fx('dominfo-running.txt'));
    assert.deepEqual(d, {
      name: 'fxvm',
      uuid: '0bad29de-e098-4757-a05c-d50749f2c9b9',
      state: 'running',
      vcpus: 1,
      maxMemoryKiB: 65536,
      usedMemoryKiB: 65536,
      persistent: true,
    });
  });
  it('shut-off domain (Id: -)', () => assert.equal(parseDomInfo(fx('dominfo-shutoff.txt')).state, 'shut off'));
  it('fails closed without State', () => assert.throws(() => parseDomInfo('Name: x\nUUID: y\n'), unexpected));
});

describe('parseDomBlkList', () => {
  it('file disk', () =>
    assert.deepEqual(parseDomBlkList(fx('domblklist.txt')), [
      { type: 'file', device: 'disk', target: 'vda', source: '/var/lib/kvmops-fx/v/ov.qcow2' },
    ]));
  it('an empty CD-ROM drive has no source', () =>
    assert.deepEqual(parseDomBlkList(fx('domblklist-cdrom.txt'))[1], { type: 'file', device: 'cdrom', target: 'hdc', source: null }));
  it('a source path holding spaces (made by hand) is kept whole, runs of spaces too', () =>
    assert.deepEqual(
      parseDomBlkList(" Type   Device   Target   Source\n------------------------------------\n file   disk     vda      /srv/a b'c  d;$(x).qcow2\n file   cdrom    hdc      -\n"),
      [
        { type: 'file', device: 'disk', target: 'vda', source: "/srv/a b'c  d;$(x).qcow2" },
        { type: 'file', device: 'cdrom', target: 'hdc', source: null },
      ],
    ));
  it('a row with no source column fails closed', () =>
    assert.throws(() => parseDomBlkList(' Type   Device   Target   Source\n------\n file   disk     vda\n'), unexpected));
  it('fails closed on domblklist without --details', () =>
    assert.throws(() => parseDomBlkList(' Target   Source\n------\n vda /x\n'), unexpected));
});

describe('volumes and pools', () => {
  it('vol-list', () =>
    assert.deepEqual(parseVolList(fx('vol-list.txt')), [{ name: 'ov.qcow2', path: '/var/lib/kvmops-fx/v/ov.qcow2' }]));
  it('vol-dumpxml of an overlay names its backing file and format', () => {
    assert.deepEqual(parseVolumeXml(fx('vol-dumpxml.xml')), {
      name: 'ov.qcow2',
      path: '/var/lib/kvmops-fx/v/ov.qcow2',
      format: 'qcow2',
      capacity: 67108864,
      allocation: 200704,
      backing: { path: '/var/lib/kvmops-fx/t/base.qcow2', format: 'qcow2' },
    });
  });
  it('vol-dumpxml of a base has no backing', () => assert.equal(parseVolumeXml(fx('vol-dumpxml-base.xml')).backing, null));
  it('vol-dumpxml: other XML fails closed', () => assert.throws(() => parseVolumeXml(fx('dumpxml.xml')), unexpected));
  it('pool-info --bytes: state and sizes', () => {
    const p = parsePoolInfo(fx('pool-info-bytes.txt'));
    assert.equal(p.state, 'running');
    assert.equal(p.persistent, true);
    assert.equal(p.autostart, true);
    assert.ok(Number.isSafeInteger(p.capacity) && Number.isSafeInteger(p.available) && Number.isSafeInteger(p.allocation));
    assert.ok(p.available! < p.capacity!);
  });
  it('pool-info with rounded sizes (no --bytes) fails closed rather than guessing', () => assert.throws(() => parsePoolInfo(fx('pool-info.txt')), unexpected));
  it('nodeinfo', () => {
    const n = parseNodeInfo(fx('nodeinfo.txt'));
    assert.equal(n.cpus, Number(/CPU\(s\):\s+(\d+)/.exec(fx('nodeinfo.txt'))![1]));
    assert.equal(n.memory, Number(/Memory size:\s+(\d+) KiB/.exec(fx('nodeinfo.txt'))![1]) * 1024);
    assert.equal(n.cpuModel, 'x86_64');
    assert.throws(() => parseNodeInfo('CPU(s): two'), unexpected);
  });
  it('nodememstats', () => {
    const m = parseNodeMemStats(fx('nodememstats.txt'));
    assert.equal(m.total, Number(/total\s*:\s+(\d+) KiB/.exec(fx('nodememstats.txt'))![1]) * 1024);
    assert.ok(m.free > 0 && m.free <= m.total && m.cached > 0 && m.buffers > 0);
    assert.throws(() => parseNodeMemStats('total : lots'), unexpected);
  });
  it('version', () =>
    assert.deepEqual(parseVersion(fx('version.txt')), { libvirt: '9.0.0', hypervisor: 'QEMU 7.2.22' }));
  it('version fails closed', () => assert.throws(() => parseVersion('hello'), unexpected));
});

describe('splitSections (one virsh process, many commands)', () => {
  it('splits the recorded stdout and stderr per command', () => {
    const out = splitSections(fx('multi-stdout.txt'), 'abc123', 3);
    const err = splitSections(fx('multi-stderr.txt'), 'abc123', 3);
    assert.ok(parseNameList(out[0]!).length > 0);
    assert.equal(out[1]!.trim(), '');
    assert.equal(parseVersion(out[2]!).libvirt, '9.0.0');
    assert.equal(err[0]!.trim(), '');
    assert.match(err[1]!, /^error: failed to get domain 'kvmops-no-such-vm'/m);
    assert.equal(err[2]!.trim(), '');
  });
  it('a missing marker (virsh stopped early) fails closed', () => {
    assert.throws(() => splitSections(fx('multi-stdout.txt'), 'abc123', 4), unexpected);
    assert.throws(() => splitSections(fx('multi-stdout.txt'), 'zzz', 3), unexpected);
  });
});

describe('a domain XML memory (placement: what each VM from a template takes)', () => {
  it('reads <memory> in its unit; KiB when none is given', async () => {
    const { domainMemoryBytes } = await import('../../src/hypervisor/host-facts.js');
    assert.equal(domainMemoryBytes("<domain type='qemu'><name>t</name><memory unit='MiB'>64</memory></domain>"), 64 * 1024 ** 2);
    assert.equal(domainMemoryBytes("<domain type='qemu'><name>t</name><memory>65536</memory></domain>"), 64 * 1024 ** 2);
    assert.equal(domainMemoryBytes("<domain type='qemu'><name>t</name><memory unit='G'>2</memory></domain>"), 2 * 1024 ** 3);
    assert.throws(() => domainMemoryBytes("<domain type='qemu'><name>t</name></domain>"), unexpected);
    assert.throws(() => domainMemoryBytes("<domain type='qemu'><name>t</name><memory unit='parsecs'>2</memory></domain>"), unexpected);
  });
});
