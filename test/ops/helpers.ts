import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import type { EnqueueRequest } from '../../src/jobs/types.js';
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
