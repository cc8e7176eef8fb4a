/**
 * The host probe (src/hypervisor/probe.ts) on the real local libvirt, beside a host that hangs:
 * a qemu+ssh URI whose "sshd" (a TCP listener on 127.0.0.1 made here) accepts the connection
 * and never says a word, so ssh — and virsh over it — waits forever. What `/host list` needs:
 * the answer comes within the probe's wait whatever that host does, the local host's figures
 * are the ones `virsh nodeinfo` prints, and the hanging host becomes "unreachable since" once
 * its read timed out — leaving no ssh behind.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { createHypervisor } from '../../src/hypervisor/index.js';
import { HostProbe } from '../../src/hypervisor/probe.js';
import { skipUnlessLibvirt } from '../helpers/libvirt.js';
import { tempDir } from '../ops/helpers.js';

test('the probe answers within its wait while a host hangs; real figures for the local host', { ...skipUnlessLibvirt(), timeout: 60_000 }, async (t) => {
  const sockets = new Set<Socket>();
  const silent = createServer((s) => {
    sockets.add(s); // accepted, never answered
    s.on('close', () => sockets.delete(s));
    s.on('error', () => sockets.delete(s));
    s.resume(); // read (and drop) what ssh sends, so its hang-up is seen as 'end', then 'close'
  });
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    for (const s of sockets) s.destroy();
    silent.close();
  });
  const port = (silent.address() as { port: number }).port;
  const hypervisor = createHypervisor({
    hosts: [
      { name: 'local', uri: 'qemu:///system' },
      { name: 'hang', uri: `qemu+ssh://root@127.0.0.1:${port}/system?no_verify=1&no_tty=1` },
    ],
    storageDir: join(tempDir(t), 'storage'),
  });
  const probe = new HostProbe(hypervisor, { timeoutMs: 3_000, waitMs: 1_500, ttlMs: 60_000 });

  const t0 = Date.now();
  const first = await probe.all();
  const took = Date.now() - t0;
  assert.ok(took < 2_000, `answered in ${took} ms while a host hangs`);
  const [local, hang] = first;
  assert.equal(local!.reachable, true, local!.error ?? '');
  assert.equal(hang!.reachable, null, 'the hanging host is not known yet');
  assert.equal(hang!.probing, true);
  assert.ok(sockets.size >= 1, 'ssh really connected to the silent listener');

  // the local host's figures are what virsh itself says
  const nodeinfo = spawnSync('virsh', ['-c', 'qemu:///system', 'nodeinfo'], { encoding: 'utf8', env: { ...process.env, LC_ALL: 'C' } }).stdout;
  assert.equal(local!.facts!.cpus, Number(/CPU\(s\):\s+(\d+)/.exec(nodeinfo)![1]));
  assert.equal(local!.facts!.memory.total, Number(/Memory size:\s+(\d+) KiB/.exec(nodeinfo)![1]) * 1024);
  const version = spawnSync('virsh', ['-c', 'qemu:///system', 'version'], { encoding: 'utf8', env: { ...process.env, LC_ALL: 'C' } }).stdout;
  assert.equal(local!.facts!.libvirt, /Using library: libvirt (\S+)/.exec(version)![1]);
  assert.equal(local!.facts!.hypervisor, /Running hypervisor: (.+)/.exec(version)![1]!.trim());
  assert.equal(local!.facts!.storage, null, 'no kvmops pool for this storage dir yet');

  // once its read has timed out: unreachable since then, and the ssh connection is gone
  await new Promise((r) => setTimeout(r, 3_300 - (Date.now() - t0)));
  const t1 = Date.now();
  const after = await probe.get('hang');
  assert.ok(Date.now() - t1 < 1_700);
  assert.equal(after.reachable, false);
  assert.match(after.error ?? '', /no answer within 3000 ms|timed out/);
  assert.ok(after.unreachableSince! >= t0 + 2_900 && after.unreachableSince! <= Date.now(), `since ${after.unreachableSince! - t0} ms after the start`);
  // within the TTL the next look costs nothing and keeps the same "since"
  const t2 = Date.now();
  const again = await probe.get('hang');
  assert.ok(Date.now() - t2 < 50);
  assert.equal(again.unreachableSince, after.unreachableSince);
  // virsh was killed at the timeout, and the ssh it started with it (exec.ts kills the
  // program's process group): no connection to the silent listener is left
  const deadline = Date.now() + 3_000;
  while (sockets.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  assert.equal(sockets.size, 0, 'the ssh of the timed-out virsh is gone, not left connected');
});
