/**
 * cloud-init NoCloud seeds: the documents (pure). The real ISO, read back with xorriso, is in
 * seed-iso.libvirt.test.ts (xorriso comes with the guest tooling, after the unit suite in CI);
 * booting a guest with a seed is in test/guest/seed.libvirt.test.ts.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isKvmopsError } from '../../src/domain/errors.js';
import { hostnameFor, seedDocuments } from '../../src/hypervisor/seed.js';

const KEY_A = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGx0b2ZhY2Vvbm9mdGhlc2VrZXlzaXNmaW5lZm9ydGVzdHM alice@laptop';
const KEY_B = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHRlYW1rZXlmb3J0aGVvcHN0ZWFtaXNhbHNvZmluZWhlcmU team';

/** A document without its `#cloud-config` header, parsed (JSON is the YAML we write). */
function body(doc: string): Record<string, unknown> {
  return JSON.parse(doc.replace(/^#cloud-config\n/, '')) as Record<string, unknown>;
}

describe('seed documents', () => {
  it('meta-data: the instance-id and the hostname; user-data: hostname and keys', () => {
    const d = seedDocuments({ instanceId: '8d1c2a53-7a4e-4f3e-9d55-0b7c2b9f7e11', vmName: 'web-01', sshKeys: [KEY_A, KEY_B] });
    assert.deepEqual(JSON.parse(d.metaData), { 'instance-id': '8d1c2a53-7a4e-4f3e-9d55-0b7c2b9f7e11', 'local-hostname': 'web-01' });
    assert.ok(d.userData.startsWith('#cloud-config\n'), 'cloud-init reads user-data as cloud-config only under this header');
    assert.deepEqual(body(d.userData), { hostname: 'web-01', preserve_hostname: false, ssh_authorized_keys: [KEY_A, KEY_B] });
  });

  it("merges a profile's settings under the per-VM ones, keys from both without repeats", () => {
    const d = seedDocuments({
      instanceId: 'u',
      vmName: 'db',
      sshKeys: [KEY_A],
      userData: { hostname: 'from-profile', runcmd: [['touch', '/root/mark']], ssh_authorized_keys: [KEY_B, KEY_A] },
    });
    assert.deepEqual(body(d.userData), {
      hostname: 'db',
      runcmd: [['touch', '/root/mark']],
      preserve_hostname: false,
      ssh_authorized_keys: [KEY_B, KEY_A],
    });
  });

  it("a profile's fqdn is dropped: cloud-init would prefer it to each VM's own hostname", () => {
    const d = seedDocuments({ instanceId: 'u', vmName: 'web-02', sshKeys: [], userData: { fqdn: 'www.example.com', prefer_fqdn_over_hostname: true, packages: ['nginx'] } });
    assert.deepEqual(body(d.userData), { packages: ['nginx'], hostname: 'web-02', preserve_hostname: false, ssh_authorized_keys: [] });
  });

  it('a value cannot break out of its field (it is JSON-quoted)', () => {
    const sneaky = 'ssh-ed25519 AAAA x" , "runcmd": ["reboot"] #';
    const d = seedDocuments({ instanceId: 'u"\nruncmd: [reboot]', vmName: 'a', sshKeys: [sneaky] });
    assert.deepEqual(body(d.userData).ssh_authorized_keys, [sneaky]);
    assert.equal(body(d.userData).runcmd, undefined);
    assert.equal(JSON.parse(d.metaData)['instance-id'], 'u"\nruncmd: [reboot]');
  });

  it('refuses a key of several lines', () => {
    assert.throws(
      () => seedDocuments({ instanceId: 'u', vmName: 'a', sshKeys: [`${KEY_A}\n${KEY_B}`] }),
      (e: unknown) => isKvmopsError(e) && e.code === 'invalid-input',
    );
  });

  it('hostnames from VM names: lower case, no _, no label ending in -', () => {
    assert.equal(hostnameFor('Web_01'), 'web-01');
    assert.equal(hostnameFor('web-.example'), 'web.example');
    assert.equal(hostnameFor('a-'), 'a');
    assert.equal(hostnameFor('db.internal'), 'db.internal');
  });
});
