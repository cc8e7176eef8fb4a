/**
 * Templates and deploy on the real libvirtd: data checked with qemu-io / qemu-img, not exit codes.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { LibvirtHost } from '../../src/hypervisor/host.js';
import type { TemplateInfo } from '../../src/hypervisor/types.js';
import {
  allocatedBytes,
  chainOf,
  createDisk,
  defineVm,
  diskOf,
  domainExists,
  domainXml,
  domState,
  hasPattern,
  isoFiles,
  makeTestEnv,
  seedOf,
  skipUnlessLibvirt,
  virsh,
  writePattern,
  type LibvirtTestEnv,
  hasCode,
} from '../helpers/libvirt.js';
import { newEd25519Line } from '../helpers/ssh-keys.js';

const skip = skipUnlessLibvirt();
const code = hasCode;
const uuidOf = (xml: string) => /<uuid>([^<]+)<\/uuid>/.exec(xml)![1]!;
const macsOf = (xml: string) => [...xml.matchAll(/<mac address='([^']+)'/g)].map((m) => m[1]!);

describe('templates and deploy (real libvirt)', skip, () => {
  let env: LibvirtTestEnv;
  let host: LibvirtHost;
  let tpl: TemplateInfo;
  let srcXml: string;
  const vmsFiles = () => readdirSync(env.storage.vmsDir).sort();

  before(async () => {
    env = makeTestEnv('dep');
    host = new LibvirtHost({ name: 'local', uri: 'qemu:///system' }, { storageDir: env.storageDir });
    const src = env.vmName('src');
    const disk = createDisk(`${env.outsideDir}/src.qcow2`);
    writePattern(disk, 0x5a, '0', '1M');
    writePattern(disk, 0x3c, '32M', '1M');
    defineVm(src, [disk], { nics: 2 });
    srcXml = domainXml(src);
    tpl = await host.createTemplate({ vm: src, name: `${env.prefix}base`, seal: false });
  });
  after(() => env?.cleanup());

  it('the template disk is a chain-free, read-only copy holding the data', () => {
    assert.equal(tpl.disks.length, 1);
    const file = tpl.disks[0]!.file;
    assert.ok(file.startsWith(env.storage.templatesDir + '/'));
    assert.equal(chainOf(file).length, 1);
    assert.equal(statSync(file).mode & 0o777, 0o444);
    assert.ok(hasPattern(file, 0x5a, '0', '1M'));
    assert.ok(hasPattern(file, 0x3c, '32M', '1M'));
  });

  it('is listed with its source VM and no dependents', async () => {
    const list = await host.listTemplates();
    const t = list.find((x) => x.name === tpl.name);
    assert.ok(t);
    assert.equal(t.sourceVm, env.vmName('src'));
    assert.deepEqual(t.dependents, []);
    assert.ok(t.disks[0]!.actualSize > 0);
  });

  let thin: string[] = [];
  it('thin ×3: overlays backed by the template disk, data visible, writes stay in the overlay', async () => {
    const r = await host.deploy({ template: tpl.name, name: env.vmName('thin'), count: 3, mode: 'thin', start: false });
    thin = r.vms;
    assert.deepEqual(thin, ['01', '02', '03'].map((n) => env.vmName(`thin-${n}`)));
    const tplFile = tpl.disks[0]!.file;
    for (const vm of thin) {
      const info = await host.vmInfo(vm);
      assert.deepEqual(info.deployedFrom, { template: tpl.name, mode: 'thin' });
      const disk = info.disks[0]!;
      // named for the VM's uuid, not its name (storage.ts)
      assert.equal(env.storage.ownerOf(disk.file), info.uuid);
      const chain = chainOf(disk.file);
      assert.equal(chain.length, 2);
      assert.equal(chain[1]!.filename, tplFile);
      assert.equal(chain[0]!['backing-filename'], tplFile);
      assert.deepEqual(disk.chain.map((c) => c.file), [disk.file, tplFile]);
      assert.ok(hasPattern(disk.file, 0x5a, '0', '1M'));
      // its own cloud-init seed: a read-only CD-ROM named for its uuid, instance-id = uuid, hostname = name
      const seed = seedOf(vm);
      assert.equal(env.storage.ownerOf(seed), info.uuid);
      assert.ok(env.storage.isSeedFile(seed));
      assert.match(domainXml(vm), /<disk type='file' device='cdrom'>[\s\S]*?<readonly\/>[\s\S]*?<\/disk>/);
      const docs = isoFiles(seed, ['meta-data', 'user-data']);
      assert.deepEqual(JSON.parse(docs['meta-data']!), { 'instance-id': info.uuid, 'local-hostname': vm.toLowerCase() });
      assert.match(docs['user-data']!, /^#cloud-config\n/);
    }
    assert.equal(vmsFiles().filter((f) => f.endsWith('.iso')).length, 3, 'one seed per VM');
    // a write to one VM changes neither the template nor its siblings
    const first = diskOf(thin[0]!);
    writePattern(first, 0x77, '0', '1M');
    assert.ok(hasPattern(first, 0x77, '0', '1M'));
    assert.ok(hasPattern(tplFile, 0x5a, '0', '1M'));
    assert.ok(hasPattern(diskOf(thin[1]!), 0x5a, '0', '1M'));
  });

  it('every VM has a new name, uuid and MACs (one per NIC), different from the source and each other', () => {
    const xmls = thin.map((vm) => domainXml(vm));
    const uuids = [uuidOf(srcXml), ...xmls.map(uuidOf)];
    assert.equal(new Set(uuids).size, 4);
    const macs = [...macsOf(srcXml), ...xmls.flatMap(macsOf)];
    assert.equal(macs.length, 8);
    assert.equal(new Set(macs).size, 8);
  });

  it('clone: no backing chain, data present, allocation ≤ 1.1 × the template', async () => {
    const progress: number[] = [];
    const r = await host.deploy(
      { template: tpl.name, name: env.vmName('clone'), count: 1, mode: 'clone', start: false },
      { onProgress: (p) => p.fraction !== undefined && progress.push(p.fraction) },
    );
    const file = diskOf(r.vms[0]!);
    assert.equal(env.storage.ownerOf(file), (await host.vmInfo(r.vms[0]!)).uuid);
    assert.equal(chainOf(file).length, 1);
    assert.ok(hasPattern(file, 0x5a, '0', '1M'));
    assert.ok(hasPattern(file, 0x3c, '32M', '1M'));
    assert.ok(allocatedBytes(file) <= 1.1 * allocatedBytes(tpl.disks[0]!.file));
    assert.equal(progress.at(-1), 1);
    assert.equal((await host.vmInfo(r.vms[0]!)).deployedFrom?.mode, 'clone');
    const seed = seedOf(r.vms[0]!);
    assert.deepEqual(await host.deleteVm(r.vms[0]!), { removed: [file, seed].sort(), kept: [] });
    assert.equal(existsSync(seed), false, 'the seed goes with its VM');
  });

  it('refuses taken names before touching anything', async () => {
    const before = vmsFiles();
    await assert.rejects(
      host.deploy({ template: tpl.name, name: env.vmName('thin'), count: 3, mode: 'thin', start: false }),
      (e: unknown) => code('name-taken')(e) && JSON.stringify((e as { details: unknown }).details).includes(thin[2]!),
    );
    assert.deepEqual(vmsFiles(), before);
  });

  it('a missing template: template-not-found', async () => {
    await assert.rejects(
      host.deploy({ template: `${env.prefix}nope`, name: env.vmName('x'), count: 1, mode: 'thin', start: false }),
      code('template-not-found'),
    );
  });

  it('template delete is refused while thin VMs use it; deleting a VM removes its files, not the template’s', async () => {
    await assert.rejects(host.deleteTemplate(tpl.name), (e: unknown) => {
      assert.ok(code('template-in-use')(e));
      assert.deepEqual((e as { details: { dependents: string[] } }).details.dependents, thin);
      return true;
    });
    assert.deepEqual((await host.listTemplates()).find((t) => t.name === tpl.name)?.dependents, thin);
    for (const vm of thin) {
      const disk = diskOf(vm);
      const seed = seedOf(vm);
      const r = await host.deleteVm(vm);
      assert.deepEqual(r.removed, [disk, seed].sort());
      assert.deepEqual(r.kept, [tpl.disks[0]!.file]);
      assert.equal(domainExists(vm), false);
    }
    assert.deepEqual(vmsFiles(), []);
    assert.ok(existsSync(tpl.disks[0]!.file));
    assert.ok(hasPattern(tpl.disks[0]!.file, 0x5a, '0', '1M'));
  });

  it('recovery: the same request again keeps whole VMs and redoes half-made ones', async () => {
    const req = { template: tpl.name, name: env.vmName('rec'), count: 3, mode: 'thin' as const, start: false, requestId: 'job-17' };
    const first = await host.deploy(req);
    const [a, b, c] = first.vms as [string, string, string];
    const uuidA = uuidOf(domainXml(a));
    const uuidC = uuidOf(domainXml(c));
    const diskA = diskOf(a);
    const seedA = seedOf(a);
    const diskC = diskOf(c);
    const seedC = seedOf(c);
    // crash simulations: b lost its disk (domain without disk), c lost its domain (disk and seed
    // without domain); after the retry a is whole with its first seed, b and c have one seed each
    virsh('vol-delete', diskOf(b));
    virsh('undefine', c);
    const again = await host.deploy(req);
    assert.deepEqual(again.vms, first.vms);
    assert.equal(uuidOf(domainXml(a)), uuidA, 'a whole VM is kept, not redone');
    assert.equal(diskOf(a), diskA);
    assert.equal(uuidOf(domainXml(c)), uuidC, 'the same request gives c the same uuid again');
    assert.equal(existsSync(diskC), false, 'the disk c’s lost domain left is removed');
    assert.equal(existsSync(seedC), false, 'and its seed');
    assert.equal(seedOf(a), seedA, 'a keeps its seed');
    for (const vm of [a, b, c]) {
      assert.equal(chainOf(diskOf(vm))[1]!.filename, tpl.disks[0]!.file);
      assert.ok(domainExists(vm));
    }
    assert.equal(vmsFiles().length, 6, 'a disk and a seed per VM, no second seed, no orphan');
    for (const vm of [a, b, c]) assert.equal(env.storage.ownerOf(seedOf(vm)), uuidOf(domainXml(vm)));
    // another request (or none) with the same names is refused
    await assert.rejects(host.deploy({ ...req, requestId: 'job-18' }), code('name-taken'));
    await assert.rejects(host.deploy({ ...req, requestId: undefined }), code('name-taken'));
    for (const vm of [a, b, c]) await host.deleteVm(vm);
    assert.deepEqual(vmsFiles(), []);
  });

  it('abort: everything this call made is removed', async () => {
    const ac = new AbortController();
    const p = host.deploy(
      { template: tpl.name, name: env.vmName('ab'), count: 4, mode: 'clone', start: false },
      { signal: ac.signal, onProgress: (pr) => pr.step.includes('(2/4)') && ac.abort() },
    );
    await assert.rejects(p, code('aborted'));
    assert.deepEqual(vmsFiles(), []);
    for (const n of ['01', '02', '03', '04']) assert.equal(domainExists(env.vmName(`ab-${n}`)), false);
  });

  it('the seed: hostname from the name (lower case, _ → -), the request’s keys then the team’s, each once; a bad key refused before anything is made', async () => {
    const mine = newEd25519Line('alice@laptop');
    const team = newEd25519Line('ops@team');
    const teamHost = new LibvirtHost({ name: 'local', uri: 'qemu:///system' }, { storageDir: env.storageDir, teamSshKeys: [team, mine] });
    const name = env.vmName('Key_A');
    const r = await teamHost.deploy({ template: tpl.name, name, count: 1, mode: 'thin', start: false, sshKeys: [mine] });
    const docs = isoFiles(seedOf(r.vms[0]!), ['meta-data', 'user-data']);
    const userData = JSON.parse(docs['user-data']!.replace(/^#cloud-config\n/, '')) as { hostname: string; ssh_authorized_keys: string[] };
    assert.equal(userData.hostname, name.toLowerCase().replace(/_/g, '-'));
    assert.equal(JSON.parse(docs['meta-data']!)['local-hostname'], userData.hostname);
    assert.deepEqual(userData.ssh_authorized_keys, [mine, team]);
    await host.deleteVm(r.vms[0]!);
    const before = vmsFiles();
    await assert.rejects(host.deploy({ template: tpl.name, name: env.vmName('badkey'), count: 1, mode: 'thin', start: false, sshKeys: ['ssh-rsa AAAA'] }), code('invalid-input'));
    assert.deepEqual(vmsFiles(), before);
    assert.equal(domainExists(env.vmName('badkey')), false);
  });

  it('a seeded VM: snapshots leave its seed alone; a template made from it gives the next VM one CD-ROM with its own seed', async () => {
    const r = await host.deploy({ template: tpl.name, name: env.vmName('snap'), count: 1, mode: 'thin', start: true });
    const vm = r.vms[0]!;
    const seed = seedOf(vm);
    await host.createSnapshot({ vm, name: 'i1', kind: 'internal' });
    await host.createSnapshot({ vm, name: 'e1', kind: 'external' });
    await host.stopVm({ vm, force: true });
    await host.createSnapshot({ vm, name: 'e2', kind: 'external' });
    await host.revertSnapshot({ vm, name: 'e1' });
    await host.deleteSnapshot({ vm, name: 'e2' });
    assert.equal(seedOf(vm), seed);
    await host.stopVm({ vm, force: true });
    const gen2 = await host.createTemplate({ vm, name: `${env.prefix}gen2`, seal: false });
    const r2 = await host.deploy({ template: gen2.name, name: env.vmName('gen2'), count: 1, mode: 'thin', start: false });
    const xml = domainXml(r2.vms[0]!);
    assert.equal([...xml.matchAll(/device='cdrom'/g)].length, 1, xml);
    assert.equal(env.storage.ownerOf(seedOf(r2.vms[0]!)), uuidOf(xml));
    for (const v of [vm, r2.vms[0]!]) await host.deleteVm(v);
    await host.deleteTemplate(gen2.name);
    assert.equal(existsSync(seed), false);
    assert.deepEqual(vmsFiles(), []);
  });

  it('start: deployed VMs run', async () => {
    const r = await host.deploy({ template: tpl.name, name: env.vmName('run'), count: 2, mode: 'thin', start: true });
    for (const vm of r.vms) assert.equal((await host.vmInfo(vm)).state, 'running');
    for (const vm of r.vms) await host.deleteVm(vm);
    assert.deepEqual(vmsFiles(), []);
  });

  it('a define that fails (the name was taken meanwhile) leaves that domain alone and undoes only this call', async () => {
    const base = env.vmName('race');
    const intruder = `${base}-02`;
    const intruderDisk = createDisk(`${env.outsideDir}/intruder.qcow2`);
    writePattern(intruderDisk, 0x99);
    const before = vmsFiles();
    await assert.rejects(
      host.deploy(
        { template: tpl.name, name: base, count: 2, mode: 'thin', start: false },
        {
          onProgress: (p) => {
            // after the state was read, before the defines: someone defines and starts one of the names
            if (p.step.startsWith('creating') && !domainExists(intruder)) {
              defineVm(intruder, [intruderDisk]);
              virsh('start', intruder);
            }
          },
        },
      ),
      code('name-taken'),
    );
    assert.equal(domState(intruder), 'running', 'the other domain is neither destroyed nor undefined');
    assert.equal(diskOf(intruder), intruderDisk);
    assert.equal(domainExists(`${base}-01`), false, 'what this call defined is gone');
    assert.deepEqual(vmsFiles(), before, 'and the files it made');
    virsh('destroy', intruder);
    assert.ok(hasPattern(intruderDisk, 0x99));
  });

  it('template delete after its dependents are gone removes its files', async () => {
    await host.deleteTemplate(tpl.name);
    assert.deepEqual(readdirSync(env.storage.templatesDir), []);
    await assert.rejects(host.deleteTemplate(tpl.name), code('template-not-found'));
    assert.equal((await host.listTemplates()).length, 0);
  });
});

/**
 * The remote code path (libvirt's volume API only: vol-create-from, vol-dumpxml chains),
 * driven against the local daemon by telling the host it is not local.
 */
describe('remote code path: libvirt volume API only (real libvirt)', skip, () => {
  let env: LibvirtTestEnv;
  let host: LibvirtHost;
  before(() => {
    env = makeTestEnv('rem');
    host = new LibvirtHost({ name: 'far', uri: 'qemu:///system' }, { storageDir: env.storageDir, local: false });
  });
  after(() => env?.cleanup());

  it('template (flattened by vol-create-from), thin and clone deploy, dependents, delete', async () => {
    const src = env.vmName('src');
    // the source disk must be a volume for libvirt: put it (and its base) in the vms pool's dir
    const base = createDisk(`${env.storage.vmsDir}/src-base.qcow2`);
    writePattern(base, 0x21, '0', '1M');
    const top = createDisk(`${env.storage.vmsDir}/src-top.qcow2`, { backing: base });
    writePattern(top, 0x22, '1M', '1M');
    defineVm(src, [top]);
    const tpl = await host.createTemplate({ vm: src, name: `${env.prefix}rt`, seal: false });
    const tfile = tpl.disks[0]!.file;
    assert.equal(chainOf(tfile).length, 1);
    assert.ok(hasPattern(tfile, 0x21, '0', '1M') && hasPattern(tfile, 0x22, '1M', '1M'));
    await assert.rejects(host.createTemplate({ vm: src, name: `${env.prefix}rt2`, seal: true }), code('sysprep-unavailable'));

    const thin = await host.deploy({ template: tpl.name, name: env.vmName('t'), count: 2, mode: 'thin', start: false });
    const clone = await host.deploy({ template: tpl.name, name: env.vmName('c'), count: 1, mode: 'clone', start: false });
    const cfile = diskOf(clone.vms[0]!);
    assert.equal(chainOf(cfile).length, 1);
    assert.ok(hasPattern(cfile, 0x22, '1M', '1M'));
    const info = await host.vmInfo(thin.vms[0]!);
    assert.deepEqual(info.disks[0]!.chain.map((c) => c.file), [diskOf(thin.vms[0]!), tfile]);
    assert.equal(env.storage.ownerOf(info.disks[0]!.file), info.uuid);
    assert.deepEqual((await host.listTemplates())[0]!.dependents, thin.vms);
    await assert.rejects(host.deleteTemplate(tpl.name), code('template-in-use'));
    for (const vm of [...thin.vms, ...clone.vms]) await host.deleteVm(vm);

    // a thin domain whose overlay is outside every pool: libvirt sees it through a transient pool
    const outsider = env.vmName('outsider');
    defineVm(outsider, [createDisk(`${env.outsideDir}/outsider.qcow2`, { backing: tfile })]);
    assert.deepEqual((await host.listTemplates())[0]!.dependents, [outsider]);
    await assert.rejects(host.deleteTemplate(tpl.name), code('template-in-use'));
    assert.doesNotMatch(virsh('pool-list', '--all', '--name'), /kvmops-probe-/, 'the probe pool is gone');
    virsh('undefine', outsider);

    // a thin domain whose overlay sits in another pool that has not seen it yet (made by hand
    // after that pool's last refresh): still a dependent, not an unreadable chain
    const otherPool = `${env.prefix}other`;
    virsh('pool-create-as', otherPool, 'dir', '--target', env.outsideDir);
    try {
      const stale = env.vmName('stale');
      defineVm(stale, [createDisk(`${env.outsideDir}/stale.qcow2`, { backing: tfile })]);
      assert.deepEqual((await host.listTemplates())[0]!.dependents, [stale]);
      await assert.rejects(host.deleteTemplate(tpl.name), code('template-in-use'));
      virsh('undefine', stale);
    } finally {
      virsh('pool-destroy', otherPool);
    }

    await host.deleteTemplate(tpl.name);
    assert.deepEqual(readdirSync(env.storage.templatesDir), []);
  });
});
