/**
 * A rig for the destructive steps' candidates (src/inventory/referrers.ts) against the real
 * libvirtd: a job store with the inventory, a reconciler that is NOT started (no timer: the only
 * passes are the ones a test or a job's candidate question asks for), a worker wired as src/app.ts
 * wires it, and a log of every virsh and qemu-img process kvmops starts while `exec.start()` runs
 * (a PATH shim in front of the real programs: what was read, not what the code says it reads).
 */
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { FINAL_STATES } from '../../src/domain/job-states.js';
import { silentLogger } from '../../src/domain/logger.js';
import { createHypervisor } from '../../src/hypervisor/index.js';
import type { HostDriver } from '../../src/hypervisor/types.js';
import { Reconciler } from '../../src/inventory/reconcile.js';
import { inventoryReferrers } from '../../src/inventory/referrers.js';
import { InventoryStore } from '../../src/inventory/store.js';
import { openJobStore, type SqliteJobStore } from '../../src/jobs/store.js';
import type { Job } from '../../src/jobs/types.js';
import type { JobKind } from '../../src/kinds/index.js';
import { Worker } from '../../src/worker/worker.js';
import { alice, bob, notify } from '../jobs/helpers.js';
import { waitFor } from '../worker/helpers.js';
import { makeTestEnv, type LibvirtTestEnv } from '../helpers/libvirt.js';

export interface CandidateRig {
  env: LibvirtTestEnv;
  store: SqliteJobStore;
  inv: InventoryStore;
  reconciler: Reconciler;
  host: HostDriver;
  /** Enqueue (approving when needed) and wait for the end. */
  run(kind: JobKind, payload: Record<string, unknown>): Promise<Job>;
  /** The programs kvmops runs between start() and stop(), one argv a line (`virsh …`, `qemu-img …`). */
  exec: { start(): void; stop(): string[] };
  close(): Promise<void>;
}

export function candidateRig(label: string): CandidateRig {
  const env = makeTestEnv(label);
  const dir = mkdtempSync(path.join(tmpdir(), `kvmops-${label}-`));
  const shim = path.join(dir, 'bin');
  execFileSync('mkdir', ['-p', shim]);
  for (const program of ['virsh', 'qemu-img']) {
    const real = execFileSync('sh', ['-c', `command -v ${program}`], { encoding: 'utf8' }).trim();
    const file = path.join(shim, program);
    writeFileSync(
      file,
      `#!/bin/sh\nif [ -n "$KVMOPS_TEST_EXEC_LOG" ]; then printf '%s\\n' "${program} $*" >> "$KVMOPS_TEST_EXEC_LOG"; fi\nexec ${real} "$@"\n`,
    );
    chmodSync(file, 0o755);
  }
  const oldPath = process.env.PATH ?? '';
  process.env.PATH = `${shim}:${oldPath}`;
  const log = path.join(dir, 'exec.log');

  const store = openJobStore(path.join(dir, 'kvmops.db'));
  const inv = new InventoryStore(store.db);
  const hypervisor = createHypervisor({ hosts: [{ name: 'local', uri: 'qemu:///system' }], storageDir: env.storageDir });
  const reconciler = new Reconciler({ hypervisor, store: inv, everyMs: 3_600_000, logger: silentLogger });
  const worker = new Worker({ store, hypervisor, inventory: inv.write, referrers: inventoryReferrers(reconciler, inv), logger: silentLogger });
  worker.start();

  return {
    env,
    store,
    inv,
    reconciler,
    host: hypervisor.host('local'),
    async run(kind, payload) {
      const job = store.enqueue({ kind, payload: { host: 'local', ...payload }, requester: alice, notify });
      if (job.state === 'awaiting_approval') store.approvals.decide(job.id, 'approve', bob);
      return waitFor(`${kind} to finish`, () => {
        const j = store.get(job.id)!;
        return FINAL_STATES.has(j.state) && j;
      }, 180_000);
    },
    exec: {
      start() {
        writeFileSync(log, '');
        process.env.KVMOPS_TEST_EXEC_LOG = log;
      },
      stop() {
        delete process.env.KVMOPS_TEST_EXEC_LOG;
        return readFileSync(log, 'utf8').split('\n').filter(Boolean);
      },
    },
    async close() {
      delete process.env.KVMOPS_TEST_EXEC_LOG;
      await worker.stop({ graceMs: 5_000 });
      await reconciler.stop();
      store.close();
      process.env.PATH = oldPath;
      env.cleanup();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
