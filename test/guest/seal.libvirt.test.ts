/**
 * Sealing a real guest: a Debian VM that has booted (so it has its own machine-id, SSH host keys
 * and cloud-init state) becomes a template with `seal: true`; two VMs deployed from it boot with
 * different machine-ids and different host keys — neither the source's — and sshd running.
 * Checked from inside, through the guest agent (no network needed).
 *
 * Without the sealing rules (an empty machine-id, no host keys but a drop-in that makes them
 * before sshd, no cloud-init state) virt-sysprep's defaults gave every clone one machine-id and
 * sshd refused to start for want of host keys.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LibvirtHost } from '../../src/hypervisor/host.js';
import { defineGuest, guestExec, guestSuite, waitForAgent, type GuestVm } from '../helpers/guest.js';

const BOOT_MS = 8 * 60_000;

describe('sealing a real guest: distinct machines from one template', () => {
  const suite = guestSuite('gseal');

  it('two VMs from a sealed template: own machine-ids, own host keys, sshd up', { timeout: 25 * 60_000 }, async (t) => {
    if ('skip' in suite.image) return t.skip(suite.image.skip);
    const { env } = suite;
    const host = new LibvirtHost({ name: 'local', uri: 'qemu:///system' }, { storageDir: env.storageDir });
    const read = async (vm: string, argv: string[]) => {
      const r = await guestExec(vm, argv);
      assert.equal(r.exitCode, 0, `${argv.join(' ')} on ${vm}: ${r.stderr}`);
      return r.stdout.trim();
    };
    // the agent answers early in the boot: wait for the boot to finish (sshd started or failed)
    const booted = async (vm: string) => {
      const r = await guestExec(vm, ['/bin/systemctl', 'is-system-running', '--wait'], BOOT_MS);
      return r.stdout.trim();
    };
    const identity = async (vm: string) => ({
      machineId: await read(vm, ['/bin/cat', '/etc/machine-id']),
      hostKey: (await read(vm, ['/bin/cat', '/etc/ssh/ssh_host_ed25519_key.pub'])).split(' ')[1],
      sshd: (await guestExec(vm, ['/bin/systemctl', 'is-active', 'ssh'])).stdout.trim(),
    });

    // a source VM that has booted once: it has an identity of its own
    const src: GuestVm = defineGuest(env.vmName('src'), suite.image.path, env.outsideDir);
    let t0 = Date.now();
    await host.startVm(src.name);
    await waitForAgent(src, BOOT_MS);
    await booted(src.name);
    const source = await identity(src.name);
    t.diagnostic(`source booted in ${Math.round((Date.now() - t0) / 1000)} s: machine-id ${source.machineId}, sshd ${source.sshd}`);
    assert.match(source.machineId, /^[0-9a-f]{32}$/);
    // a clean shutdown, as /vm stop does it
    t0 = Date.now();
    await host.stopVm({ vm: src.name, force: false, timeoutMs: 3 * 60_000 });
    t.diagnostic(`source shut down in ${Math.round((Date.now() - t0) / 1000)} s`);

    t0 = Date.now();
    const tpl = await host.createTemplate({ vm: src.name, name: `${env.prefix}sealed`, seal: true });
    assert.equal(tpl.sealed, true);
    t.diagnostic(`template made and sealed in ${Math.round((Date.now() - t0) / 1000)} s`);

    t0 = Date.now();
    const d = await host.deploy({ template: tpl.name, name: env.vmName('web'), count: 2, mode: 'thin', start: true, requestId: 'req-seal-test' });
    await Promise.all(d.vms.map(async (vm) => {
      await waitForAgent({ name: vm, overlay: '', consoleLog: '' }, BOOT_MS);
      await booted(vm);
    }));
    const [a, b] = [await identity(d.vms[0]!), await identity(d.vms[1]!)];
    t.diagnostic(`both clones answered in ${Math.round((Date.now() - t0) / 1000)} s: ${a.machineId} / ${b.machineId}`);

    for (const [name, x] of [
      [d.vms[0]!, a],
      [d.vms[1]!, b],
    ] as const) {
      assert.match(x.machineId, /^[0-9a-f]{32}$/, `${name} made a machine-id at first boot`);
      assert.notEqual(x.machineId, source.machineId, `${name} is not the source machine`);
      assert.notEqual(x.hostKey, source.hostKey, `${name} has host keys of its own`);
      assert.equal(x.sshd, 'active', `${name}'s sshd runs`);
    }
    assert.notEqual(a.machineId, b.machineId, 'two machines, two machine-ids');
    assert.notEqual(a.hostKey, b.hostKey, 'two machines, two host keys');
  });
});
