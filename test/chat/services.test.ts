import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { loadCommands } from '../../commands/index.js';
import { CommandRouter } from '../../src/chat/router.js';
import { createServices } from '../../src/chat/services.js';
import { openJobStore } from '../../src/jobs/store.js';
import { InventoryHypervisor, PLACE, USERS } from '../commands/fixture.js';

describe('createServices', () => {
  it('wires the real store, and the catalog forgets a host when one of its jobs ends', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kvmops-services-'));
    const store = openJobStore(join(dir, 'db.sqlite'));
    try {
      const hv = new InventoryHypervisor(['local']);
      hv.inv().vms.set('db', 'shut off');
      const services = createServices({ store, hypervisor: hv, config: { twoPerson: true, approvalTtlMs: 60_000, guildId: PLACE.guildId } });
      const router = new CommandRouter({ commands: loadCommands(), services });
      const r = await router.handle({ command: 'vm', subcommand: 'start', options: { vm: 'db' }, user: USERS.alice, place: PLACE });
      assert.ok(r.jobId, JSON.stringify(r));
      await services.catalog.vms('local');
      const reads = hv.reads.length;

      const { lease } = store.claim('w', 60_000)!;
      await services.catalog.vms('local');
      assert.equal(hv.reads.length, reads, 'a job starting does not drop the cache');
      store.complete(lease, null);
      await services.catalog.vms('local');
      assert.equal(hv.reads.length, reads + 1, 'a job ending does');
      assert.equal(store.audit.list(10)[0]?.outcome, 'accepted');
    } finally {
      store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
