import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { virshArgs, volumeXml } from '../../../src/hypervisor/virsh-args.js';
import { parseXml, find, textOf } from '../../../src/hypervisor/xml.js';
import { asDomainUuid } from '../../../src/hypervisor/domain-uuid.js';

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
  it('volume XML for vol-create-from', () => {
    const v = parseXml(volumeXml('web--vda.qcow2', { mode: '0600' }));
    assert.equal(textOf(find(v, 'name')), 'web--vda.qcow2');
    assert.equal(find(v, 'target/format')?.attrs.type, 'qcow2');
    assert.equal(textOf(find(v, 'target/permissions/mode')), '0600');
  });
});
