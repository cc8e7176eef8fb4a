import { setTimeout as sleep } from 'node:timers/promises';
import { isKvmopsError, KvmopsError } from '../domain/errors.js';
import { followVirshEvents } from './multi.js';
import type { DomainEvent, EventWatch } from './types.js';

/**
 * libvirt's own event stream, one long-lived `virsh event --all --loop` per host, kept running:
 * started again at once when it ends by its own bound (`seconds`), and with a growing pause
 * (backoff) when it dies (libvirtd restarted, the connection dropped, someone killed it); stopped
 * by the caller's abort signal, which kills the child (exec.ts).
 *
 * An event is a HINT, never the truth: it names a domain (by name — virsh prints no uuid) and what
 * happened to it; the caller reads the host again (src/inventory/reconcile.ts). Events that occur
 * while no stream runs are lost, so every (re)start is reported (`onStart`): the caller then
 * reads the host again whole-listing. A snapshot taken of a shut-off domain raises no event at
 * all (libvirt has none for it): the reconcile's timer and rotation still catch it.
 */

// 2026-12-07 21:22:57.608+0000: event 'lifecycle' for domain 'web-01': Defined Added
const EVENT_LINE = /^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3})([+-]\d\d)(\d\d): event '([^']+)' for domain '(.+?)'(?:: (.*))?$/;

/** One line of `virsh event --timestamp` → an event; null for anything else (continuation lines, the count at the end). Pure. */
export function parseEventLine(line: string): DomainEvent | null {
  const m = EVENT_LINE.exec(line.trimEnd());
  if (!m) return null;
  const at = Date.parse(`${m[1]!.replace(' ', 'T')}${m[2]}:${m[3]}`);
  return { at: Number.isFinite(at) ? at : null, type: m[4]!, domain: m[5]!, detail: m[6] ?? '' };
}

/** A stream that ran at least this long before it died starts the failure count again. */
const HEALTHY_MS = 60_000;

/** Runs streams on `uri` one after another until `signal` aborts; resolves then (never rejects). */
export async function watchDomainEvents(uri: string, w: EventWatch): Promise<void> {
  const { baseMs, capMs } = w.backoff ?? { baseMs: 1_000, capMs: 60_000 };
  let failures = 0;
  while (!w.signal.aborted) {
    let startedAt: number | null = null;
    try {
      await followVirshEvents(uri, {
        seconds: w.seconds ?? 3600,
        signal: w.signal,
        onLine: (line) => {
          const event = parseEventLine(line);
          if (event) w.onEvent(event);
        },
        onSpawn: (pid) => {
          startedAt = performance.now();
          w.onStart?.(pid);
        },
      });
      failures = 0;
      w.onEnd?.(null, 0);
    } catch (e) {
      if (w.signal.aborted) break;
      if (startedAt !== null && performance.now() - startedAt >= HEALTHY_MS) failures = 0;
      failures++;
      const delay = Math.min(capMs, baseMs * 2 ** Math.min(failures - 1, 20));
      w.onEnd?.(isKvmopsError(e) ? e : new KvmopsError('internal', String(e), { cause: e }), delay);
      try {
        await sleep(delay, undefined, { signal: w.signal });
      } catch {
        break; // aborted while waiting
      }
    }
  }
}
