import type { TestContext } from 'node:test';
import { KvmopsError } from '../../src/domain/errors.js';
import type { HostDriver, Hypervisor } from '../../src/hypervisor/types.js';
import { EXECUTORS } from '../../src/kinds/index.js';
import type { Executor, ExecutorMap } from '../../src/kinds/index.js';

/**
 * For worker tests whose executors are injected (queue behaviour, not libvirt): a Hypervisor
 * that knows host names and nothing else. Any libvirt call fails loudly, so a test cannot pass
 * by accident through it — except the methods given in `methods`, for tests of what the real
 * executors ask of a host (e.g. the revert's request id). The crash-recovery test uses the real
 * hypervisor layer instead.
 */
export function namesOnlyHypervisor(names: string[] = ['local'], methods: Partial<HostDriver> = {}): Hypervisor {
  const host = (name: string): HostDriver =>
    new Proxy({ ...methods, name, uri: `test:///${name}` } as HostDriver, {
      get(target, prop) {
        if (prop in target) return target[prop as keyof HostDriver];
        if (prop === 'then') return undefined;
        return () => Promise.reject(new Error(`namesOnlyHypervisor: ${String(prop)} is not available in this test`));
      },
    });
  return {
    hostNames: () => names,
    host: (name?: string) => {
      const n = name ?? names[0]!;
      if (!names.includes(n)) throw new KvmopsError('host-not-found', `no host ${n}`);
      return host(n);
    },
  };
}

/** EXECUTORS with every kind replaced by `fn` (the tests enqueue real kinds with real payloads). */
export function allExecutors(fn: Executor<never>): ExecutorMap {
  return Object.fromEntries(Object.keys(EXECUTORS).map((k) => [k, fn])) as unknown as ExecutorMap;
}

export async function waitFor<T>(what: string, fn: () => T | undefined | false, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Resolves when the signal aborts; rejects with its reason, like a hypervisor call would. */
export function untilAborted(signal: AbortSignal): Promise<never> {
  return new Promise((_, reject) => {
    if (signal.aborted) return reject(signal.reason);
    signal.addEventListener('abort', () => reject(signal.reason), { once: true });
  });
}

/**
 * Clean-ups run last-in first-out, before anything registered with t.after later (node:test runs
 * after-hooks in registration order): call it first in a test, then open the store, so workers
 * and notifiers stop before the store closes.
 */
export function deferrals(t: TestContext): (fn: () => unknown) => void {
  const fns: Array<() => unknown> = [];
  t.after(async () => {
    for (const fn of fns.reverse()) await fn();
  });
  return (fn) => fns.push(fn);
}
