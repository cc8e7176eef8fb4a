import { KvmopsError } from '../../domain/errors.js';
import { CommandError } from '../exec.js';
import type { DomainUuid } from '../domain-uuid.js';
import type { HostContext } from '../host-context.js';
import { virshArgs } from '../virsh-args.js';
import { elements, parseXml, serializeXml, type XmlElement } from '../xml.js';

/**
 * The reverts a VM has had, by request id, in its own libvirt metadata (persistent definition):
 *
 *   <kvmops-revert:revert xmlns:kvmops-revert='https://kvmops.dev/xmlns/1/revert'>
 *     <kvmops-revert:applied id='req-…' snapshot='before-upgrade' at='2026-…Z'/> …
 *     <kvmops-revert:applied id='req-…' snapshot='s2' at='…' then='start'>
 *       <kvmops-revert:file path='/var/lib/kvmops/vms/….qcow2'/>
 *     </kvmops-revert:applied>
 *   </kvmops-revert:revert>
 *
 * An entry is written at the point of no return — right after the disks were reverted, while
 * the VM is still shut off or paused, before the clean-up and the start — with what is left to
 * do: `then` (start or resume the VM) and the candidate files of the clean-up. A repeated call
 * with the same id only finishes those steps, then rewrites the entry without them. An entry
 * with neither is done (entries written before this format had neither).
 *
 * Kept with the VM itself, so the record and the reverted disks live and die together (and
 * reach a remote host through the same connection). The last KEEP ids are kept. A record that
 * cannot be read is `unexpected-output`: reverting twice is worse than refusing.
 */

export const REVERT_NS = 'https://kvmops.dev/xmlns/1/revert';
const KEY = 'kvmops-revert';
export const KEEP_REVERT_IDS = 64;

/** What a revert still has to do after its point of no return. */
export interface RevertPending {
  /** Bring the VM up again: `start` it (shut off by the revert) or `resume` it (paused). */
  then: 'start' | 'resume' | null;
  /** The clean-up's candidates: files of the VM's chains before the revert. */
  files: string[];
}

export interface RevertEntry {
  id: string;
  snapshot: string;
  at: string;
  /** Absent: the revert is done. */
  pending?: RevertPending;
}

/** `virsh metadata … --config` output (libvirt prints the element without its prefix). Pure. */
export function parseRevertRecord(xml: string): RevertEntry[] {
  const root = parseXml(xml);
  if (root.name.replace(/^[^:]*:/, '') !== 'revert') throw new KvmopsError('unexpected-output', `revert record: root is <${root.name}>`);
  return elements(root)
    .filter((e) => e.name.replace(/^[^:]*:/, '') === 'applied')
    .map((e) => {
      if (!e.attrs.id) throw new KvmopsError('unexpected-output', 'revert record: an entry without an id');
      const then = e.attrs.then ?? null;
      if (then !== null && then !== 'start' && then !== 'resume') throw new KvmopsError('unexpected-output', `revert record: then=${JSON.stringify(then)}`);
      const files = elements(e)
        .filter((f) => f.name.replace(/^[^:]*:/, '') === 'file')
        .map((f) => {
          if (!f.attrs.path) throw new KvmopsError('unexpected-output', 'revert record: a file without a path');
          return f.attrs.path;
        });
      const pending = then !== null || files.length > 0 || e.attrs.state === 'pending';
      return { id: e.attrs.id, snapshot: e.attrs.snapshot ?? '', at: e.attrs.at ?? '', ...(pending ? { pending: { then, files } } : {}) };
    });
}

/** The record after one more revert: appended, the oldest dropped beyond KEEP_REVERT_IDS. Pure. */
export function revertRecordXml(before: readonly RevertEntry[], entry: RevertEntry): string {
  const entries = [...before.filter((e) => e.id !== entry.id), entry].slice(-KEEP_REVERT_IDS);
  const root: XmlElement = {
    name: 'revert',
    attrs: {},
    children: entries.map((e) => ({
      name: 'applied',
      attrs: {
        id: e.id,
        snapshot: e.snapshot,
        at: e.at,
        ...(e.pending ? { state: 'pending', ...(e.pending.then ? { then: e.pending.then } : {}) } : {}),
      },
      children: (e.pending?.files ?? []).map((f) => ({ name: 'file', attrs: { path: f }, children: [] })),
    })),
  };
  return serializeXml(root);
}

export async function readRevertRecord(h: HostContext, vm: DomainUuid, signal?: AbortSignal): Promise<RevertEntry[]> {
  try {
    return parseRevertRecord(await h.virsh.run(virshArgs.metadataGet(vm, REVERT_NS), { timeoutMs: 30_000, signal }));
  } catch (e) {
    if (e instanceof CommandError && /metadata not found/i.test(e.stderr)) return [];
    throw e;
  }
}

/**
 * Adds `entry` to the record read before the revert (`before`: a native revert restores the
 * snapshot's definition, whose record may be older), replacing an entry of the same id. Not
 * bound to the job's signal: the revert is done, and an unrecorded revert would be done again.
 */
export async function writeRevertRecord(
  h: HostContext,
  vm: DomainUuid,
  before: readonly RevertEntry[],
  entry: { id: string; snapshot: string; pending?: RevertPending },
): Promise<void> {
  const xml = revertRecordXml(before, { ...entry, at: new Date().toISOString() });
  await h.virsh.run(virshArgs.metadataSet(vm, REVERT_NS, KEY, xml), { timeoutMs: 60_000 });
}
