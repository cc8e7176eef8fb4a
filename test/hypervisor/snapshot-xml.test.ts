import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { isKvmopsError } from '../../src/domain/errors.js';
import type { HostContext } from '../../src/hypervisor/host-context.js';
import {
  createSnapshot,
  deleteSnapshot,
  listSnapshots,
  revertSnapshot,
} from '../../src/hypervisor/snapshots/index.js';
import { parseDomainXmlDisks, repointDisks } from '../../src/hypervisor/snapshots/domain-disks.js';
import {
  hasNativeExternalRevert,
  parseLibvirtVersion,
  versionAtLeast,
} from '../../src/hypervisor/snapshots/libvirt-version.js';
import { orderTree } from '../../src/hypervisor/snapshots/list.js';
import {
  buildSnapshotXml,
  parseSnapshotXml,
  takenWhileRunning,
  withOverlay,
} from '../../src/hypervisor/snapshots/snapshot-xml.js';
import { parseSnapshotBatch } from '../../src/hypervisor/snapshots/state.js';
import { StorageLayout } from '../../src/hypervisor/storage.js';
import type { MultiResult } from '../../src/hypervisor/multi.js';
import type { VirshArgs } from '../../src/hypervisor/virsh-args.js';
import { Virsh } from '../../src/hypervisor/virsh.js';

/** Fixtures recorded from libvirt 9.0.0 / QEMU 7.2 on this project's machine kind. */
const fx = (name: string) => readFileSync(new URL(`./snapshot-fixtures/${name}`, import.meta.url), 'utf8');

describe('snapshot XML parsing (recorded snapshot-dumpxml)', () => {
  test('internal, shut off', () => {
    const s = parseSnapshotXml(fx('internal-shutoff.xml'));
    assert.equal(s.name, 'i1');
    assert.equal(s.kind, 'internal');
    assert.equal(s.state, 'shutoff');
    assert.equal(s.parent, null);
    assert.equal(s.description, 'int one');
    assert.equal(s.createdAt, 1795663360);
    assert.deepEqual(s.disks, [{ target: 'vda', mode: 'internal' }]);
    assert.deepEqual(s.domainDisks, [
      { target: 'vda', device: 'disk', file: '/var/lib/kvmops-exp/vms/exp1.qcow2', format: 'qcow2', readonly: false },
    ]);
    assert.equal(takenWhileRunning(s), false);
  });

  test('internal, running (RAM saved)', () => {
    const s = parseSnapshotXml(fx('internal-running.xml'));
    assert.equal(s.kind, 'internal');
    assert.equal(s.state, 'running');
    assert.equal(s.memory, 'internal');
    assert.equal(takenWhileRunning(s), true);
  });

  test('external, shut off: overlay from <disks>, base from the embedded domain', () => {
    const s = parseSnapshotXml(fx('external-shutoff.xml'));
    assert.equal(s.kind, 'external');
    assert.equal(s.state, 'shutoff');
    assert.equal(s.parent, 'i1');
    assert.equal(s.description, 'ext one');
    assert.deepEqual(s.disks, [{ target: 'vda', mode: 'external', overlay: '/var/lib/kvmops-exp/vms/exp1--vda--e1.qcow2' }]);
    assert.equal(s.domainDisks[0]?.file, '/var/lib/kvmops-exp/vms/exp1.qcow2');
  });

  test('external, running: state disk-snapshot', () => {
    const s = parseSnapshotXml(fx('external-running.xml'));
    assert.equal(s.kind, 'external');
    assert.equal(s.state, 'disk-snapshot');
    assert.equal(s.parent, 'ir');
    assert.equal(s.disks[0]?.overlay, '/var/lib/kvmops-exp/vms/exp1--vda--er.qcow2');
    assert.equal(s.domainDisks[0]?.file, '/var/lib/kvmops-exp/vms/exp1.qcow2');
    assert.equal(takenWhileRunning(s), true);
  });

  test('fails closed on unknown states, modes and roots', () => {
    const xml = fx('internal-shutoff.xml');
    const bad = [
      xml.replace('<state>shutoff</state>', '<state>frozen</state>'),
      xml.replace("snapshot='internal'", "snapshot='manual'"),
      xml.replace('<creationTime>1795663360</creationTime>', '<creationTime>soon</creationTime>'),
      '<domain/>',
      'not xml',
    ];
    for (const b of bad) assert.throws(() => parseSnapshotXml(b), (e) => isKvmopsError(e, 'unexpected-output'));
  });

  test('withOverlay names a new overlay and keeps everything else', () => {
    const xml = fx('external-shutoff.xml');
    const s = parseSnapshotXml(withOverlay(xml, 'vda', '/s/vms/new.qcow2'));
    const orig = parseSnapshotXml(xml);
    assert.equal(s.disks[0]?.overlay, '/s/vms/new.qcow2');
    assert.deepEqual({ ...s, disks: [], xml: '' }, { ...orig, disks: [], xml: '' });
    assert.throws(() => withOverlay(xml, 'vdb', '/x'), (e) => isKvmopsError(e, 'unexpected-output'));
  });
});

describe('snapshot XML building', () => {
  test('internal', () => {
    assert.equal(
      buildSnapshotXml({ name: 's1', description: 'a <b> & "c"', disks: [{ target: 'vda', mode: 'internal' }] }),
      "<domainsnapshot><name>s1</name><description>a &lt;b&gt; &amp; \"c\"</description><disks><disk name='vda' snapshot='internal'/></disks></domainsnapshot>",
    );
  });
  test('external, with a skipped cdrom; round-trips through the parser', () => {
    const xml = buildSnapshotXml({
      name: 'e1',
      description: '',
      disks: [
        { target: 'vda', mode: 'external', overlay: '/s/vms/vm--vda--e1.qcow2' },
        { target: 'hdc', mode: 'no' },
      ],
    });
    assert.equal(
      xml,
      "<domainsnapshot><name>e1</name><disks><disk name='vda' snapshot='external' type='file'><driver type='qcow2'/><source file='/s/vms/vm--vda--e1.qcow2'/></disk><disk name='hdc' snapshot='no'/></disks></domainsnapshot>",
    );
    assert.throws(() => buildSnapshotXml({ name: 'x', description: '', disks: [{ target: 'vda', mode: 'external' }] }));
  });
});

describe('batched list output', () => {
  test('recorded dumpxml + snapshot-info batch → snapshots and current', () => {
    const set = parseSnapshotBatch(fx('batch-two.txt'), ['s1', 's2']);
    assert.equal(set.current, 's2');
    assert.deepEqual(
      set.snapshots.map((s) => [s.name, s.kind, s.parent, s.description]),
      [
        ['s1', 'internal', null, 'first <one> & more'],
        ['s2', 'external', 's1', ''],
      ],
    );
    assert.throws(() => parseSnapshotBatch(fx('batch-two.txt'), ['s1']), (e) => isKvmopsError(e, 'unexpected-output'));
  });

  test('orderTree: parents before children, siblings by time, then name', () => {
    const set = parseSnapshotBatch(fx('batch-two.txt'), ['s1', 's2']);
    const [s1, s2] = set.snapshots;
    const mk = (name: string, parent: string | null, t: number) => ({ ...s1!, name, parent, createdAt: t });
    const tree = orderTree({
      current: 'c',
      snapshots: [mk('late-root', null, 50), mk('c', 'b', 5), mk('b', 'a', 30), mk('a', null, 10), mk('b2', 'a', 20), { ...s2!, name: 'orphan', parent: 'gone', createdAt: 60 }],
    });
    assert.deepEqual(
      tree.map((s) => [s.name, s.parent, s.current]),
      [
        ['a', null, false],
        ['b2', 'a', false],
        ['b', 'a', false],
        ['c', 'b', true],
        ['late-root', null, false],
        ['orphan', 'gone', false],
      ],
    );
  });
});

describe('domain disks', () => {
  test('live XML with a backing chain: top file and format', () => {
    const disks = parseDomainXmlDisks(fx('domain-live-overlay.xml'));
    assert.deepEqual(disks, [
      { target: 'vda', device: 'disk', file: '/var/lib/kvmops-exp/vms/exp1--vda--s2.qcow2', format: 'qcow2', readonly: false },
    ]);
  });
  test('repointDisks keeps the uuid, drops <backingStore>, sets the file', () => {
    const xml = fx('domain-live-overlay.xml');
    const out = repointDisks(xml, new Map([['vda', { file: '/s/vms/new.qcow2', format: 'qcow2' }]]));
    assert.match(out, /<uuid>[0-9a-f-]{36}<\/uuid>/);
    assert.equal(/<uuid>([^<]+)</.exec(out)?.[1], /<uuid>([^<]+)</.exec(xml)?.[1]);
    assert.doesNotMatch(out, /backingStore/);
    assert.equal(parseDomainXmlDisks(out)[0]?.file, '/s/vms/new.qcow2');
    assert.throws(() => repointDisks(xml, new Map([['vdz', { file: '/x', format: 'qcow2' }]])));
  });
});

describe('libvirt version', () => {
  test('recorded `virsh version`', () => {
    const v = parseLibvirtVersion(fx('virsh-version.txt'));
    assert.deepEqual(v, { major: 9, minor: 0, micro: 0 });
    assert.equal(hasNativeExternalRevert(v), false);
  });
  test('9.9.0 and later revert external snapshots natively', () => {
    const at = (s: string) => hasNativeExternalRevert(parseLibvirtVersion(`Using library: libvirt ${s}\n`));
    assert.equal(at('9.8.0'), false);
    assert.equal(at('9.9.0'), true);
    assert.equal(at('9.10.0'), true);
    assert.equal(at('10.0.0'), true);
    assert.equal(at('8.99.99'), false);
    assert.equal(versionAtLeast({ major: 9, minor: 9, micro: 1 }, 9, 9, 2), false);
    assert.throws(() => parseLibvirtVersion('Compiled against library: libvirt 9.0.0\n'), (e) => isKvmopsError(e, 'unexpected-output'));
  });
});

describe('invalid names never reach a program', () => {
  // every virsh call goes through Virsh.multi (virsh.ts: one command is a batch of one)
  class RecordingVirsh extends Virsh {
    calls: unknown[] = [];
    override async multi(cmds: readonly VirshArgs[]): Promise<MultiResult[]> {
      this.calls.push(cmds);
      throw new Error('must not run');
    }
  }
  const virsh = new RecordingVirsh('qemu:///system');
  const h: HostContext = { name: 'local', uri: 'qemu:///system', virsh, storage: new StorageLayout('/tmp/kvmops-none'), local: true };
  const bad = ['', 'a b', "x'; destroy y", '../etc', '-rf', 'a;b', 'x'.repeat(64), 'é'];
  test('every operation refuses with invalid-input before running anything', async () => {
    for (const name of bad) {
      const refused = (e: unknown) => isKvmopsError(e, 'invalid-input');
      await assert.rejects(listSnapshots(h, name), refused);
      await assert.rejects(createSnapshot(h, { vm: name, name: 'ok', kind: 'internal' }), refused);
      await assert.rejects(createSnapshot(h, { vm: 'ok', name, kind: 'external' }), refused);
      await assert.rejects(revertSnapshot(h, { vm: 'ok', name }), refused);
      await assert.rejects(revertSnapshot(h, { vm: name, name: 'ok' }), refused);
      await assert.rejects(deleteSnapshot(h, { vm: 'ok', name }), refused);
    }
    await assert.rejects(
      createSnapshot(h, { vm: 'ok', name: 'ok', kind: 'weird' as 'internal' }),
      (e) => isKvmopsError(e, 'invalid-input'),
    );
    assert.deepEqual(virsh.calls, []);
  });
});
