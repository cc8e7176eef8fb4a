/**
 * Identity per VM by a cloud-init NoCloud seed (src/hypervisor/seed.ts) on the real Debian
 * guest: two VMs on thin overlays of one image, each with its own seed ISO, boot with their own
 * hostnames, instance-ids and SSH keys, and with different machine-ids and SSH host keys. All
 * checked from inside through the guest agent (no network). Needs what
 * test/guest/boot.libvirt.test.ts needs; under CI=true it must run.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { hostnameFor, writeSeedIso, type SeedSpec } from '../../src/hypervisor/seed.js';
import { skipUnlessLibvirt, virsh } from '../helpers/libvirt.js';
import { defineGuest, guestExec, guestSuite, waitForAgent, waitForConsole, type GuestVm } from '../helpers/guest.js';

const LOGIN_WAIT_MS = 12 * 60_000;
const AGENT_WAIT_MS = 3 * 60_000;

const KEY_A = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGx0b2ZhY2Vvbm9mdGhlc2VrZXlzaXNmaW5lZm9ydGVzdHM alice@laptop';
const KEY_B = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHRlYW1rZXlmb3J0aGVvcHN0ZWFtaXNhbHNvZmluZWhlcmU bob@desk';

const skip = skipUnlessLibvirt();

async function inGuest(vm: GuestVm, script: string): Promise<string> {
  const r = await guestExec(vm.name, ['/bin/sh', '-c', script]);
  assert.equal(r.exitCode, 0, `${script} on ${vm.name}: ${r.stderr}`);
  return r.stdout.trim();
}

describe('per-VM identity from a NoCloud seed (real guest)', { skip: skip.skip }, () => {
  const suite = guestSuite('seed');

  it('two VMs from one image come up with their own hostname, instance-id, keys, machine-id and host keys', { timeout: LOGIN_WAIT_MS + AGENT_WAIT_MS + 5 * 60_000 }, async (t) => {
    const { env, image } = suite;
    if ('skip' in image) return t.skip(image.skip);
    const specs: SeedSpec[] = [
      { instanceId: randomUUID(), vmName: env.vmName('web_A'), sshKeys: [KEY_A] },
      { instanceId: randomUUID(), vmName: env.vmName('web_B'), sshKeys: [KEY_B] },
    ];
    const vms: GuestVm[] = [];
    for (const spec of specs) {
      const iso = `${env.storageDir}/${spec.instanceId}.seed.iso`;
      await writeSeedIso(iso, spec);
      vms.push(defineGuest(spec.vmName, image.path, env.storageDir, { seedIso: iso, uuid: spec.instanceId }));
    }
    const t0 = performance.now();
    for (const vm of vms) virsh('start', vm.name);
    await Promise.all(vms.map((vm) => waitForConsole(vm, /^\S+ login: /m, LOGIN_WAIT_MS)));
    const toLogin = (performance.now() - t0) / 1000;
    await Promise.all(vms.map((vm) => waitForAgent(vm, AGENT_WAIT_MS)));
    // cloud-init's last stage may still run after the login prompt.
    for (const vm of vms) await guestExec(vm.name, ['/usr/bin/cloud-init', 'status', '--wait'], 5 * 60_000);
    t.diagnostic(`two seeded VMs: both login prompts ${toLogin.toFixed(1)} s, cloud-init done ${((performance.now() - t0) / 1000).toFixed(1)} s after virsh start`);

    const seen = { machineIds: new Set<string>(), hostKeys: new Set<string>() };
    for (const [i, vm] of vms.entries()) {
      const spec = specs[i]!;
      assert.equal(await inGuest(vm, 'hostname'), hostnameFor(spec.vmName));
      assert.equal(await inGuest(vm, 'cat /var/lib/cloud/data/instance-id'), spec.instanceId);
      const keys = await inGuest(vm, 'cat /home/*/.ssh/authorized_keys');
      assert.ok(keys.includes(spec.sshKeys[0]!), `${vm.name}: its key is authorized`);
      const other = specs[1 - i]!.sshKeys[0]!;
      assert.ok(!keys.includes(other), `${vm.name}: the other VM's key is not`);
      seen.machineIds.add(await inGuest(vm, 'cat /etc/machine-id'));
      seen.hostKeys.add(await inGuest(vm, 'ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub'));
    }
    assert.equal(seen.machineIds.size, 2, 'machine-ids differ');
    assert.equal(seen.hostKeys.size, 2, 'SSH host keys differ');
    for (const id of seen.machineIds) assert.match(id, /^[0-9a-f]{32}$/);
  });
});
