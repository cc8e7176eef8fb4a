import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { parseBackingChain } from '../../../src/hypervisor/qemu-img.js';
import { qemuImgArgs, virshArgs, volumeXml } from '../../../src/hypervisor/virsh-args.js';
import { parseEnvFile } from '../../../src/hypervisor/sysprep.js';
import { parseXml, find, textOf } from '../../../src/hypervisor/xml.js';
import { isVmDomain } from '../../../src/hypervisor/vms.js';
import { asDomainUuid } from '../../../src/hypervisor/domain-uuid.js';

const fx = (name: string) => readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');

const U = asDomainUuid('3f2a9c1e-0b7d-4e55-9a10-2c4b6d8e0f12');

describe('virsh argument builders', () => {
  it('domains are addressed by uuid only: a name is a type error', () => {
    // @ts-expect-error a VM name is not a DomainUuid
    virshArgs.destroy('web');
    // @ts-expect-error nor is a plain string that looks like one
    virshArgs.start('3f2a9c1e-0b7d-4e55-9a10-2c4b6d8e0f12');
    assert.deepEqual(virshArgs.destroy(U), ['destroy', U]);
    assert.deepEqual(virshArgs.listDomains(), ['list', '--all', '--uuid', '--name']);
  });
  it('undefine always drops snapshot metadata; nvram on request', () => {
    assert.deepEqual(virshArgs.undefine(U), ['undefine', U, '--snapshots-metadata']);
    assert.deepEqual(virshArgs.undefine(U, { nvram: true }), ['undefine', U, '--snapshots-metadata', '--nvram']);
  });
  it('snapshot commands', () => {
    assert.deepEqual(virshArgs.snapshotCreate(U, '/t/s.xml', { diskOnly: true }), ['snapshot-create', U, '--xmlfile', '/t/s.xml', '--atomic', '--disk-only']);
    assert.deepEqual(virshArgs.snapshotDelete(U, 's1', { metadataOnly: true }), ['snapshot-delete', U, 's1', '--metadata']);
    assert.deepEqual(virshArgs.snapshotRevert(U, 's1'), ['snapshot-revert', U, 's1']);
  });
  it('metadata: persistent definition, one namespace uri', () => {
    assert.deepEqual(virshArgs.metadataGet(U, 'https://kvmops.dev/xmlns/1/revert'), ['metadata', U, 'https://kvmops.dev/xmlns/1/revert', '--config']);
    assert.deepEqual(virshArgs.metadataSet(U, 'u:x', 'kvmops', '<r/>'), ['metadata', U, 'u:x', '--config', '--key', 'kvmops', '--set', '<r/>']);
  });
  it('thin overlay gives the backing format explicitly', () => {
    assert.deepEqual(virshArgs.volCreateOverlay('p', 'web--vda.qcow2', 67108864, '/s/templates/base--vda.qcow2'), [
      'vol-create-as',
      'p',
      'web--vda.qcow2',
      '67108864B',
      '--format',
      'qcow2',
      '--backing-vol',
      '/s/templates/base--vda.qcow2',
      '--backing-vol-format',
      'qcow2',
    ]);
    assert.deepEqual(qemuImgArgs.createOverlay('/o', '/b'), ['create', '-q', '-f', 'qcow2', '-b', '/b', '-F', 'qcow2', '/o']);
  });
  it('state readers', () => {
    assert.deepEqual(virshArgs.domstate(U), ['domstate', '--reason', U]);
    assert.deepEqual(virshArgs.domblklist(U), ['domblklist', '--details', U]);
    assert.deepEqual(virshArgs.dumpxml(U, { inactive: true }), ['dumpxml', '--inactive', U]);
  });
  it('pools', () => {
    assert.deepEqual(virshArgs.poolDefineDir('kvmops-1-vms', '/s/vms'), ['pool-define-as', 'kvmops-1-vms', 'dir', '--target', '/s/vms']);
    assert.deepEqual(virshArgs.volCreateAs('p', 't.xml', 123, 'raw'), ['vol-create-as', 'p', 't.xml', '123B', '--format', 'raw']);
    assert.deepEqual(virshArgs.volUpload('p', 't.xml', '/tmp/x'), ['vol-upload', '--pool', 'p', 't.xml', '/tmp/x']);
  });
  it('qemu-img info: the declared format is not probed', () => {
    assert.deepEqual(qemuImgArgs.infoChain('/v/a.qcow2', 'qcow2'), ['info', '-U', '-f', 'qcow2', '--backing-chain', '--output=json', '/v/a.qcow2']);
    assert.deepEqual(qemuImgArgs.infoChain('/v/a.qcow2'), ['info', '-U', '--backing-chain', '--output=json', '/v/a.qcow2']);
  });
  it('flattening convert', () => {
    assert.deepEqual(qemuImgArgs.convertFlat('/a', 'qcow2', '/b'), ['convert', '-p', '-f', 'qcow2', '-O', 'qcow2', '-o', 'compat=1.1', '/a', '/b']);
  });
  it('volume XML for vol-create-from', () => {
    const v = parseXml(volumeXml('web--vda.qcow2', { mode: '0600' }));
    assert.equal(textOf(find(v, 'name')), 'web--vda.qcow2');
    assert.equal(find(v, 'target/format')?.attrs.type, 'qcow2');
    assert.equal(textOf(find(v, 'target/permissions/mode')), '0600');
  });
});

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
      .map((l) => /\((\d+(?:\.\d+)?)\/100%\)/.exec(l))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => Number(m[1]) / 100);
    assert.ok(fractions.length > 3);
    assert.equal(fractions[0], 0);
    assert.ok(fractions.every((f, i) => i === 0 || f >= fractions[i - 1]!));
  });
});

describe('supermin env file', () => {
  it('reads export lines as written by host-setup.sh --seal', () => {
    assert.deepEqual(
      parseEnvFile('export SUPERMIN_KERNEL=/k/vmlinuz\nexport LIBGUESTFS_BACKEND=direct\n# c\nX="q v"\n'),
      { SUPERMIN_KERNEL: '/k/vmlinuz', LIBGUESTFS_BACKEND: 'direct', X: 'q v' },
    );
  });
});

describe('isVmDomain', () => {
  it('libguestfs appliance domains are not VMs', () => {
    assert.equal(isVmDomain('guestfs-3kq9c1xz0ph2'), false);
    assert.equal(isVmDomain('web-01'), true);
  });
});
