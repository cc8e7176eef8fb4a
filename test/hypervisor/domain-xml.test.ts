import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import {
  attachSeed,
  cdromFiles,
  domainDisks,
  domainMacs,
  domainName,
  domainUuid,
  interfaceCount,
  newMac,
  parseDomainXml,
  readTemplateMeta,
  readVmMeta,
  setVmMeta,
  templateXml,
  vmXml,
} from '../../src/hypervisor/domain-xml.js';
import { find, findAll, serializeXml } from '../../src/hypervisor/xml.js';

const fx = (name: string) => readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');

const meta = {
  name: 'base',
  sourceVm: 'fxvm',
  sealed: true,
  cloudInit: 'no' as const,
  createdAt: '2026-01-02T03:04:05.000Z',
  disks: [{ target: 'vda', capacity: 67108864 }],
};

describe('reading domain XML (recorded dumpxml)', () => {
  it('name, uuid, disks, MACs', () => {
    const root = parseDomainXml(fx('dumpxml.xml'));
    assert.equal(domainName(root), 'fxvm');
    assert.equal(domainUuid(root), '0bad29de-e098-4757-a05c-d50749f2c9b9');
    assert.deepEqual(domainDisks(root), [
      { target: 'vda', device: 'disk', type: 'file', file: '/var/lib/kvmops-fx/v/ov.qcow2', format: 'qcow2' },
    ]);
    assert.deepEqual(domainMacs(root), ['52:54:00:c8:5c:66']);
  });
  it('CD-ROM without media, two NICs', () => {
    const root = parseDomainXml(fx('dumpxml-cdrom-2nics.xml'));
    assert.equal(domainDisks(root)[1]!.device, 'cdrom');
    assert.equal(domainDisks(root)[1]!.file, null);
    assert.equal(interfaceCount(fx('dumpxml-cdrom-2nics.xml')), 2);
  });
});

describe('template XML', () => {
  const xml = templateXml({
    sourceXml: fx('dumpxml-running.xml'),
    meta,
    diskPaths: new Map([['vda', '/s/templates/base--vda.qcow2']]),
  });
  const root = parseDomainXml(xml);
  it('has no identity: name, uuid, MACs, live id are gone', () => {
    assert.equal(find(root, 'name'), undefined);
    assert.equal(find(root, 'uuid'), undefined);
    assert.deepEqual(domainMacs(root), []);
    assert.equal(root.attrs.id, undefined);
    // the source VM's name survives only as the template's provenance in the metadata
    assert.doesNotMatch(xml.replace(/<metadata>.*<\/metadata>/s, ''), /fxvm|0bad29de|52:54:00:c8:5c:66/);
  });
  it('disks point at the template volumes, without the recorded chain', () => {
    assert.deepEqual(domainDisks(root).map((d) => [d.target, d.file, d.format]), [['vda', '/s/templates/base--vda.qcow2', 'qcow2']]);
    assert.equal(findAll(root, 'devices/disk/backingStore').length, 0);
    assert.equal(find(root, 'devices/disk/source')?.attrs.index, undefined);
  });
  it('carries the template metadata', () => assert.deepEqual(readTemplateMeta(root), meta));
  it('cloud-init: yes and no are written and read back; unknown is no attribute, and no attribute (an older template) is unknown', () => {
    assert.match(xml, / cloud-init='no' /);
    for (const cloudInit of ['yes', 'no', 'unknown'] as const) {
      const t = templateXml({ sourceXml: fx('dumpxml-running.xml'), meta: { ...meta, cloudInit }, diskPaths: new Map([['vda', '/s/templates/base--vda.qcow2']]) });
      assert.equal(readTemplateMeta(parseDomainXml(t))!.cloudInit, cloudInit);
      assert.equal(/cloud-init=/.test(t), cloudInit !== 'unknown');
    }
    const older = xml.replace(/ cloud-init='no'/, '');
    assert.equal(readTemplateMeta(parseDomainXml(older))!.cloudInit, 'unknown');
    assert.equal(readTemplateMeta(parseDomainXml(xml.replace(/ cloud-init='no'/, " cloud-init='maybe'")))!.cloudInit, 'unknown');
  });

  it('deploy: new identity, own disks, kvmops:vm metadata, no template metadata', () => {
    const out = vmXml({
      templateXml: xml,
      name: 'web-01',
      uuid: '11111111-2222-4333-8444-555555555555',
      macs: ['52:54:00:aa:bb:cc'],
      diskPaths: new Map([['vda', '/s/vms/web-01--vda.qcow2']]),
      meta: { template: 'base', mode: 'thin', request: '42' },
    });
    const vm = parseDomainXml(out);
    assert.equal(domainName(vm), 'web-01');
    assert.equal(domainUuid(vm), '11111111-2222-4333-8444-555555555555');
    assert.deepEqual(domainMacs(vm), ['52:54:00:aa:bb:cc']);
    assert.equal(domainDisks(vm)[0]!.file, '/s/vms/web-01--vda.qcow2');
    assert.deepEqual(readVmMeta(vm), { template: 'base', mode: 'thin', request: '42' });
    assert.equal(readTemplateMeta(vm), null);
    assert.match(out, /<kvmops:vm xmlns:kvmops='https:\/\/kvmops.dev\/xmlns\/1' template='base' mode='thin' request='42'\/>/);
  });
  it('CD-ROM media are ejected in a template; one MAC per NIC', () => {
    const t = templateXml({ sourceXml: fx('dumpxml-cdrom-2nics.xml'), meta, diskPaths: new Map([['vda', '/s/templates/b--vda.qcow2']]) });
    const r = parseDomainXml(t);
    assert.equal(domainDisks(r)[1]!.file, null);
    assert.throws(() =>
      vmXml({ templateXml: t, name: 'x', uuid: 'u', macs: ['52:54:00:00:00:01'], diskPaths: new Map([['vda', '/v']]), meta: { template: 'b', mode: 'clone' } }),
    );
  });
});

describe('the seed CD-ROM', () => {
  const seedDisk = (root: ReturnType<typeof parseDomainXml>) => findAll(root, 'devices/disk').filter((d) => d.attrs.device === 'cdrom');
  const tplOf = (source: string) => templateXml({ sourceXml: fx(source), meta, diskPaths: new Map([['vda', '/s/templates/b--vda.qcow2']]) });
  const deploy = (t: string, seedIso?: string) =>
    parseDomainXml(
      vmXml({
        templateXml: t,
        name: 'web-01',
        uuid: '11111111-2222-4333-8444-555555555555',
        macs: Array.from({ length: interfaceCount(t) }, (_, i) => `52:54:00:00:00:0${i}`),
        diskPaths: new Map([['vda', '/s/vms/v.qcow2']]),
        meta: { template: 'b', mode: 'thin' },
        ...(seedIso ? { seedIso } : {}),
      }),
    );

  it('no CD-ROM in the template: a new read-only raw drive on IDE hdc (i440fx), after the disks', () => {
    const vm = deploy(tplOf('dumpxml-running.xml'), '/s/vms/u.seed.0123456789ab.iso');
    const [cd, ...more] = seedDisk(vm);
    assert.equal(more.length, 0);
    assert.deepEqual(find(cd!, 'target')?.attrs, { dev: 'hdc', bus: 'ide' });
    assert.deepEqual(find(cd!, 'driver')?.attrs, { name: 'qemu', type: 'raw' });
    assert.ok(find(cd!, 'readonly'));
    assert.deepEqual(cdromFiles(vm), ['/s/vms/u.seed.0123456789ab.iso']);
    const kinds = findAll(vm, 'devices/disk').map((d) => d.attrs.device);
    assert.deepEqual(kinds, ['disk', 'cdrom']);
  });

  it('an empty CD-ROM drive in the template (a template made from a deployed VM) takes the seed: drives do not pile up', () => {
    const vm = deploy(tplOf('dumpxml-cdrom-2nics.xml'), '/s/vms/u.seed.0123456789ab.iso');
    const cds = seedDisk(vm);
    assert.equal(cds.length, 1);
    assert.equal(find(cds[0]!, 'target')?.attrs.dev, 'hdc');
    assert.equal(find(cds[0]!, 'address')?.attrs.bus, '1', 'the drive keeps its address');
    assert.deepEqual(cdromFiles(vm), ['/s/vms/u.seed.0123456789ab.iso']);
    assert.equal(findAll(cds[0]!, 'readonly').length, 1);
  });

  it('q35 has no IDE: SATA, at the first free sdX; no seed asked: none added', () => {
    const root = parseDomainXml(fx('dumpxml.xml'));
    find(root, 'os/type')!.attrs.machine = 'pc-q35-7.2';
    const sda = { name: 'disk', attrs: { type: 'file', device: 'disk' }, children: [{ name: 'target', attrs: { dev: 'sda', bus: 'sata' }, children: [] }] };
    find(root, 'devices')!.children.push(sda);
    attachSeed(root, '/s/vms/u.seed.0123456789ab.iso');
    const cd = findAll(root, 'devices/disk').find((d) => d.attrs.device === 'cdrom')!;
    assert.deepEqual(find(cd, 'target')?.attrs, { dev: 'sdb', bus: 'sata' });
    assert.equal(seedDisk(deploy(tplOf('dumpxml-running.xml'))).length, 0);
  });
});

describe('kvmops metadata', () => {
  it('is found under any prefix bound to the namespace, and replaced, not duplicated', () => {
    const root = parseDomainXml(
      `<domain><name>a</name><metadata><k:vm xmlns:k='https://kvmops.dev/xmlns/1' template='t' mode='clone'/><other:x xmlns:other='urn:x'/></metadata></domain>`,
    );
    assert.deepEqual(readVmMeta(root), { template: 't', mode: 'clone' });
    setVmMeta(root, { template: 'u', mode: 'thin' });
    assert.deepEqual(readVmMeta(root), { template: 'u', mode: 'thin' });
    assert.equal(find(root, 'metadata')!.children.length, 2);
    assert.match(serializeXml(root), /other:x/);
  });
  it('a foreign element with the same local name is not ours', () => {
    const root = parseDomainXml(`<domain><metadata><k:vm xmlns:k='urn:other' template='t' mode='thin'/></metadata></domain>`);
    assert.equal(readVmMeta(root), null);
  });
});

describe('newMac', () => {
  it('QEMU prefix, unique within a batch', () => {
    const taken = new Set<string>();
    const macs = Array.from({ length: 500 }, () => newMac(taken));
    assert.equal(new Set(macs).size, 500);
    for (const m of macs) assert.match(m, /^52:54:00(:[0-9a-f]{2}){3}$/);
  });
});
