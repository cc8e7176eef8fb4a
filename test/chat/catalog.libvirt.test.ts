/**
 * Fresh reads of one host share one scan (real libvirt, the app's own router, catalog and
 * driver): ten viewers asking `/template list` at once cost the host one scan, not ten. And
 * "fresh" keeps its promise: a request made while a scan is under way is answered by a scan
 * that starts after it, never by the one already under way.
 *
 * The host calls are counted by a wrapper around the real driver's `listTemplates`.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { after, before, describe, it } from 'node:test';
import { createCore, type AppCore } from '../../src/app.js';
import { loadEnv } from '../../src/config/env.js';
import { LibvirtHost } from '../../src/hypervisor/host.js';
import type { HostDriver, TemplateInfo } from '../../src/hypervisor/types.js';
import { PLACE, user } from '../commands/fixture.js';
import { makeTestEnv, patternTemplate, skipUnlessLibvirt, type LibvirtTestEnv } from '../helpers/libvirt.js';

const skip = skipUnlessLibvirt();

describe('fresh reads of one host share one scan (real libvirt)', skip, () => {
  let env: LibvirtTestEnv;
  let dir: string;
  let core: AppCore;
  let tpl: TemplateInfo;
  const scans: Array<{ start: number; end?: number }> = [];

  before(async () => {
    env = makeTestEnv('frshr');
    dir = mkdtempSync(join(tmpdir(), 'kvmops-fresh-'));
    tpl = await patternTemplate(env, new LibvirtHost({ name: 'local', uri: 'qemu:///system' }, { storageDir: env.storageDir }));
    core = createCore(
      loadEnv({ KVMOPS_DB: join(dir, 'kvmops.db'), KVMOPS_HOSTS: 'local=qemu:///system', KVMOPS_STORAGE_DIR: env.storageDir, KVMOPS_LOG_LEVEL: 'silent' }),
      { guildId: null },
    );
    const driver: HostDriver = core.hypervisor.host('local');
    const real = driver.listTemplates.bind(driver);
    driver.listTemplates = async (ctx) => {
      const scan: { start: number; end?: number } = { start: performance.now() };
      scans.push(scan);
      try {
        return await real(ctx);
      } finally {
        scan.end = performance.now();
      }
    };
  });
  after(() => {
    core?.store.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
    env?.cleanup();
  });

  const list = (i: number) =>
    core.router.handle({ command: 'template', subcommand: 'list', options: {}, user: user(`viewer-${i}`, ['viewer']), place: PLACE });

  it('ten viewers listing templates at once: one scan, ten full answers', async (t) => {
    scans.length = 0;
    const t0 = performance.now();
    const replies = await Promise.all(Array.from({ length: 10 }, (_, i) => list(i)));
    const tenMs = performance.now() - t0;
    assert.equal(scans.length, 1, `host scans: ${scans.length}`);
    for (const r of replies) {
      assert.equal(r.code, undefined, JSON.stringify(r));
      assert.match(r.lines.join('\n'), new RegExp(tpl.name));
    }
    const t1 = performance.now();
    await list(10);
    t.diagnostic(`ten at once ${Math.round(tenMs)} ms, one alone ${Math.round(performance.now() - t1)} ms`);
  });

  it('a fresh request made while a scan is under way waits for one that starts after it; the nine such share it', async () => {
    scans.length = 0;
    const first = list(0);
    while (scans.length === 0) await new Promise((r) => setImmediate(r));
    const asked = performance.now();
    const later = Array.from({ length: 9 }, (_, i) => list(i + 1));
    const replies = await Promise.all([first, ...later]);
    assert.equal(scans.length, 2, `host scans: ${scans.length}`);
    assert.ok(scans[1]!.start >= asked, 'the second scan started after the nine asked');
    assert.ok(scans[1]!.start >= scans[0]!.end!, 'and after the first ended: one scan of a host at a time');
    for (const r of replies) assert.match(r.lines.join('\n'), new RegExp(tpl.name));
  });
});
