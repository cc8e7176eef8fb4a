import assert from 'node:assert/strict';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { jobStats } from '../../src/jobs/stats.js';
import { openJobStore, type SqliteJobStore } from '../../src/jobs/store.js';
import { startOpsServer, startOpsServerFromEnv, type DiscordStatus, type PingableHosts } from '../../src/ops/http.js';
import { createMetrics } from '../../src/ops/metrics.js';
import { get, parseMetrics, sample, setUp, snapshotRevert, tempDir, vmStart } from './helpers.js';

/** Host stand-ins: only `ping` is implemented, which is all /healthz uses. */
function fakeHosts(pings: Record<string, () => Promise<{ ok: boolean; detail: string }>>) {
  const calls: Record<string, number> = {};
  const hosts: PingableHosts = {
    hostNames: () => Object.keys(pings),
    host: (name) => ({
      ping: () => {
        calls[name] = (calls[name] ?? 0) + 1;
        return pings[name]!();
      },
    }),
  };
  return { hosts, calls };
}

function runToEnd(store: SqliteJobStore, outcome: 'complete' | 'fail' = 'complete') {
  const claimed = store.claim('test-worker', 30_000);
  assert.ok(claimed, 'a job was claimable');
  return outcome === 'complete'
    ? store.complete(claimed.lease, { ok: true })
    : store.fail(claimed.lease, { code: 'vm-not-found', message: 'no such VM' }, { retry: false });
}

test('/metrics changes as jobs are enqueued, run and finish', async (t) => {
  const { store, metrics, scrape } = await setUp(t);

  let m = await scrape();
  assert.equal(sample(m, 'kvmops_jobs', { state: 'succeeded', kind: 'vm.start' }), 0, 'every pair is present, at 0');
  assert.equal(sample(m, 'kvmops_queue_depth'), 0);
  assert.equal(sample(m, 'kvmops_approvals_pending'), 0);
  assert.equal(sample(m, 'kvmops_job_duration_seconds_count', { kind: 'vm.start', state: 'succeeded' }), undefined);
  assert.ok(sample(m, 'process_cpu_user_seconds_total') !== undefined, 'default process metrics');
  assert.ok(sample(m, 'nodejs_eventloop_lag_seconds') !== undefined, 'default nodejs metrics');

  store.enqueue(vmStart('web-01'));
  store.enqueue(vmStart('web-02'));
  store.enqueue(snapshotRevert('web-03', 'before'));
  m = await scrape();
  assert.equal(sample(m, 'kvmops_jobs', { state: 'queued', kind: 'vm.start' }), 2);
  assert.equal(sample(m, 'kvmops_jobs', { state: 'awaiting_approval', kind: 'snapshot.revert' }), 1);
  assert.equal(sample(m, 'kvmops_queue_depth'), 2);
  assert.equal(sample(m, 'kvmops_queue_runnable'), 2);
  assert.ok(sample(m, 'kvmops_queue_oldest_age_seconds')! >= 0);
  assert.equal(sample(m, 'kvmops_approvals_pending'), 1);

  const claimed = store.claim('test-worker', 30_000)!;
  m = await scrape();
  assert.equal(sample(m, 'kvmops_jobs_running'), 1);
  assert.equal(sample(m, 'kvmops_jobs', { state: 'running', kind: 'vm.start' }), 1);
  assert.equal(sample(m, 'kvmops_queue_depth'), 1);

  await new Promise((r) => setTimeout(r, 30)); // a measurable duration
  const done = store.complete(claimed.lease, { started: true });
  // A later update of a finished job (the notifier's status message) must not count it again.
  store.setStatusMessage(done.id, 'msg-1');
  m = await scrape();
  assert.equal(sample(m, 'kvmops_jobs', { state: 'succeeded', kind: 'vm.start' }), 1);
  assert.equal(sample(m, 'kvmops_jobs', { state: 'running', kind: 'vm.start' }), 0);
  assert.equal(sample(m, 'kvmops_jobs_running'), 0);
  assert.equal(sample(m, 'kvmops_job_duration_seconds_count', { kind: 'vm.start', state: 'succeeded' }), 1);
  const sum = sample(m, 'kvmops_job_duration_seconds_sum', { kind: 'vm.start', state: 'succeeded' })!;
  assert.ok(sum >= 0.02 && sum < 5, `duration sum ${sum}`);
  assert.equal(sample(m, 'kvmops_job_duration_seconds_bucket', { kind: 'vm.start', state: 'succeeded', le: '+Inf' }), 1);

  runToEnd(store, 'fail');
  store.approvals.decide(3, 'reject', { id: '200', name: 'bob' });
  m = await scrape();
  assert.equal(sample(m, 'kvmops_jobs', { state: 'failed', kind: 'vm.start' }), 1);
  assert.equal(sample(m, 'kvmops_job_duration_seconds_count', { kind: 'vm.start', state: 'failed' }), 1);
  assert.equal(sample(m, 'kvmops_jobs', { state: 'cancelled', kind: 'snapshot.revert' }), 1);
  assert.equal(sample(m, 'kvmops_approvals_pending'), 0);
  assert.equal(sample(m, 'kvmops_queue_depth'), 0);
  // Rejected before it ever ran: no duration to observe.
  assert.equal(sample(m, 'kvmops_job_duration_seconds_count', { kind: 'snapshot.revert', state: 'cancelled' }), undefined);

  metrics.discordRestError(429);
  metrics.discordRestError(429);
  metrics.discordRestError(500);
  m = await scrape();
  assert.equal(sample(m, 'kvmops_discord_rest_errors_total', { status: '429' }), 2);
  assert.equal(sample(m, 'kvmops_discord_rest_errors_total', { status: '500' }), 1);
  assert.equal(sample(m, 'kvmops_stats_errors_total'), 0);

  // Each app owns its registry: a second one starts from zero.
  const other = createMetrics({ stats: () => jobStats(store.db), defaultMetrics: false });
  const o = parseMetrics(await other.render());
  assert.equal(sample(o, 'kvmops_discord_rest_errors_total', { status: '429' }), undefined);
  assert.equal(sample(o, 'kvmops_jobs', { state: 'succeeded', kind: 'vm.start' }), 1, 'queue gauges come from the database');
});

test('/healthz: ok, then degraded by a host whose ping fails, a hanging host and Discord; down without the database', async (t) => {
  let bHealthy = true;
  let discord: DiscordStatus = 'connected';
  const { hosts, calls } = fakeHosts({
    a: async () => ({ ok: true, detail: 'libvirt 9.0.0' }),
    b: async () => {
      if (bHealthy) return { ok: true, detail: 'libvirt 9.0.0' };
      throw new Error('failed to connect to the hypervisor');
    },
  });
  const { store, healthz } = await setUp(t, { hosts, discord: () => discord });

  let h = await healthz();
  assert.equal(h.status, 200);
  assert.equal(h.body.status, 'ok');
  assert.equal(h.body.database.ok, true);
  assert.match(h.body.database.detail, /SELECT 1/);
  assert.deepEqual(h.body.hosts, [
    { name: 'a', ok: true, detail: 'libvirt 9.0.0' },
    { name: 'b', ok: true, detail: 'libvirt 9.0.0' },
  ]);
  assert.deepEqual(h.body.discord, { status: 'connected' });

  bHealthy = false;
  h = await healthz();
  assert.equal(h.status, 503);
  assert.equal(h.body.status, 'degraded');
  assert.deepEqual(h.body.hosts[1], { name: 'b', ok: false, detail: 'failed to connect to the hypervisor' });
  assert.equal(h.body.hosts[0].ok, true);

  bHealthy = true;
  discord = 'reconnecting';
  h = await healthz();
  assert.equal(h.status, 503);
  assert.equal(h.body.status, 'degraded');
  assert.deepEqual(h.body.discord, { status: 'reconnecting' });
  discord = 'connected';
  assert.equal((await healthz()).status, 200);
  assert.ok(calls.a! >= 4, 'with hostCacheMs 0 every request pings');

  store.close();
  h = await healthz();
  assert.equal(h.status, 503);
  assert.equal(h.body.status, 'down');
  assert.equal(h.body.database.ok, false);
  assert.match(h.body.database.detail, /not open/);
});

test('/healthz: a hanging ping is cut off by the timeout; results are cached and shared', async (t) => {
  let signalled = false;
  const { hosts, calls } = fakeHosts({
    fast: async () => ({ ok: true, detail: 'up' }),
    stuck: () => new Promise(() => {}),
  });
  const withSignal: PingableHosts = {
    hostNames: hosts.hostNames,
    host: (name) => ({
      ping: (ctx) => {
        ctx?.signal?.addEventListener('abort', () => (signalled = true));
        return hosts.host(name).ping(ctx);
      },
    }),
  };
  const { healthz } = await setUp(t, { hosts: withSignal, hostCacheMs: 60_000, pingTimeoutMs: 200 });

  const started = Date.now();
  const [h1, h2, h3] = await Promise.all([healthz(), healthz(), healthz()]);
  assert.ok(Date.now() - started < 2_000);
  for (const h of [h1, h2, h3]) {
    assert.equal(h.status, 503);
    assert.deepEqual(h.body.hosts[1], { name: 'stuck', ok: false, detail: 'no answer within 200 ms' });
  }
  assert.equal(signalled, true, 'the ping was told to stop');
  assert.deepEqual(calls, { fast: 1, stuck: 1 }, 'three concurrent requests, one round of pings');
  await healthz();
  assert.deepEqual(calls, { fast: 1, stuck: 1 }, 'cached');
});

test('only 127.0.0.1, only GET /healthz and /metrics; off without KVMOPS_HTTP_PORT', async (t) => {
  const { server } = await setUp(t);
  assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+$/);
  assert.equal((await get(`${server.url}/`)).status, 404);
  assert.equal((await get(`${server.url}/metrics/x`)).status, 404);
  assert.equal((await get(`${server.url}/metrics`, 'POST')).status, 404);
  assert.equal((await get(`${server.url}/healthz?verbose=1`)).status, 200, 'a query string is ignored');
  const head = await get(`${server.url}/metrics`, 'HEAD');
  assert.equal(head.status, 200);
  assert.equal(head.body, '');

  const external = Object.values(networkInterfaces())
    .flat()
    .find((i) => i && i.family === 'IPv4' && !i.internal);
  if (external) {
    await assert.rejects(get(`http://${external.address}:${server.port}/healthz`), /ECONNREFUSED/);
  }

  const off = await startOpsServerFromEnv(
    { KVMOPS_HTTP_PORT: undefined },
    { metrics: createMetrics({ stats: () => { throw new Error('unused'); }, defaultMetrics: false }), checkDatabase: () => ({ ok: true, detail: '' }) },
  );
  assert.equal(off, undefined);
});

test('a failing stats read still answers /metrics, with unknown queue gauges, and counts the error', async (t) => {
  const errors: unknown[] = [];
  const metrics = createMetrics({
    stats: () => {
      throw new Error('database is locked');
    },
    onStatsError: (e) => errors.push(e),
  });
  const server = await startOpsServer({ port: 0, metrics, checkDatabase: () => ({ ok: true, detail: 'x' }) });
  t.after(() => server.close());
  const r = await get(`${server.url}/metrics`);
  assert.equal(r.status, 200);
  const m = parseMetrics(r.body);
  assert.equal(sample(m, 'kvmops_stats_errors_total'), 1);
  assert.ok(Number.isNaN(sample(m, 'kvmops_queue_depth')), 'unknown, not 0');
  assert.ok(Number.isNaN(sample(m, 'kvmops_approvals_pending')));
  assert.equal(sample(m, 'kvmops_jobs', { state: 'queued', kind: 'vm.start' }), undefined);
  assert.ok(sample(m, 'process_cpu_user_seconds_total') !== undefined);
  assert.equal(errors.length, 1);
});

test('startOps: the one call for main.ts — off without a port, on with one, durations observed', async (t) => {
  const { startOps, createLogger } = await import('../../src/ops/index.js');
  const { PassThrough } = await import('node:stream');
  const store = openJobStore(join(tempDir(t), 'kvmops.db'));
  t.after(() => store.db.open && store.close());
  const logger = createLogger({ level: 'silent', destination: new PassThrough() });

  const off = await startOps({ env: { KVMOPS_HTTP_PORT: undefined }, db: store.db, store, logger });
  assert.equal(off.server, undefined);
  await off.close();

  // A fixed port chosen by the OS first, as KVMOPS_HTTP_PORT would name one.
  const probe = await startOpsServer({ port: 0, metrics: createMetrics({ stats: () => jobStats(store.db), defaultMetrics: false }), checkDatabase: () => ({ ok: true, detail: '' }) });
  const port = probe.port;
  await probe.close();
  const ops = await startOps({ env: { KVMOPS_HTTP_PORT: port }, db: store.db, store, logger });
  t.after(() => ops.close());
  assert.equal(ops.server?.url, `http://127.0.0.1:${port}`);
  store.enqueue(vmStart('x'));
  runToEnd(store);
  const m = parseMetrics((await get(`${ops.server!.url}/metrics`)).body);
  assert.equal(sample(m, 'kvmops_jobs', { state: 'succeeded', kind: 'vm.start' }), 1);
  assert.equal(sample(m, 'kvmops_job_duration_seconds_count', { kind: 'vm.start', state: 'succeeded' }), 1);
  const h = await get(`${ops.server!.url}/healthz`);
  assert.equal(h.status, 200);
  assert.deepEqual(JSON.parse(h.body).discord, { status: 'not-configured' });
});
