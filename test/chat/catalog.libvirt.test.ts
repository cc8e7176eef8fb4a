/**
 * Chat answers come from the inventory, not the host (real libvirt, the app's own core: router,
 * catalog, inventory, reconciler, and a worker running the real kinds).
 *
 * The host driver's list methods (`listTemplates` — the host-wide chain scan —, `listVms`,
 * `listSnapshots`) throw here: any answer that still scanned the host would fail. The fresh
 * reads a refusal rests on are counted (`reconciler.refresh`): a positive answer takes none.
 *
 * With extra domains defined behind kvmops' back (thin children of a template, made with
 * `qemu-img create -b` and `virsh define`): `/template list`, autocomplete and `/deploy`'s reply
 * answer without a host read; a template made and then deleted by jobs shows and vanishes at
 * once (the inventory is written with the job's result); a template made behind kvmops' back is
 * not offered until a fresh read finds it — which the first command naming it makes — and is
 * accepted then, without a restart.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { after, before, describe, it } from 'node:test';
import { createCore, type AppCore } from '../../src/app.js';
import type { ChatUser, RawOptions, Reply } from '../../src/chat/types.js';
import { loadEnv } from '../../src/config/env.js';
import { FINAL_STATES } from '../../src/domain/job-states.js';
import { silentLogger } from '../../src/domain/logger.js';
import type { HostDriver } from '../../src/hypervisor/types.js';
import type { Job } from '../../src/jobs/types.js';
import { Worker } from '../../src/worker/worker.js';
import { PLACE, USERS } from '../commands/fixture.js';
import { waitFor } from '../worker/helpers.js';
import { createDisk, defineVm, makeTestEnv, skipUnlessLibvirt, type LibvirtTestEnv } from '../helpers/libvirt.js';

const EXTRA = 30;

describe('chat answers from the inventory, not the host (real libvirt)', skipUnlessLibvirt(), () => {
  let env: LibvirtTestEnv;
  let dir: string;
  let core: AppCore;
  let worker: Worker;
  let driver: HostDriver;
  let refreshes = 0;
  /** Real driver methods, for the test's own set-up behind kvmops' back. */
  let createTemplateByHand: HostDriver['createTemplate'];
  let tpl: string;

  before(async () => {
    env = makeTestEnv('answr');
    dir = mkdtempSync(join(tmpdir(), 'kvmops-answers-'));
    core = createCore(
      loadEnv({ KVMOPS_DB: join(dir, 'kvmops.db'), KVMOPS_HOSTS: 'local=qemu:///system', KVMOPS_STORAGE_DIR: env.storageDir, KVMOPS_LOG_LEVEL: 'silent' }),
      { guildId: null },
    );
    driver = core.hypervisor.host('local');
    createTemplateByHand = driver.createTemplate.bind(driver);
    const scan = (m: string) => () => Promise.reject(new Error(`host scan: ${m} was called`));
    driver.listTemplates = scan('listTemplates');
    driver.listVms = scan('listVms');
    driver.listSnapshots = scan('listSnapshots');
    const refresh = core.reconciler.refresh.bind(core.reconciler);
    core.reconciler.refresh = (host) => {
      refreshes++;
      return refresh(host);
    };
    worker = new Worker({ store: core.store, hypervisor: core.hypervisor, inventory: core.inventory.write, logger: silentLogger });
    worker.start();

    defineVm(env.vmName('src'), [createDisk(`${env.outsideDir}/src.qcow2`, { sizeMiB: 16 })]);
    tpl = `${env.prefix}tpl`;
  });
  after(async () => {
    await worker?.stop({ graceMs: 5_000 });
    core?.store.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
    env?.cleanup();
  });

  const run = (u: ChatUser, command: string, subcommand: string | null, options: RawOptions = {}): Promise<Reply> =>
    core.router.handle({ command, subcommand, options, user: u, place: PLACE });
  const complete = (command: string, subcommand: string | null, focused: string, value: string, options: RawOptions = {}) =>
    core.router.complete({ command, subcommand, options, focused, value, user: USERS.erin, place: PLACE }).then((cs) => cs.map((c) => c.value));
  const finished = (reply: Reply): Promise<Job> => {
    assert.equal(reply.code, undefined, JSON.stringify(reply));
    return waitFor('the job to finish', () => {
      const j = core.store.get(reply.jobId!)!;
      return FINAL_STATES.has(j.state) && j;
    }, 120_000);
  };
  const ok = (j: Job) => assert.equal(j.state, 'succeeded', `${j.kind}: ${j.error?.message ?? ''}`);
  const timed = async <T>(f: () => Promise<T>): Promise<[T, number]> => {
    const t0 = performance.now();
    const v = await f();
    return [v, performance.now() - t0];
  };

  it('a template made by a job shows at once: in /template list and autocomplete, with no reconcile and no host read', async () => {
    await core.reconciler.refresh('local'); // the first import (the shared host's other domains too)
    refreshes = 0;
    ok(await finished(await run(USERS.erin, 'template', 'create', { vm: env.vmName('src'), name: tpl, seal: false })));
    const list = await run(USERS.carol, 'template', 'list');
    assert.match(list.lines.join('\n'), new RegExp(`${tpl}\\b`));
    assert.deepEqual(await complete('deploy', null, 'template', env.prefix), [tpl]);
    assert.equal(refreshes, 0, 'positive answers take no fresh read');
  });

  it(`with ${EXTRA} domains defined behind kvmops' back: one reconcile, then list, autocomplete and /deploy's reply without a host read`, async (t) => {
    const base = core.inventory.reads.templates('local').find((x) => x.name === tpl)!.disks[0]!.file;
    for (let i = 0; i < EXTRA; i++) {
      const name = env.vmName(`x${String(i).padStart(2, '0')}`);
      defineVm(name, [createDisk(`${env.outsideDir}/${name}.qcow2`, { backing: base })]);
    }
    await core.reconciler.refresh('local');
    refreshes = 0;

    const [list, listMs] = await timed(() => run(USERS.carol, 'template', 'list'));
    const row = list.lines.find((l) => l.includes(tpl));
    assert.match(row ?? '', new RegExp(`\\b${EXTRA} \\(`), `the hand-made thin children are counted: ${list.lines.join('\n')}`);
    const [names, completeMs] = await timed(() => complete('deploy', null, 'template', env.prefix.toUpperCase()));
    assert.deepEqual(names, [tpl], 'autocomplete ignores case, as before');
    const vms = await complete('vm', 'start', 'vm', `${env.prefix}x0`);
    assert.deepEqual(vms, Array.from({ length: 10 }, (_, i) => env.vmName(`x0${i}`)));

    const web = env.vmName('web');
    const [reply, deployMs] = await timed(() => run(USERS.alice, 'deploy', null, { template: tpl, name: web }));
    assert.equal(refreshes, 0, 'the template exists and the name is free: no fresh read');
    t.diagnostic(`/template list ${listMs.toFixed(1)} ms, template autocomplete ${completeMs.toFixed(1)} ms, /deploy reply ${deployMs.toFixed(1)} ms`);
    // the pin (the template's creation time) came from the inventory: the job accepts it
    ok(await finished(reply));
    const after = await run(USERS.carol, 'template', 'list');
    assert.match(after.lines.find((l) => l.includes(tpl)) ?? '', new RegExp(`\\b${EXTRA + 1} \\(`), 'the deployed VM counts at once');
    assert.deepEqual(await complete('vm', 'start', 'vm', web), [web]);

    // a name taken is refused on a fresh read (one reconcile pass, not a host scan)
    const taken = await run(USERS.alice, 'deploy', null, { template: tpl, name: env.vmName('x00') });
    assert.equal(taken.code, 'name-taken');
    assert.equal(refreshes, 1);
  });

  it('a snapshot taken by a job is offered at once (from the inventory)', async () => {
    const web = env.vmName('web');
    ok(await finished(await run(USERS.alice, 'snapshot', 'create', { vm: web, name: 'clean' })));
    assert.deepEqual(await complete('snapshot', 'revert', 'name', '', { vm: web }), ['clean']);
  });

  it("a template made behind kvmops' back: not offered until a fresh read finds it — the first command naming it makes one — then accepted, without a restart", async () => {
    const hand = `${env.prefix}hand`;
    defineVm(env.vmName('src2'), [createDisk(`${env.outsideDir}/src2.qcow2`, { sizeMiB: 16 })]);
    await createTemplateByHand({ vm: env.vmName('src2'), name: hand, seal: false });
    assert.deepEqual(await complete('deploy', null, 'template', hand), [], 'not known yet');
    assert.doesNotMatch((await run(USERS.carol, 'template', 'list')).lines.join('\n'), new RegExp(hand));

    refreshes = 0;
    const reply = await run(USERS.alice, 'deploy', null, { template: hand, name: env.vmName('hand-vm') });
    assert.equal(reply.code, undefined, `accepted after the fresh read: ${JSON.stringify(reply)}`);
    assert.equal(refreshes, 1, 'the miss took exactly one fresh read');
    assert.deepEqual(await complete('deploy', null, 'template', hand), [hand], 'known from then on');
    ok(await finished(reply));

    // a name that is nowhere: refused after one fresh read
    refreshes = 0;
    const none = await run(USERS.alice, 'deploy', null, { template: `${env.prefix}nosuch`, name: env.vmName('n') });
    assert.equal(none.code, 'template-not-found');
    assert.equal(refreshes, 1);
  });

  it('a template deleted by a job vanishes at once from /template list and autocomplete', async () => {
    const spare = `${env.prefix}spare`;
    ok(await finished(await run(USERS.erin, 'template', 'create', { vm: env.vmName('src'), name: spare, seal: false })));
    assert.deepEqual(await complete('template', 'delete', 'name', spare), [spare]);
    ok(await finished(await run(USERS.erin, 'template', 'delete', { name: spare })));
    assert.deepEqual(await complete('template', 'delete', 'name', spare), []);
    assert.doesNotMatch((await run(USERS.carol, 'template', 'list')).lines.join('\n'), new RegExp(spare));
  });
});
