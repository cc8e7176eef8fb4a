/**
 * Issue 24 step 2 on the real Debian guest, end to end through the terminal chat (the real
 * app: router, SQLite store, worker, libvirt): a key added with `/key add`, a template made from
 * a prepared VM, `/deploy count:2 mode:thin start:true`. From inside each VM, through the guest
 * agent (no network): its own hostname, and in the image's default user's authorized_keys
 * (cloud-init's `debian`: the image has no other user) the requester's key and the team key of
 * KVMOPS_SSH_KEYS_FILE. Then `/vm delete` removes each VM's seed ISO with its disk.
 *
 * Slow by nature (two TCG boots, ~1–3 min on the shared test machines): one file, two VMs; run
 * it alone. Needs what test/guest/boot.libvirt.test.ts needs; under CI=true it must run.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { parseSshPublicKey } from '../../src/domain/ssh-keys.js';
import { hostnameFor } from '../../src/hypervisor/seed.js';
import { ShellDriver } from '../adapters/shell/driver.js';
import { guestExec, guestSuite, waitForAgent } from '../helpers/guest.js';
import { createDisk, defineXml, diskOf, domainExists, seedOf, skipUnlessLibvirt, virsh } from '../helpers/libvirt.js';
import { newEd25519Line } from '../helpers/ssh-keys.js';

const BOOT_WAIT_MS = 12 * 60_000;
/** cloud-init's last stage after the agent answers: 1 min on a quiet machine, over 5 seen under heavy load. */
const CLOUD_INIT_WAIT_MS = 12 * 60_000;
const JOB_WAIT_MS = 5 * 60_000;

const skip = skipUnlessLibvirt();

describe('deploy gives each VM its own cloud-init identity (real guest, through the chat)', { skip: skip.skip }, () => {
  const suite = guestSuite('dseed');

  it('/key add, /template create, /deploy count:2 start:true: own hostnames and the keys inside; /vm delete takes the seeds', { timeout: BOOT_WAIT_MS + CLOUD_INIT_WAIT_MS + 4 * JOB_WAIT_MS }, async (t) => {
    const { env, image } = suite;
    if ('skip' in image) return t.skip(image.skip);

    // The prepared VM: the image on a thin overlay outside the storage dir, the guest agent's
    // channel, no NIC, a pty console (nothing a template's clones would share).
    const prepared = env.vmName('prepared');
    const disk = createDisk(path.join(env.outsideDir, 'prepared.qcow2'), { backing: image.path });
    defineXml(`<domain type='qemu'><name>${prepared}</name><memory unit='MiB'>768</memory><vcpu>1</vcpu>
<os><type arch='x86_64'>hvm</type><boot dev='hd'/></os>
<devices>
<disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='${disk}'/><target dev='vda' bus='virtio'/></disk>
<serial type='pty'><target port='0'/></serial>
<channel type='unix'><target type='virtio' name='org.qemu.guest_agent.0'/></channel>
</devices></domain>`);

    const mine = newEd25519Line('alice@laptop');
    const team = newEd25519Line('ops@team');
    const keysFile = path.join(env.outsideDir, 'team-keys');
    writeFileSync(keysFile, `# the ops team\n${team}\n`);
    const sh = new ShellDriver(['--as', 'alice', '--roles', 'operator,admin,approver'], {
      KVMOPS_DB: path.join(env.outsideDir, 'kvmops.db'),
      KVMOPS_STORAGE_DIR: env.storageDir,
      KVMOPS_HOSTS: 'local=qemu:///system',
      KVMOPS_TWO_PERSON: 'false',
      KVMOPS_SSH_KEYS_FILE: keysFile,
      KVMOPS_LOG_LEVEL: 'warn',
    });
    try {
      await sh.expect(/Type help\./);
      await sh.say(`/key add key:"${mine}" name:laptop`, /Key "laptop" added/);
      await sh.say('/key list', new RegExp(`laptop · 256 ${escape(parseSshPublicKey(mine).fingerprint)} \\(ED25519\\)`));

      const tpl = env.vmName('tpl');
      const t0 = performance.now();
      await sh.say(`/template create vm:${prepared} name:${tpl} seal:false`, /@alice: job #\d+ (succeeded|failed)[^\n]*/, JOB_WAIT_MS).then((m) => assert.match(m[0], /succeeded/, sh.output));
      const t1 = performance.now();
      const web = env.vmName('web');
      await sh.say(`/deploy template:${tpl} name:${web} count:2 mode:thin start:true`, /@alice: job #\d+ (succeeded|failed)[^\n]*/, JOB_WAIT_MS).then((m) => assert.match(m[0], /succeeded/, sh.output));
      const t2 = performance.now();
      const vms = [`${web}-01`, `${web}-02`];
      const seeds = vms.map((vm) => seedOf(vm));
      const disks = vms.map((vm) => diskOf(vm));
      for (const s of seeds) assert.ok(env.storage.isSeedFile(s) && existsSync(s), s);

      await Promise.all(vms.map((vm) => waitForAgent({ name: vm, overlay: '', consoleLog: '' }, BOOT_WAIT_MS)));
      const t3 = performance.now();
      await Promise.all(vms.map((vm) => guestExec(vm, ['/usr/bin/cloud-init', 'status', '--wait'], CLOUD_INIT_WAIT_MS)));
      const t4 = performance.now();
      t.diagnostic(
        `template create ${s(t1 - t0)} s, deploy of 2 with start ${s(t2 - t1)} s, both guest agents ${s(t3 - t2)} s later, cloud-init done ${s(t4 - t2)} s after the deploy`,
      );

      const inGuest = async (vm: string, script: string) => {
        const r = await guestExec(vm, ['/bin/sh', '-c', script]);
        assert.equal(r.exitCode, 0, `${script} on ${vm}: ${r.stderr}`);
        return r.stdout.trim();
      };
      const hostnames = new Set<string>();
      for (const vm of vms) {
        const name = await inGuest(vm, 'hostname');
        assert.equal(name, hostnameFor(vm));
        hostnames.add(name);
        const keys = (await inGuest(vm, 'cat /home/debian/.ssh/authorized_keys')).split('\n');
        assert.ok(keys.includes(parseSshPublicKey(mine).line), `${vm}: the requester's /key key is authorized:\n${keys.join('\n')}`);
        assert.ok(keys.includes(parseSshPublicKey(team).line), `${vm}: the team key is authorized`);
        assert.equal(await inGuest(vm, 'cat /var/lib/cloud/data/instance-id'), virsh('domuuid', vm).trim(), 'instance-id = the VM uuid');
      }
      assert.equal(hostnames.size, 2, 'each VM has its own hostname');

      // /vm delete, approved: the domain, its disk and its seed go
      for (const vm of vms) {
        const m = await sh.say(`/vm delete vm:${vm}`, /react (m\d+) ✅ to run it/);
        const from = sh.output.length;
        await sh.say(`react ${m[1]} ✅`, /counted: job #\d+ approved/);
        await sh.expect(/@alice: job #\d+ (succeeded|failed)[^\n]*/, { timeoutMs: JOB_WAIT_MS, from }).then((r) => assert.match(r[0], /succeeded/, sh.output));
      }
      for (const vm of vms) assert.equal(domainExists(vm), false, vm);
      for (const f of [...seeds, ...disks]) assert.equal(existsSync(f), false, `${f} is removed with its VM`);
      assert.deepEqual(readdirSync(env.storage.vmsDir), [], 'nothing left in vms/');
      assert.equal(await sh.quit(), 0);
    } finally {
      sh.child.kill();
    }
  });
});

function s(ms: number): string {
  return (ms / 1000).toFixed(1);
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}
