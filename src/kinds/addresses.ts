import type { AddressWait, VmTarget } from '../hypervisor/types.js';
import { opOf, str, type ExecutorContext, type StoredResult } from './kind.js';

/**
 * The address part of a start (`deploy start:true`, `vm.start`): after the VMs run, a bounded
 * wait for each one's IPv4 (the host's KVMOPS_ADDRESS_WAIT), kept in the result and shown in the
 * completion. Never a failure: a VM without an address in time is said to have none yet.
 */

/** One VM's address as a result keeps it (JSON). */
export interface ResultAddress {
  vm: string;
  address?: string;
  source?: string;
  missing?: AddressWait['missing'];
}

/**
 * Waits for the VMs' addresses; a cancel or stop during the wait ends it with what is known. It
 * never throws: the VMs are made and running, and a job that did its work must say so — a host
 * that cannot be asked makes the addresses `unreadable`, not the job failed (and run again).
 */
export async function waitAddresses(ctx: ExecutorContext, vms: ReadonlyArray<string | VmTarget>): Promise<ResultAddress[]> {
  let waits: AddressWait[];
  try {
    waits = await ctx.host.waitForAddresses(vms, opOf(ctx));
  } catch {
    waits = vms.map((v) => ({ vm: typeof v === 'string' ? v : v.vm, uuid: '', missing: ctx.signal.aborted ? 'timeout' : 'unreadable' }));
  }
  return waits.map((w) => ({
    vm: w.vm,
    ...(w.address ? { address: w.address.address, source: w.address.source } : {}),
    ...(w.missing ? { missing: w.missing } : {}),
  }));
}

/** ` 198.19.1.89`, ` (no address yet)`, or '' (no address asked for, or no network NIC). */
export function addressNote(r: StoredResult, vm: string): string {
  const list = Array.isArray(r.addresses) ? (r.addresses as unknown[]) : [];
  const a = list.find((x): x is Record<string, unknown> => typeof x === 'object' && x !== null && (x as { vm?: unknown }).vm === vm);
  if (!a) return '';
  if (typeof a.address === 'string') return ` ${a.address}`;
  if (a.missing === 'timeout') return ' (no address yet)';
  return '';
}

/**
 * The VM names of a result, each with its address when the result has them: `web-01
 * 198.19.1.89, web-02`. Two VMs reported at one address share a DHCP identity — a template made
 * from a VM that had booted, unsealed, carries its machine-id into every clone — and the text
 * says so, since only one of them can really be reached there.
 */
export function vmsWithAddresses(r: StoredResult, vms: readonly unknown[]): string {
  const notes = vms.map((v) => addressNote(r, str(v)));
  const text = vms.map((v, i) => `${str(v)}${notes[i]}`).join(', ');
  const seen = notes.filter((n) => /^ \d/.test(n));
  return new Set(seen).size < seen.length ? `${text} — one address given to two VMs: they share a machine identity (seal the template)` : text;
}
