import { setTimeout as sleep } from 'node:timers/promises';
import { isKvmopsError } from '../domain/errors.js';
import type { DomainUuid } from './domain-uuid.js';
import type { HostContext } from './host-context.js';
import type { MultiResult } from './multi.js';
import type { AddressSource, AddressWait, NicAddress, OpContext, VmNic } from './types.js';
import { virshArgs, type VirshArgs } from './virsh-args.js';
import { elements, parseXml, type XmlElement } from './xml.js';

/**
 * Where a VM can be reached: its NICs (from the definition) and their addresses, from libvirt's
 * DHCP leases, the guest agent and the host's ARP table — in that order of trust. A lease is
 * what libvirt itself handed out; the agent knows every NIC type but needs the agent running in
 * the guest; ARP only knows what talked lately. None of them is an error when it has nothing:
 * a guest without the agent, a NIC on a bridge libvirt does not run, a host whose ARP read fails
 * (seen in a network namespace: "wrong nlmsg len") simply give no address from that source.
 */

export const ADDRESS_SOURCES: readonly AddressSource[] = ['lease', 'agent', 'arp'];

/** NIC types whose address is worth waiting for: on a network or bridge the host can reach. */
const REACHABLE_TYPES = new Set(['network', 'bridge', 'direct']);

/** `<interface>`s of a domain definition: MAC, type and the network or bridge it is on. */
export function domainNics(root: XmlElement): Array<Omit<VmNic, 'addresses'>> {
  const out: Array<Omit<VmNic, 'addresses'>> = [];
  for (const devices of elements(root, 'devices')) {
    for (const nic of elements(devices, 'interface')) {
      const mac = elements(nic, 'mac')[0]?.attrs.address?.toLowerCase() ?? null;
      const src = elements(nic, 'source')[0]?.attrs;
      const type = nic.attrs.type ?? 'unknown';
      out.push({ mac, type, network: src?.network ?? src?.bridge ?? src?.dev ?? null });
    }
  }
  return out;
}

/** True when the VM has a NIC an address can come for (not QEMU's user-mode network). */
export function hasReachableNic(nics: ReadonlyArray<Pick<VmNic, 'type'>>): boolean {
  return nics.some((n) => REACHABLE_TYPES.has(n.type));
}

/**
 * `domifaddr --full`: `Name MAC address Protocol Address` rows; loopback and link-local
 * addresses left out (they reach nothing). Rows of a NIC with no address (`N/A`) are skipped.
 */
export function parseDomIfAddr(output: string, source: AddressSource): NicAddress[] {
  const lines = output.split('\n').filter((l) => l.trim() !== '');
  if (lines.length === 0) return [];
  const head = lines[0]!.trim().split(/\s+/).join(' ');
  if (head !== 'Name MAC address Protocol Address' || !/^-+$/.test(lines[1]?.trim() ?? '')) {
    throw new Error(`unexpected domifaddr output: ${output.slice(0, 200)}`);
  }
  const out: NicAddress[] = [];
  for (const l of lines.slice(2)) {
    const [, mac, protocol, cidr] = l.trim().split(/\s+/);
    if ((protocol !== 'ipv4' && protocol !== 'ipv6') || !mac || !cidr) continue;
    const [address, prefix] = cidr.split('/');
    if (!address || isUnreachable(protocol, address)) continue;
    out.push({ mac: mac.toLowerCase(), protocol, address, prefix: Number(prefix ?? (protocol === 'ipv4' ? 32 : 128)), source });
  }
  return out;
}

function isUnreachable(protocol: 'ipv4' | 'ipv6', a: string): boolean {
  if (protocol === 'ipv4') return a.startsWith('127.') || a.startsWith('169.254.') || a === '0.0.0.0';
  const l = a.toLowerCase();
  return l === '::1' || l.startsWith('fe80:') || l === '::';
}

/** Addresses from the sources' results, per MAC, each address once (the most trusted source wins). */
export function mergeAddresses(nics: ReadonlyArray<Omit<VmNic, 'addresses'>>, found: readonly NicAddress[]): VmNic[] {
  const byMac = new Map<string, NicAddress[]>();
  for (const a of [...found].sort((x, y) => ADDRESS_SOURCES.indexOf(x.source) - ADDRESS_SOURCES.indexOf(y.source))) {
    const list = byMac.get(a.mac) ?? [];
    if (!list.some((b) => b.address === a.address)) list.push(a);
    byMac.set(a.mac, list);
  }
  return nics.map((n) => ({ ...n, addresses: (n.mac ? byMac.get(n.mac) : undefined) ?? [] }));
}

/** The address to show first: an IPv4 from the most trusted source, NIC order. */
export function firstIpv4(nics: readonly VmNic[]): NicAddress | undefined {
  for (const source of ADDRESS_SOURCES) {
    for (const n of nics) {
      const a = n.addresses.find((x) => x.protocol === 'ipv4' && x.source === source);
      if (a) return a;
    }
  }
  return undefined;
}

/**
 * Addresses of running domains, every source, in ONE virsh process for all of them. A source
 * that fails for a domain (no agent, no lease table, ARP unreadable) gives nothing; a domain
 * that vanished meanwhile gives nothing.
 */
export async function readAddresses(
  h: HostContext,
  vms: ReadonlyArray<{ uuid: DomainUuid; nics: ReadonlyArray<Omit<VmNic, 'addresses'>> }>,
  ctx: OpContext = {},
  sources: readonly AddressSource[] = ADDRESS_SOURCES,
): Promise<Map<DomainUuid, VmNic[]>> {
  const cmds: Array<{ uuid: DomainUuid; source: AddressSource; args: VirshArgs }> = [];
  for (const vm of vms) for (const source of sources) cmds.push({ uuid: vm.uuid, source, args: virshArgs.domifaddr(vm.uuid, source) });
  const results: MultiResult[] = cmds.length ? await h.virsh.multi(cmds.map((c) => c.args), { timeoutMs: 30_000, signal: ctx.signal }) : [];
  const found = new Map<DomainUuid, NicAddress[]>();
  results.forEach((r, i) => {
    const { uuid, source } = cmds[i]!;
    found.set(uuid, [...(found.get(uuid) ?? []), ...addressesFrom(r, source)]);
  });
  return new Map(vms.map((vm) => [vm.uuid, mergeAddresses(vm.nics, found.get(vm.uuid) ?? [])]));
}

/**
 * One source's answer for one domain: its addresses, or none when the source has nothing to say
 * (an error, output kvmops does not understand). A host that cannot be reached is the caller's
 * error, not "no address".
 */
function addressesFrom(r: MultiResult, source: AddressSource): NicAddress[] {
  if (r.error) {
    if (isKvmopsError(r.error) && r.error.code === 'host-unreachable') throw r.error;
    return [];
  }
  try {
    return parseDomIfAddr(r.stdout, source);
  } catch {
    return [];
  }
}

export interface WaitOptions extends OpContext {
  timeoutMs: number;
  /** Between reads. Default 2 s. */
  intervalMs?: number;
}

/**
 * The bounded wait behind `/deploy start:true` and `/vm start`: reads the definitions once (which
 * NICs can get an address), then every `intervalMs` the addresses of the VMs still without an
 * IPv4 — all of them in one virsh process — until each has one, or `timeoutMs` passed, or the
 * signal fired (then: what is known). A VM not running or with no reachable NIC is not waited for.
 */
export async function waitForAddresses(h: HostContext, vms: ReadonlyArray<{ uuid: DomainUuid; name: string }>, opts: WaitOptions): Promise<AddressWait[]> {
  const { timeoutMs, intervalMs = 2000, signal, onProgress } = opts;
  const deadline = Date.now() + timeoutMs;
  const defs = await h.virsh.multi(
    vms.flatMap((v) => [virshArgs.domstate(v.uuid), virshArgs.dumpxml(v.uuid)]),
    { timeoutMs: 30_000, signal },
  );
  const out = new Map<DomainUuid, AddressWait>();
  const pending: Array<{ uuid: DomainUuid; name: string; nics: Array<Omit<VmNic, 'addresses'>> }> = [];
  vms.forEach((v, i) => {
    const state = defs[2 * i]!;
    const xml = defs[2 * i + 1]!;
    if (state.error || !/^running\b/.test(state.stdout.trim()) || xml.error) return void out.set(v.uuid, { vm: v.name, uuid: v.uuid, missing: 'not-running' });
    const nics = domainNics(parseXml(xml.stdout));
    if (!hasReachableNic(nics)) return void out.set(v.uuid, { vm: v.name, uuid: v.uuid, missing: 'no-network' });
    pending.push({ ...v, nics });
  });
  const total = pending.length;
  const report = () => onProgress?.({ step: `waiting for addresses ${total - pending.length}/${total}`, fraction: total ? (total - pending.length) / total : 1 });
  while (pending.length && !signal?.aborted) {
    report();
    const read = await readAddresses(h, pending, { ...(signal ? { signal } : {}) }).catch((e: unknown) => {
      if (signal?.aborted) return new Map<DomainUuid, VmNic[]>();
      throw e;
    });
    for (let i = pending.length - 1; i >= 0; i--) {
      const p = pending[i]!;
      const first = firstIpv4(read.get(p.uuid) ?? []);
      if (first) {
        out.set(p.uuid, { vm: p.name, uuid: p.uuid, address: first });
        pending.splice(i, 1);
      }
    }
    if (!pending.length || Date.now() + intervalMs > deadline) break;
    // an abort ends the pause early; the loop then stops with what is known
    await sleep(intervalMs, undefined, signal ? { signal } : {}).catch(() => {});
  }
  for (const p of pending) out.set(p.uuid, { vm: p.name, uuid: p.uuid, missing: 'timeout' });
  if (total) report();
  return vms.map((v) => out.get(v.uuid)!);
}


/** NICs and addresses of these domains now: their definitions and every source, in one virsh process. */
export async function nicsNow(
  h: HostContext,
  vms: ReadonlyArray<{ uuid: DomainUuid }>,
  ctx: OpContext = {},
  sources: readonly AddressSource[] = ADDRESS_SOURCES,
): Promise<Map<DomainUuid, VmNic[]>> {
  if (vms.length === 0) return new Map();
  const cmds = vms.flatMap((v) => [virshArgs.dumpxml(v.uuid), ...sources.map((s) => virshArgs.domifaddr(v.uuid, s))]);
  const rs = await h.virsh.multi(cmds, { timeoutMs: 30_000, signal: ctx.signal });
  const out = new Map<DomainUuid, VmNic[]>();
  const per = 1 + sources.length;
  vms.forEach((v, i) => {
    const xml = rs[i * per]!;
    if (xml.error) {
      if (isKvmopsError(xml.error) && xml.error.code === 'host-unreachable') throw xml.error;
      return; // gone meanwhile
    }
    const found = sources.flatMap((source, j) => addressesFrom(rs[i * per + 1 + j]!, source));
    out.set(v.uuid, mergeAddresses(domainNics(parseXml(xml.stdout)), found));
  });
  return out;
}
