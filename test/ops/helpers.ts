import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { openDatabase } from '../../src/jobs/db.js';
import { checkDatabase, jobStats } from '../../src/jobs/stats.js';
import { openJobStore, SqliteJobStore } from '../../src/jobs/store.js';
import type { EnqueueRequest } from '../../src/jobs/types.js';
import { startOpsServer, type DiscordStatus, type PingableHosts } from '../../src/ops/http.js';
import { createMetrics } from '../../src/ops/metrics.js';
import { PINNED } from '../jobs/helpers.js';

export const alice = { id: '100', name: 'alice' };
export const notify = { adapter: 'shell', guildId: null, channelId: 'ops' };

export function tempDir(t: TestContext, prefix = 'kvmops-ops-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export function vmStart(vm: string, host = 'local'): EnqueueRequest {
  return { kind: 'vm.start', payload: { host, vm }, requester: alice, notify };
}

export function snapshotRevert(vm: string, name: string): EnqueueRequest {
  return { kind: 'snapshot.revert', payload: { host: 'local', vm, name, ...PINNED }, requester: alice, notify };
}

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** The Prometheus text format's samples (comments dropped). */
export function parseMetrics(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`unparsable metrics line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
    out.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return out;
}

/** The value of the one sample with this name and (at least) these labels; undefined if none. */
export function sample(samples: Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  const hits = samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  if (hits.length > 1) throw new Error(`${hits.length} samples match ${name} ${JSON.stringify(labels)}`);
  return hits[0]?.value;
}

export interface Fetched {
  status: number;
  type: string;
  body: string;
}

export function get(url: string, method = 'GET'): Promise<Fetched> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** A store in a temp dir and an ops server on 127.0.0.1 (port 0) over it; all closed after the test. */
export async function setUp(
  t: TestContext,
  opts: { hosts?: PingableHosts; discord?: () => DiscordStatus; hostCacheMs?: number; pingTimeoutMs?: number } = {},
) {
  const store = openJobStore(join(tempDir(t), 'data', 'kvmops.db'));
  t.after(() => {
    if (store.db.open) store.close();
  });
  const metrics = createMetrics({ stats: () => jobStats(store.db) });
  t.after(metrics.watch(store));
  const server = await startOpsServer({
    port: 0,
    metrics,
    checkDatabase: () => checkDatabase(store.db),
    ...(opts.hosts ? { hosts: opts.hosts } : {}),
    ...(opts.discord ? { discordStatus: opts.discord } : {}),
    hostCacheMs: opts.hostCacheMs ?? 0,
    pingTimeoutMs: opts.pingTimeoutMs ?? 500,
  });
  t.after(() => server.close());
  const scrape = async () => {
    const r = await get(`${server.url}/metrics`);
    assert.equal(r.status, 200);
    assert.match(r.type, /^text\/plain; version=0\.0\.4/);
    return parseMetrics(r.body);
  };
  const healthz = async () => {
    const r = await get(`${server.url}/healthz`);
    assert.match(r.type, /^application\/json/);
    return { status: r.status, body: JSON.parse(r.body) as Record<string, any> };
  };
  return { store, metrics, server, scrape, healthz };
}

/** A database with some history, so a backup takes more than an instant. */
export function seed(file: string, jobs: number): number[] {
  const store = new SqliteJobStore(openDatabase(file));
  const ids: number[] = [];
  store.db.transaction(() => {
    for (let i = 0; i < jobs; i++) {
      store.enqueue(vmStart(`seed-${i}`));
      const c = store.claim('seed', 60_000)!;
      ids.push(store.complete(c.lease, { note: 'x'.repeat(200) }).id);
    }
  })();
  store.close();
  return ids;
}
