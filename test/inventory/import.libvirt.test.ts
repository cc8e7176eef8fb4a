import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { silentLogger, type Logger } from '../../src/domain/logger.js';
import { createHypervisor } from '../../src/hypervisor/index.js';
import type { Hypervisor } from '../../src/hypervisor/types.js';
import { Reconciler, type ImportProgress } from '../../src/inventory/reconcile.js';
import { InventoryStore } from '../../src/inventory/store.js';
import { openJobStore, type SqliteJobStore } from '../../src/jobs/store.js';
import { createDisk, makeTestEnv, skipUnlessLibvirt, URI, uuidsByName, type LibvirtTestEnv } from '../helpers/libvirt.js';

/**
 * The first start on an existing host imports it: here a host with a few hundred more cheap
 * domains (small qcow2 overlays on one template disk, defined by plain virsh and removed
 * afterwards) — plus whatever other tests have defined meanwhile. The import runs in batches,
 * says how far it is, and answers correctly for every domain of this file.
 */
const COUNT = 300;

/** Many virsh commands in a few processes (one per 50), as an operator's script would. */
function virshBatch(commands: string[]): void {
  for (let i = 0; i < commands.length; i += 50) {
    const r = spawnSync('virsh', ['--connect', URI, commands.slice(i, i + 50).join(' ; ')], { encoding: 'utf8' });
    if (r.status !== 0 && !/undefine/.test(commands[i]!)) throw new Error(`virsh batch failed: ${r.stderr}`);
  }
}

describe(`import: a host with ${COUNT} more domains`, skipUnlessLibvirt(), () => {
  let env: LibvirtTestEnv;
  let hypervisor: Hypervisor;
  let dbDir: string;
  let jobs: SqliteJobStore;
  let inv: InventoryStore;
  const names = Array.from({ length: COUNT }, (_, i) => `imp${String(i).padStart(4, '0')}`);
  let template: string;

  before(() => {
    env = makeTestEnv('imp');
    hypervisor = createHypervisor({ hosts: [{ name: 'local', uri: 'qemu:///system' }], storageDir: env.storageDir });
    dbDir = mkdtempSync(path.join(tmpdir(), 'kvmops-imp-'));
    jobs = openJobStore(path.join(dbDir, 'kvmops.db'));
    inv = new InventoryStore(jobs.db);
    // a "template disk" named as kvmops names them, and one overlay per domain on it
    template = `${env.prefix}base`;
    const base = createDisk(env.storage.templateDisk(template, 'vda'), { sizeMiB: 16 });
    const xmlDir = path.join(dbDir, 'xml');
    mkdirSync(xmlDir);
    const defines = names.map((n) => {
      const disk = createDisk(`${env.storageDir}/vms/${n}.qcow2`, { backing: base });
      const xml = `<domain type='qemu'><name>${env.vmName(n)}</name><memory unit='MiB'>64</memory><vcpu>1</vcpu><os><type arch='x86_64'>hvm</type></os><devices><disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='${disk}'/><target dev='vda' bus='virtio'/></disk></devices></domain>`;
      const file = path.join(xmlDir, `${n}.xml`);
      writeFileSync(file, xml);
      return `define ${file}`;
    });
    virshBatch(defines);
  });
  after(() => {
    // batched: one process per 50 domains (env.cleanup would take two processes per domain)
    const mine = [...uuidsByName()].filter(([n]) => n.startsWith(env.prefix)).map(([, u]) => u);
    virshBatch(mine.map((u) => `undefine ${u}`));
    jobs?.close();
    env?.cleanup();
    if (dbDir) rmSync(dbDir, { recursive: true, force: true });
  });

  it('imports in batches with progress, and knows every domain with its disk and template', async () => {
    const lines: string[] = [];
    const logger: Logger = { ...silentLogger, info: (_o, msg) => void lines.push(msg ?? '') };
    const reconciler = new Reconciler({ hypervisor, store: inv, everyMs: 3_600_000, batch: 100, logger });
    const seen: ImportProgress[] = [];
    const watch = setInterval(() => {
      const p = reconciler.importing('local');
      if (p) seen.push(p);
    }, 5);
    const t0 = Date.now();
    const [stats] = await reconciler.reconcileNow().finally(() => clearInterval(watch));
    const ms = Date.now() - t0;
    assert.equal(stats?.imported, true);
    assert.ok(stats!.listed >= COUNT, `listed ${stats!.listed}`);
    assert.equal(reconciler.importing('local'), undefined, 'no progress once done');
    assert.notEqual(inv.hostStatus('local').importedAt, null);

    // progress: in the log, batch by batch, and observable while it ran
    const progress = lines.filter((l) => /^inventory: importing local: [\d,]+ \/ [\d,]+ domains$/.test(l));
    assert.ok(progress.length >= 1 + Math.ceil(COUNT / 100), progress.join('\n'));
    assert.match(progress.at(-1)!, new RegExp(`: ${stats!.read.toLocaleString('en-US')} / ${stats!.read.toLocaleString('en-US')} domains$`));
    assert.ok(seen.some((p) => p.done > 0 && p.done < p.total), `progress seen mid-import: ${JSON.stringify(seen.slice(0, 3))}`);
    assert.ok(lines.some((l) => /^inventory: local imported/.test(l)));

    // every domain of this file, right
    const uuids = uuidsByName();
    for (const n of names) {
      const uuid = uuids.get(env.vmName(n))!;
      const row = inv.reads.vm('local', uuid);
      assert.equal(row?.name, env.vmName(n));
      assert.equal(row?.state, 'shut off');
      assert.equal(row?.disks.length, 1);
      assert.equal(row?.disks[0]!.template, template, n);
      assert.equal(row?.disks[0]!.chain.length, 2);
    }
    assert.equal(inv.reads.dependentsOf('local', template).length, COUNT);
    const page = inv.reads.vmPage('local', 0, 50);
    assert.equal(page.vms.length, Math.min(50, page.total));
    assert.ok(page.total >= COUNT);
    process.stderr.write(`# import of ${stats!.listed} domains (${COUNT} of this file): ${ms} ms\n`);

    // then a pass with nothing of ours changed is a diff: it reads no domain of ours again
    const t1 = Date.now();
    const [again] = await new Reconciler({ hypervisor, store: inv, everyMs: 3_600_000, rotate: 0, logger: silentLogger }).reconcileNow();
    assert.equal(again?.imported, false);
    process.stderr.write(`# a later pass (diff, no rotation): ${Date.now() - t1} ms, read ${again!.read} (changed by other tests meanwhile)\n`);
  });
});
