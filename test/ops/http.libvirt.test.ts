import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { skipUnlessLibvirt } from '../helpers/libvirt.js';
import { setUp, tempDir } from './helpers.js';

/** /healthz through the real hypervisor layer: virsh against the local libvirtd. */

test('/healthz against the real local libvirt (qemu:///system) through the hypervisor layer', { ...skipUnlessLibvirt() }, async (t) => {
  // Imported here, so a hypervisor layer that does not load fails this test, not the file.
  const { createHypervisor } = await import('../../src/hypervisor/index.js');
  const hypervisor = createHypervisor({
    hosts: [
      { name: 'local', uri: 'qemu:///system' },
      // A host that cannot answer: a remote URI on a port nothing listens on.
      { name: 'gone', uri: 'qemu+tcp://127.0.0.1:1/system' },
    ],
    storageDir: join(tempDir(t), 'storage'),
  });
  const { healthz } = await setUp(t, { hosts: hypervisor, pingTimeoutMs: 10_000 });
  const h = await healthz();
  const local = h.body.hosts.find((x: { name: string }) => x.name === 'local');
  const gone = h.body.hosts.find((x: { name: string }) => x.name === 'gone');
  assert.equal(local.ok, true, `local libvirt: ${local.detail}`);
  assert.match(local.detail, /^libvirt \d+\.\d+/);
  assert.equal(gone.ok, false);
  assert.ok(gone.detail.length > 0);
  assert.equal(h.body.status, 'degraded');
  assert.equal(h.status, 503);

  const localOnly = createHypervisor({ hosts: [{ name: 'local', uri: 'qemu:///system' }], storageDir: join(tempDir(t), 'storage') });
  const second = await setUp(t, { hosts: localOnly, pingTimeoutMs: 10_000 });
  const ok = await second.healthz();
  assert.equal(ok.status, 200, JSON.stringify(ok.body));
  assert.equal(ok.body.status, 'ok');
});
