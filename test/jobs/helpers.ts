import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { openJobStore, type SqliteJobStore, type StoreOptions } from '../../src/jobs/store.js';
import type { EnqueueRequest, NotifyTarget, Requester } from '../../src/jobs/types.js';

export const alice: Requester = { id: '100', name: 'alice' };
export const bob: Requester = { id: '200', name: 'bob' };
export const notify: NotifyTarget = { adapter: 'shell', guildId: null, channelId: 'ops' };

/** A fresh database file in its own temp directory, removed after the test. */
export function tempDbFile(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'kvmops-jobs-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return join(dir, 'data', 'kvmops.db');
}

export function openStore(t: TestContext, file: string, opts: StoreOptions = {}): SqliteJobStore {
  const store = openJobStore(file, opts);
  t.after(() => {
    if (store.db.open) store.close();
  });
  return store;
}

export function freshStore(t: TestContext, opts: StoreOptions = {}): SqliteJobStore {
  return openStore(t, tempDbFile(t), opts);
}

/** A clock tests move by hand. */
export class Clock {
  constructor(public t = 1_700_000_000_000) {}
  readonly now = (): number => this.t;
  advance(ms: number): void {
    this.t += ms;
  }
}

export function snapshotCreate(vm: string, name: string, extra: Partial<EnqueueRequest> = {}): EnqueueRequest {
  return {
    kind: 'snapshot.create',
    payload: { host: 'local', vm, name, kind: 'internal' },
    requester: alice,
    notify,
    ...extra,
  };
}

/** Identities as the chat pins them (these tests' hosts never check them). */
export const PINNED = { vmUuid: '0f8e4c2a-9b1d-4e7f-8a3c-5d6b7e8f9a0b', snapshot: { createdAt: 1_765_000_000, files: [] as string[] } };

export function snapshotRevert(vm: string, name: string, extra: Partial<EnqueueRequest> = {}): EnqueueRequest {
  return { kind: 'snapshot.revert', payload: { host: 'local', vm, name, ...PINNED }, requester: alice, notify, ...extra };
}

export function vmStart(vm: string, host = 'local'): EnqueueRequest {
  return { kind: 'vm.start', payload: { host, vm }, requester: alice, notify };
}

/** Runs a fixture in its own Node process; resolves with its stdout lines parsed as JSON. */
export function runFixture(name: string, args: string[]): Promise<Array<Record<string, unknown>>> {
  const script = fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`${name} exited ${code}: ${err}`));
      resolve(out.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>));
    });
  });
}

/**
 * Runs several fixture processes that start their work at the same instant: each is given GOFILE
 * as its last argument, creates GOFILE.<pid>.ready once set up, and waits for GOFILE to exist
 * (see `waitForGo`). Starting a process with tsx takes about a second, so without this the
 * first would be done before the last began.
 */
export async function runTogether(name: string, argsList: string[][], dbFile: string): Promise<Array<Array<Record<string, unknown>>>> {
  const go = `${dbFile}.go`;
  const runs = Promise.all(argsList.map((args) => runFixture(name, [...args, go])));
  let failed: unknown;
  runs.catch((e: unknown) => (failed = e));
  const dir = dirname(dbFile);
  while (readdirSync(dir).filter((f) => f.endsWith('.ready')).length < argsList.length && failed === undefined) await sleep(5);
  writeFileSync(go, '');
  return runs;
}
