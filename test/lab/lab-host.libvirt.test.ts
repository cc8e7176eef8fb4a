/**
 * scripts/lab-host.sh: a second host that is really remote — its own libvirtd (not the
 * machine's), its own storage dir (invisible here), its own network namespace (its guest
 * network's bridge and dnsmasq are not on this machine), reached over qemu+ssh with a key — and
 * `down` leaves nothing behind.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { createDisk, defineVm, makeTestEnv, virshMaybe, type LibvirtTestEnv } from '../helpers/libvirt.js';
import { labSkipReason, labUp, LAB_SCRIPT, type Lab } from '../helpers/lab.js';

const remote = (uri: string, ...args: string[]) => {
  const r = spawnSync('virsh', ['-q', '-c', uri, ...args], { encoding: 'utf8' });
  return { ok: r.status === 0, stdout: r.stdout, stderr: r.stderr };
};

describe('lab host (scripts/lab-host.sh)', { skip: labSkipReason() }, () => {
  let lab: Lab;
  let env: LibvirtTestEnv;
  before(() => {
    env = makeTestEnv('lab');
    lab = labUp({ guestNet: true });
  });
  after(() => {
    try {
      lab?.down();
    } finally {
      env?.cleanup();
    }
  });

  it('is its own libvirtd, reached only over qemu+ssh with the key', () => {
    assert.match(lab.uri, /^qemu\+ssh:\/\/root@198\.1[89]\.\d+\.\d+\/system\?keyfile=[^&]+&no_verify=1&no_tty=1$/);
    assert.ok(remote(lab.uri, 'version').ok);
    // a domain of this machine is not on the lab, and one made on the lab is not here
    const here = env.vmName('here');
    defineVm(here, [createDisk(`${env.outsideDir}/here.qcow2`)]);
    assert.doesNotMatch(remote(lab.uri, 'list', '--all', '--name').stdout, new RegExp(here));
    const there = env.vmName('there');
    const xml = `<domain type='qemu'><name>${there}</name><memory unit='MiB'>32</memory><vcpu>1</vcpu><os><type arch='x86_64'>hvm</type></os></domain>`;
    const def = lab.exec('sh', '-c', `printf '%s' "$1" > /tmp/d.xml && virsh -q -c qemu:///system define /tmp/d.xml`, 'sh', xml);
    assert.equal(def.status, 0, def.stderr);
    assert.match(remote(lab.uri, 'list', '--all', '--name').stdout, new RegExp(there));
    assert.doesNotMatch(virshMaybe('list', '--all', '--name').stdout, new RegExp(there));
    // without the key, no way in
    const ssh = spawnSync('ssh', ['-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'ConnectTimeout=3', '-i', '/dev/null', `root@${lab.addr}`, 'true'], { encoding: 'utf8' });
    assert.notEqual(ssh.status, 0, 'ssh without the key is refused');
  });

  it("has a storage dir this machine cannot see, and its guest network's bridge and dnsmasq live inside it", () => {
    const made = lab.exec('sh', '-c', `mkdir -p ${lab.storage}/probe && echo x > ${lab.storage}/probe/file && ls ${lab.storage}/probe`);
    assert.equal(made.status, 0, made.stderr);
    assert.match(made.stdout, /file/);
    assert.ok(!existsSync(`${lab.storage}/probe/file`), 'the file is not at that path on this machine');
    assert.equal(lab.guestNet, 'kvmops-lab');
    assert.match(remote(lab.uri, 'net-list', '--name').stdout, /kvmops-lab/);
    const bridge = lab.exec('ip', '-br', 'addr', 'show', 'kvlbr0');
    assert.equal(bridge.status, 0, bridge.stderr);
    assert.match(bridge.stdout, new RegExp(lab.guestSubnet!.replace(/\.0\/24$/, '.1').replace(/\./g, '\\.')));
    assert.notEqual(spawnSync('ip', ['link', 'show', 'kvlbr0']).status, 0, 'no such bridge on this machine');
    const procs = lab.exec('ps', '-e', '-o', 'comm=');
    assert.match(procs.stdout, /dnsmasq/);
    assert.match(procs.stdout, /libvirtd/);
  });

  it('`up` of a lab that is up reuses it; a bad name is refused', () => {
    const again = spawnSync('bash', [LAB_SCRIPT, 'up', lab.name], { encoding: 'utf8' });
    assert.equal(again.status, 0, again.stderr);
    assert.match(again.stdout, new RegExp(`LAB_URI='${lab.uri.replace(/[?.+&]/g, '\\$&')}'`));
    for (const bad of ['../x', 'a b', 'UPPER', 'way-too-long-name', '']) {
      const r = spawnSync('bash', [LAB_SCRIPT, 'up', bad], { encoding: 'utf8' });
      assert.notEqual(r.status, 0, bad);
    }
  });

  it('`down` stops everything in it and leaves no namespace, interface or folder', () => {
    const name = lab.name;
    const pid = Number(spawnSync('cat', [`/var/lib/kvmops-lab/${name}/pid`], { encoding: 'utf8' }).stdout.trim());
    assert.ok(pid > 1);
    lab.down();
    assert.ok(!existsSync(`/proc/${pid}`), 'its init is gone');
    assert.doesNotMatch(spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout, new RegExp(`kvmops-lab-${name}\\b`));
    assert.notEqual(spawnSync('ip', ['link', 'show', `kvl-${name}`]).status, 0);
    assert.ok(!readdirSync('/var/lib/kvmops-lab').includes(name));
    lab = undefined as unknown as Lab;
  });
});
