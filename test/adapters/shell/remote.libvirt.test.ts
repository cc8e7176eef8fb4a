/**
 * Every existing command on a host that is really remote: a lab host (scripts/lab-host.sh — its
 * own libvirtd, storage dir and network namespace) reached only as qemu+ssh://, configured as
 * `KVMOPS_HOSTS=local=qemu:///system,lab=<its URI>`, driven through the terminal chat as a user
 * would, over the whole stack (router, jobs, worker, inventory and its event stream).
 *
 * Data is checked where it lives: on the lab, with qemu-io run inside the lab (this machine
 * cannot even see those files). The source VM's disk is in no libvirt pool, as a VM made by hand
 * usually is. The local host is configured beside it and is left as it was.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { StorageLayout } from '../../../src/hypervisor/storage.js';
import { openJobStore } from '../../../src/jobs/store.js';
import { labSkipReason, labTeardown, labUp, type Lab } from '../../helpers/lab.js';
import { makeTestEnv, virsh as localVirsh, type LibvirtTestEnv } from '../../helpers/libvirt.js';
import { ShellDriver } from './driver.js';

const skip = labSkipReason();
let lab: Lab;
let env: LibvirtTestEnv;
let storageDir: string;
let storage: StorageLayout;
let shellEnv: Record<string, string>;
const JOB_MS = 180_000;

const remote = (...args: string[]) => lab.virsh(...args);
const inLab = (program: string, ...args: string[]) => lab.run(program, ...args);
const writePattern = (file: string, byte: number) => inLab('qemu-io', '-c', `write -P 0x${byte.toString(16)} 0 1M`, file);
function hasPattern(file: string, byte: number): boolean {
  const r = lab.exec('qemu-io', '-r', '-U', '-c', `read -P 0x${byte.toString(16)} 0 1M`, file);
  assert.equal(r.status, 0, r.stderr);
  return !/Pattern verification failed/.test(r.stdout + r.stderr);
}
/** The backing chain of a file on the lab, top first. */
function chainInLab(file: string): string[] {
  return (JSON.parse(inLab('qemu-img', 'info', '-U', '--backing-chain', '--output=json', file)) as Array<{ filename: string }>).map((e) => e.filename);
}
/** A domain's first disk file on the lab. */
function diskOnLab(vm: string): string {
  const line = remote('domblklist', vm).split('\n').find((l) => /^\s*vda\s/.test(l));
  assert.ok(line, `${vm} has a vda`);
  return line.trim().split(/\s+/)[1]!;
}
const labFiles = (dir: string) => inLab('find', dir, '-maxdepth', '1', '-type', 'f', '-printf', '%f\\n').split('\n').filter(Boolean).sort();

before(
  () => {
    if (skip) return;
    env = makeTestEnv('rmt');
    lab = labUp();
    // one storage dir for both hosts, as KVMOPS_STORAGE_DIR is; on the lab it is inside the
    // lab's own storage folder, which this machine does not see
    storageDir = `${lab.storage}/${env.prefix}kv`;
    storage = new StorageLayout(storageDir);
    // the source VM, made by hand on the lab: its disk in no libvirt pool
    const srcDir = `${lab.storage}/${env.prefix}src`;
    inLab('mkdir', '-p', srcDir);
    const disk = `${srcDir}/golden.qcow2`;
    inLab('qemu-img', 'create', '-q', '-f', 'qcow2', disk, '64M');
    writePattern(disk, 0x5a);
    const xml = `<domain type='qemu'><name>${env.vmName('golden')}</name><memory unit='MiB'>64</memory><vcpu>1</vcpu><os><type arch='x86_64'>hvm</type></os><devices><disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='${disk}'/><target dev='vda' bus='virtio'/></disk></devices></domain>`;
    inLab('sh', '-c', 'printf "%s" "$1" > /tmp/golden.xml && virsh -q -c qemu:///system define /tmp/golden.xml', 'sh', xml);
    shellEnv = {
      KVMOPS_DB: `${env.outsideDir}/kvmops.db`,
      KVMOPS_STORAGE_DIR: storageDir,
      KVMOPS_HOSTS: `local=qemu:///system,lab=${lab.uri}`,
      KVMOPS_TWO_PERSON: 'true',
      KVMOPS_ADDRESS_WAIT: '5s',
      KVMOPS_LOG_LEVEL: 'warn',
    };
  },
  { timeout: 60_000 },
);
// the local host saw the same KVMOPS_STORAGE_DIR: its pools (and folders, if any) go too
after(() => labTeardown(lab, env, storage, storageDir));

test('every command on a qemu+ssh host, through the terminal chat', { skip, timeout: 15 * 60_000 }, async (t) => {
  const sh = new ShellDriver(['--as', 'alice', '--roles', 'operator,admin'], shellEnv);
  const done = (line: string) => sh.say(line, /@alice: job #(\d+) (succeeded|failed)[^\n]*/, JOB_MS).then((m) => {
    assert.equal(m[2], 'succeeded', `${line}: ${m[0]}\n${sh.output.slice(-1500)}`);
    return m;
  });
  /** An approved job: asked by alice, ✅ by bob; back as alice. */
  const approved = async (line: string) => {
    // this request's own job: only what came after the line is looked at
    const from = sh.output.length;
    sh.type(line);
    const m = await sh.expect(/react (m\d+) ✅ to run it/, { from });
    const job = (await sh.expect(/Approval needed for job #(\d+)/, { from }))[1]!;
    await sh.say('as bob approver', /you are bob/);
    await sh.say(`react ${m[1]} ✅`, /counted: job #\d+ approved/);
    await sh.expect(new RegExp(`@alice: job #${job} succeeded`), { timeoutMs: JOB_MS });
    await sh.say('as alice operator,admin', /you are alice/);
  };
  /**
   * Asks `/vm list` until `vm` is in it (shut off): the lab's first import, or a pass after an
   * event, reads through ssh connections (0.5–0.8 s each here) — seconds, not milliseconds.
   */
  const listed = async (vm: string) => {
    const by = Date.now() + 90_000;
    for (;;) {
      const from = sh.output.length;
      sh.type(`/vm list filter:${vm} host:lab`);
      const m = await sh.expect(new RegExp(`\\(no VMs match|${vm}\\s+shut off`), { from });
      if (m[0] !== '(no VMs match') return;
      assert.ok(Date.now() < by, `${vm} never showed up in /vm list`);
      await new Promise((r) => setTimeout(r, 500));
    }
  };
  try {
    await sh.expect(/Type help\./);
    const golden = env.vmName('golden');
    await listed(golden); // the lab's first import has read it
    const base = env.vmName('base');
    const web = env.vmName('web');
    const db = env.vmName('db');
    const t0 = Date.now();
    const lap = (what: string) => t.diagnostic(`${what}: ${((Date.now() - t0) / 1000).toFixed(1)} s`);

    // templates: create (not sealed; the source disk is in no pool), list
    await done(`/template create vm:${golden} name:${base} seal:false host:lab`);
    lap('template create');
    const tplDisk = storage.templateDisk(base, 'vda');
    assert.ok(hasPattern(tplDisk, 0x5a), 'the template disk holds the source data');
    assert.deepEqual(chainInLab(tplDisk), [tplDisk], 'a chain-free template disk');
    assert.equal(inLab('stat', '-c', '%a', tplDisk).trim(), '444', 'read-only');
    assert.ok(!existsSync(tplDisk), 'made on the lab, not here');
    await sh.say('/template list host:lab', new RegExp(`${base}[\\s\\S]*${golden}`));

    // deploy thin and clone, 2 each, started
    await done(`/deploy template:${base} name:${web} count:2 mode:thin start:true host:lab`);
    await done(`/deploy template:${base} name:${db} count:2 mode:clone start:true host:lab`);
    lap('two deploys');
    for (const vm of [`${web}-01`, `${web}-02`, `${db}-01`, `${db}-02`]) {
      assert.match(remote('domstate', vm), /running/, vm);
      assert.ok(hasPattern(diskOnLab(vm), 0x5a), `${vm} reads the template's data`);
    }
    assert.deepEqual(chainInLab(diskOnLab(`${web}-01`)), [diskOnLab(`${web}-01`), tplDisk], 'thin: an overlay on the template disk');
    assert.deepEqual(chainInLab(diskOnLab(`${db}-01`)), [diskOnLab(`${db}-01`)], 'clone: independent');

    // the template is in use by the thin VMs on the lab: refused, no job
    await sh.say(`/template delete name:${base} host:lab`, /Refused \(template-in-use\)/);

    await sh.say('/template list host:lab', new RegExp(`${base}\\s+${golden}\\s+no\\s+[^\\n]*\\s2 \\(${web}-01, ${web}-02\\)`));

    // vm list / info
    await sh.say(
      `/vm list filter:${env.prefix}* host:lab`,
      new RegExp(`${db}-01\\s+running\\s+${db}-02\\s+running\\s+${golden}\\s+shut off\\s+${web}-01\\s+running\\s+${web}-02\\s+running`),
    );
    await sh.say(`/vm info vm:${web}-01 host:lab`, new RegExp(`disk vda: ${storage.vmsDir}/[^\\n]* ← ${tplDisk} — thin on template ${base}`));

    // snapshots (internal) with data: s1 on 0x5a, the disk rewritten, reverted (approved), back
    await done(`/vm stop vm:${web}-01 force:true host:lab`);
    assert.match(remote('domstate', `${web}-01`), /shut off/);
    await done(`/snapshot create vm:${web}-01 name:s1 kind:internal host:lab`);
    const disk = diskOnLab(`${web}-01`);
    writePattern(disk, 0x11);
    assert.ok(hasPattern(disk, 0x11));
    await sh.say(`/snapshot list vm:${web}-01 host:lab`, /s1[^\n]*internal/);
    await approved(`/snapshot revert vm:${web}-01 name:s1 host:lab`);
    assert.ok(hasPattern(disk, 0x5a), 'the revert brought the snapshot data back');
    await done(`/snapshot delete vm:${web}-01 name:s1 host:lab`);
    assert.doesNotMatch(remote('snapshot-list', `${web}-01`, '--name'), /s1/);
    await done(`/vm start vm:${web}-01 host:lab`);
    assert.match(remote('domstate', `${web}-01`), /running/);
    lap('snapshots, stop, start');

    // a VM defined by hand on the lab shows up (the inventory's event stream over qemu+ssh)
    const byHand = env.vmName('byhand');
    inLab(
      'sh',
      '-c',
      'printf "%s" "$1" > /tmp/byhand.xml && virsh -q -c qemu:///system define /tmp/byhand.xml',
      'sh',
      `<domain type='qemu'><name>${byHand}</name><memory unit='MiB'>32</memory><vcpu>1</vcpu><os><type arch='x86_64'>hvm</type></os></domain>`,
    );
    await listed(byHand);
    lap('a VM defined by hand seen');

    // delete every VM (approved), then the template; nothing of ours is left on the lab
    for (const vm of [`${web}-01`, `${web}-02`, `${db}-01`, `${db}-02`]) await approved(`/vm delete vm:${vm} host:lab`);
    assert.deepEqual(labFiles(storage.vmsDir), [], `every disk and seed removed; the deletes said:\n${sh.output.split('\n').filter((l) => /kept|unreadable|removed|Delete VM/.test(l)).join('\n')}`);
    await done(`/template delete name:${base} host:lab`);
    assert.deepEqual(labFiles(storage.templatesDir), [], 'the template files removed');
    lap('deletes');

    // the local host (shared with other tests: only our names count) got none of it
    assert.deepEqual(localVirsh('list', '--all', '--name').split('\n').filter((n) => n.startsWith(env.prefix)), [], 'nothing of ours on the local host');
    const store = openJobStore(shellEnv.KVMOPS_DB!);
    const jobs = store.list({ limit: 1000 });
    store.close();
    assert.ok(jobs.length === 13 && jobs.every((j) => j.state === 'succeeded'), `every job succeeded: ${jobs.map((j) => `#${j.id} ${j.kind} ${j.state}`).join(', ')}`);
  } finally {
    await sh.quit().catch(() => {});
    sh.child.kill();
  }
});
