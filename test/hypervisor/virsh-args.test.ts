import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { asDomainUuid } from '../../src/hypervisor/domain-uuid.js';
import { qemuImg } from '../../src/hypervisor/qemu-img.js';
import { quoteVirshArg, virshArgs as v, virshCommandString, virshProcessArgs, volumeXml } from '../../src/hypervisor/virsh-args.js';
import { Virsh } from '../../src/hypervisor/virsh.js';
import { find, parseXml, textOf } from '../../src/hypervisor/xml.js';
import { argvCases } from '../helpers/argv.js';

const U = asDomainUuid('3f2a9c1e-0b7d-4e55-9a10-2c4b6d8e0f12');

describe('virsh argv, every builder', () => {
  argvCases(v, {
    version: [[v.version(), ['version']]],
    listDomains: [[v.listDomains(), ['list', '--all', '--uuid', '--name']]],
    listActiveUuids: [[v.listActiveUuids(), ['list', '--uuid']]],
    listUuidsWithSnapshots: [[v.listUuidsWithSnapshots(), ['list', '--all', '--uuid', '--with-snapshot']]],
    domstatsStateBlock: [[v.domstatsStateBlock(), ['domstats', '--state', '--block', '--nowait']]],
    listUuidsInState: [
      [v.listUuidsInState('running'), ['list', '--all', '--uuid', '--state-running']],
      [v.listUuidsInState('other'), ['list', '--all', '--uuid', '--state-other']],
    ],
    listAll: [[v.listAll(), ['list', '--all']]],
    eventLoop: [[v.eventLoop(3600), ['event', '--all', '--loop', '--timestamp', '--timeout', '3600']]],
    domstate: [[v.domstate(U), ['domstate', '--reason', U]]],
    dominfo: [[v.dominfo(U), ['dominfo', U]]],
    dumpxml: [
      [v.dumpxml(U), ['dumpxml', U]],
      [v.dumpxml(U, { inactive: true }), ['dumpxml', '--inactive', U]],
    ],
    domblklist: [[v.domblklist(U), ['domblklist', '--details', U]]],
    domifaddr: [
      [v.domifaddr(U, 'lease'), ['domifaddr', '--domain', U, '--source', 'lease', '--full']],
      [v.domifaddr(U, 'agent'), ['domifaddr', '--domain', U, '--source', 'agent', '--full']],
    ],
    define: [[v.define('/t/d.xml'), ['define', '/t/d.xml']]],
    start: [[v.start(U), ['start', U]]],
    shutdown: [[v.shutdown(U), ['shutdown', U]]],
    destroy: [[v.destroy(U), ['destroy', U]]],
    // a shut-off domain with snapshots cannot be undefined without --snapshots-metadata
    undefine: [
      [v.undefine(U), ['undefine', U, '--snapshots-metadata']],
      [v.undefine(U, { nvram: true }), ['undefine', U, '--snapshots-metadata', '--nvram']],
    ],
    metadataGet: [[v.metadataGet(U, 'https://kvmops.dev/xmlns/1/revert'), ['metadata', U, 'https://kvmops.dev/xmlns/1/revert', '--config']]],
    metadataSet: [[v.metadataSet(U, 'u:x', 'kvmops', '<r/>'), ['metadata', U, 'u:x', '--config', '--key', 'kvmops', '--set', '<r/>']]],
    snapshotListNames: [[v.snapshotListNames(U), ['snapshot-list', U, '--name']]],
    snapshotDumpxml: [[v.snapshotDumpxml(U, 's1'), ['snapshot-dumpxml', U, 's1']]],
    snapshotInfo: [[v.snapshotInfo(U, 's1'), ['snapshot-info', U, 's1']]],
    snapshotCreate: [
      [v.snapshotCreate(U, '/t/s.xml', { diskOnly: true }), ['snapshot-create', U, '--xmlfile', '/t/s.xml', '--atomic', '--disk-only']],
      [v.snapshotCreate(U, '/t/s.xml', { diskOnly: false }), ['snapshot-create', U, '--xmlfile', '/t/s.xml', '--atomic']],
    ],
    snapshotRedefineCurrent: [[v.snapshotRedefineCurrent(U, '/t/s.xml'), ['snapshot-create', U, '--xmlfile', '/t/s.xml', '--redefine', '--current']]],
    snapshotRevert: [
      [v.snapshotRevert(U, 's1'), ['snapshot-revert', U, 's1']],
      [v.snapshotRevert(U, 's1', { paused: true }), ['snapshot-revert', U, 's1', '--paused']],
    ],
    resume: [[v.resume(U), ['resume', U]]],
    snapshotCurrent: [[v.snapshotCurrent(U, 's1'), ['snapshot-current', U, 's1']]],
    snapshotDelete: [
      [v.snapshotDelete(U, 's1'), ['snapshot-delete', U, 's1']],
      [v.snapshotDelete(U, 's1', { metadataOnly: true }), ['snapshot-delete', U, 's1', '--metadata']],
    ],
    blockcommitActive: [[v.blockcommitActive(U, 'vda'), ['blockcommit', U, 'vda', '--shallow', '--active', '--pivot', '--wait']]],
    poolListAll: [[v.poolListAll(), ['pool-list', '--all', '--name']]],
    poolListActive: [[v.poolListActive(), ['pool-list', '--name']]],
    poolDefineDir: [[v.poolDefineDir('kvmops-1-vms', '/s/vms'), ['pool-define-as', 'kvmops-1-vms', 'dir', '--target', '/s/vms']]],
    poolCreateDir: [[v.poolCreateDir('kvmops-probe-1', '/x'), ['pool-create-as', 'kvmops-probe-1', 'dir', '--target', '/x']]],
    poolBuild: [[v.poolBuild('p'), ['pool-build', 'p']]],
    poolStart: [[v.poolStart('p'), ['pool-start', 'p']]],
    poolAutostart: [[v.poolAutostart('p'), ['pool-autostart', 'p']]],
    poolRefresh: [[v.poolRefresh('p'), ['pool-refresh', 'p']]],
    poolInfo: [[v.poolInfo('p'), ['pool-info', '--bytes', 'p']]],
    nodeinfo: [[v.nodeinfo(), ['nodeinfo']]],
    nodememstats: [[v.nodememstats(), ['nodememstats']]],
    poolDestroy: [[v.poolDestroy('p'), ['pool-destroy', 'p']]],
    poolUndefine: [[v.poolUndefine('p'), ['pool-undefine', 'p']]],
    volList: [[v.volList('p'), ['vol-list', 'p']]],
    volDumpxml: [[v.volDumpxml('/s/vms/a.qcow2'), ['vol-dumpxml', '/s/vms/a.qcow2']]],
    volDelete: [[v.volDelete('/s/vms/a.qcow2'), ['vol-delete', '/s/vms/a.qcow2']]],
    volPath: [[v.volPath('p', 'a.qcow2'), ['vol-path', '--pool', 'p', 'a.qcow2']]],
    volCreateAs: [[v.volCreateAs('p', 't.xml', 123, 'raw'), ['vol-create-as', 'p', 't.xml', '123B', '--format', 'raw']]],
    // the thin overlay gives the backing format explicitly
    volCreateOverlay: [
      [
        v.volCreateOverlay('p', 'web--vda.qcow2', 67108864, '/s/templates/base--vda.qcow2'),
        ['vol-create-as', 'p', 'web--vda.qcow2', '67108864B', '--format', 'qcow2', '--backing-vol', '/s/templates/base--vda.qcow2', '--backing-vol-format', 'qcow2'],
      ],
    ],
    volCreateFrom: [[v.volCreateFrom('p', '/t/vol.xml', '/s/templates/base--vda.qcow2'), ['vol-create-from', 'p', '/t/vol.xml', '/s/templates/base--vda.qcow2']]],
    volUpload: [[v.volUpload('p', 't.xml', '/tmp/x'), ['vol-upload', '--pool', 'p', 't.xml', '/tmp/x']]],
    volDownload: [[v.volDownload('p', 't.xml', '/tmp/x'), ['vol-download', '--pool', 'p', 't.xml', '/tmp/x']]],
    echo: [
      [v.echo('m'), ['echo', 'm']],
      [v.echo('m', { err: true }), ['echo', '--err', 'm']],
    ],
  });
});

describe('virsh process argv: a constant --connect, then one command string', () => {
  argvCases(virshProcessArgs, {
    script: [[virshProcessArgs.script('qemu:///system', ["'version'", "'echo' 'm'"]), ['--connect', 'qemu:///system', "'version' ; 'echo' 'm'"]]],
    // (how one command reads in an error message)
    command: [[virshProcessArgs.command('qemu+ssh://h/system', v.domstate(U)), ['--connect', 'qemu+ssh://h/system', 'domstate', '--reason', U]]],
  });
});

describe('virsh argv, the rules', () => {
  it('domains are addressed by uuid only: a name is a type error', () => {
    // @ts-expect-error a VM name is not a DomainUuid
    v.destroy('web');
    // @ts-expect-error nor is a plain string that looks like one
    v.start('3f2a9c1e-0b7d-4e55-9a10-2c4b6d8e0f12');
  });

  it('an argv spelled by hand is a type error where a program runs', () => {
    const virsh = new Virsh('qemu:///system');
    const refusedByTypes = () => {
      // @ts-expect-error virsh takes virshArgs' argv only
      void virsh.run(['destroy', U]);
      // @ts-expect-error also in a batch
      void virsh.multi([v.version(), ['start', U]]);
      // @ts-expect-error qemu-img takes qemuImgArgs' argv only
      void qemuImg(['commit', '/v/o.qcow2']);
      // @ts-expect-error and one program's argv is not another's
      void qemuImg(v.version());
    };
    assert.equal(typeof refusedByTypes, 'function'); // never called: the check is tsc's
  });

  it('the command string: each argument single-quoted, a quote closed-escaped-reopened, commands joined by ;', () => {
    assert.equal(quoteVirshArg('web-01'), "'web-01'");
    assert.equal(quoteVirshArg("<r a='1'/>"), "'<r a='\\''1'\\''/>'");
    assert.equal(quoteVirshArg('a\\b ; #c\nd'), "'a\\b ; #c\nd'");
    assert.equal(virshCommandString([v.domstate(U), v.echo("it's")]), `'domstate' '--reason' '${U}' ; 'echo' 'it'\\''s'`);
  });

  it('volume XML for vol-create-from', () => {
    const x = parseXml(volumeXml('web--vda.qcow2', { mode: '0600' }));
    assert.equal(textOf(find(x, 'name')), 'web--vda.qcow2');
    assert.equal(find(x, 'target/format')?.attrs.type, 'qcow2');
    assert.equal(textOf(find(x, 'target/permissions/mode')), '0600');
  });
});
