import type { VmState } from '../hypervisor/types.js';
import type { ExecutorContext, InventoryChange } from './kind.js';

/**
 * How kinds read back what their job changed, for the inventory (kind.ts `inventory`): only the
 * objects the job touched, through `ctx.host.inventory` — O(their own disks), never the host.
 *
 * These reads never throw, and are not bound to the job's signal: the work is done and the job
 * succeeds whatever they find. A read that fails leaves a hint instead (`vm-stale`: the next
 * reconcile reads that VM whole) or nothing, where the reconcile's cheap diff sees the change
 * by itself (a new or a vanished VM or template name).
 */

/** The VM (its pinned uuid, else the one with the name) as it is now: `vm`, or `vm-gone`. */
export async function vmChanges(ctx: ExecutorContext, p: { host: string; vm: string; vmUuid?: string | undefined }): Promise<InventoryChange[]> {
  let uuid = p.vmUuid;
  try {
    uuid ??= (await ctx.host.inventory.listDomainStates()).find((d) => d.name === p.vm)?.uuid;
    if (uuid === undefined) return [];
    const [vm] = await ctx.host.inventory.readVms([{ uuid, name: p.vm }]);
    return [vm ? { type: 'vm', host: p.host, vm } : { type: 'vm-gone', host: p.host, uuid }];
  } catch {
    return uuid === undefined ? [] : [{ type: 'vm-stale', host: p.host, uuid }];
  }
}

/**
 * A VM whose state the job set (start, stop): only its state, no read-back. Its uuid is the
 * pinned one, else looked up by name (one cheap listing); unknown → nothing (the diff sees it).
 */
export async function vmStateChanges(
  ctx: ExecutorContext,
  p: { host: string; vm: string; vmUuid?: string | undefined },
  state: VmState,
): Promise<InventoryChange[]> {
  try {
    const uuid = p.vmUuid ?? (await ctx.host.inventory.listDomainStates()).find((d) => d.name === p.vm)?.uuid;
    return uuid === undefined ? [] : [{ type: 'vm-state', host: p.host, uuid, state }];
  } catch {
    return [];
  }
}

/** VMs a job made, by name: each read whole. Unreadable: nothing (the next diff sees them as new). */
export async function newVmChanges(ctx: ExecutorContext, host: string, names: readonly string[]): Promise<InventoryChange[]> {
  try {
    const wanted = new Set(names);
    const refs = (await ctx.host.inventory.listDomainStates()).filter((d) => wanted.has(d.name));
    return (await ctx.host.inventory.readVms(refs)).map((vm) => ({ type: 'vm', host, vm }));
  } catch {
    return [];
  }
}

/** The template of that name as it is now: `template`, or `template-gone`. Unreadable: nothing. */
export async function templateChanges(ctx: ExecutorContext, host: string, name: string): Promise<InventoryChange[]> {
  try {
    const [template] = await ctx.host.inventory.readTemplates([name]);
    return [template ? { type: 'template', host, template } : { type: 'template-gone', host, name }];
  } catch {
    return [];
  }
}
