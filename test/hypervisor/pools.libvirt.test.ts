/** The storage dir's pools on real libvirt: made on first use, and mended when their folder vanished. */
import assert from 'node:assert/strict';
import { existsSync, rmSync } from 'node:fs';
import { after, test } from 'node:test';
import { hostContext } from '../../src/hypervisor/host.js';
import { ensurePoolsNow } from '../../src/hypervisor/pools.js';
import { makeTestEnv, skipUnlessLibvirt, URI, virsh, type LibvirtTestEnv } from '../helpers/libvirt.js';

const opts = skipUnlessLibvirt();
let lab: LibvirtTestEnv | undefined;
after(() => lab?.cleanup());

test('pools are made on first use, and a pool whose folder was removed is started again', opts, async () => {
  lab = makeTestEnv('pools');
  const h = hostContext({ name: 'local', uri: URI }, { storageDir: lab.storageDir });
  await ensurePoolsNow(h);
  assert.match(virsh('pool-info', h.storage.vmsPool), /State:\s+running/);
  assert.ok(existsSync(h.storage.vmsDir));

  rmSync(lab.storageDir, { recursive: true, force: true }); // `rm -rf data/` behind libvirt's back
  await ensurePoolsNow(h);
  assert.match(virsh('pool-info', h.storage.vmsPool), /State:\s+running/);
  assert.match(virsh('pool-info', h.storage.templatesPool), /State:\s+running/);
  assert.ok(existsSync(h.storage.vmsDir) && existsSync(h.storage.templatesDir), 'the folders are back');
  virsh('pool-refresh', h.storage.vmsPool);
});
