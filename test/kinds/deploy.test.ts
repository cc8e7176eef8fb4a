/**
 * The deploy kind's result and its summary: a template whose guest has no cloud-init still
 * deploys (and starts), and the result says no customisation was applied; "yes" and "unknown"
 * add nothing.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { CloudInit, DeployResult, HostDriver } from '../../src/hypervisor/types.js';
import { deploy, NO_CUSTOMISATION } from '../../src/kinds/deploy.js';
import type { ExecutorContext } from '../../src/kinds/kind.js';

function ctxFor(result: DeployResult): ExecutorContext {
  const host = {
    deploy: async () => result,
    waitForAddresses: async (vms: readonly string[]) => vms.map((vm, i) => ({ vm, address: { address: `198.19.1.${10 + i}`, source: 'lease' as const } })),
  } as unknown as HostDriver;
  return {
    host,
    signal: new AbortController().signal,
    progress: () => {},
    recovered: false,
    job: { id: 1, requestId: 'req-x', attempt: 1 },
    reportInventory: () => {},
  };
}

const payload = { host: 'lab', template: 'plain', name: 'web', mode: 'thin' as const, count: 2, start: true };

describe('deploy: a template without cloud-init', () => {
  for (const cloudInit of ['yes', 'no', 'unknown'] as const satisfies readonly CloudInit[]) {
    it(`cloud-init ${cloudInit}`, async () => {
      const r = await deploy.execute(payload, ctxFor({ vms: ['web-01', 'web-02'], mode: 'thin', started: true, cloudInit, made: [] }));
      const stored = JSON.parse(JSON.stringify(r)) as Record<string, unknown>;
      const summary = deploy.summary(stored)!;
      assert.match(summary, /^2 VMs: web-01 198\.19\.1\.10, web-02 198\.19\.1\.11 \(thin, started\)/);
      if (cloudInit === 'no') {
        assert.equal(stored.cloudInit, 'no');
        assert.ok(summary.endsWith(`; ${NO_CUSTOMISATION}`), summary);
        assert.match(summary, /no customisation applied \(the template's guest has no cloud-init\)/);
      } else {
        assert.equal(stored.cloudInit, undefined, 'only "no" is worth a word');
        assert.doesNotMatch(summary, /customisation/);
      }
    });
  }

  it('not started: the same note', async () => {
    const r = await deploy.execute({ ...payload, start: false, count: 1 }, ctxFor({ vms: ['web'], mode: 'clone', started: false, cloudInit: 'no', made: [] }));
    assert.equal(deploy.summary(JSON.parse(JSON.stringify(r)))!, `1 VM: web (clone); ${NO_CUSTOMISATION}`);
  });
});
