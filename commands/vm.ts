import { defineCommand, subcommand } from '../src/chat/command.js';
import { enqueuesOnVms, vmTargetOption } from '../src/chat/vm-pattern.js';
import { hostOption, pinVm, readReply, requireVm, resolveHost, vmOption } from '../src/chat/command-kit.js';
import { boolean, options, text } from '../src/chat/options.js';
import { count, inventoryVmLines, nicLines, vmInfoLines, vmPageLines } from '../src/chat/format.js';
import type { InventoryVmRow, Services } from '../src/chat/services.js';
import { KvmopsError } from '../src/domain/errors.js';
import { matchesFilter, nameFilterSchema } from '../src/domain/name-filter.js';
import { MAX_NAME_LENGTH } from '../src/domain/names.js';

/**
 * /vm — libvirt domains on a host. delete removes the domain, its snapshots and its disks: it
 * always waits for an approval (docs/commands.md). start, stop and delete take a VM pattern too
 * (`vm:web-*`): one job per VM, one batch, and for delete one approval.
 */

/** VMs per `/vm list` page (docs/commands.md: "showing 1–50 of N"). */
const VM_PAGE = 50;

/**
 * One page of the host's VMs in name order, and how many match: from the inventory (one query,
 * its states: the reconcile and libvirt's events keep them true) — or, where no inventory runs
 * (command-layer tests), from one host read paged here the same way.
 */
async function vmPage(services: Services, host: string, offset: number, filter: string | undefined): Promise<{ vms: InventoryVmRow[]; total: number }> {
  if (services.inventory) return services.inventory.vmPage(host, { offset, limit: VM_PAGE, filter });
  const matches = filter === undefined ? () => true : matchesFilter(filter);
  const all = (await services.catalog.vms(host, { fresh: true }))
    .filter((v) => matches(v.name))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return { vms: all.slice(offset, offset + VM_PAGE), total: all.length };
}

/** "inventory: importing 1,200 / 3,000": said while what the inventory knows of `host` may be incomplete. */
function inventoryNote(services: Services, host: string): string[] {
  const status = services.inventory?.status(host);
  if (!status || status.importedAt !== null) return [];
  if (status.importing) return [`inventory: importing ${count(status.importing.done)} / ${count(status.importing.total)} — VMs not read yet are missing here`];
  return ['inventory: not imported yet — VMs not read yet are missing here'];
}

/** The options of a subcommand on one VM. */
const one = (vm: string) => options({ vm: vmOption(vm), host: hostOption });

/** The options of start and delete: a VM, or a pattern over the host's VM names (`web-*`: one job each, one batch). */
const some = (vm: string) => options({ vm: vmTargetOption(vm), host: hostOption });

export default defineCommand({
  name: 'vm',
  description: 'Virtual machines: list, info, start, stop, delete (needs approval)',
  subcommands: [
    subcommand({
      name: 'list',
      description: 'List VMs and their state, 50 a page (filter: part of the name, or a glob with * and ?)',
      role: 'viewer',
      mutates: false,
      // a database read: answered at once (the adapter still defers it if it takes long)
      defer: false,
      options: options({
        filter: text('Part of the name (web), or a glob over the whole name (web-*, db-0?)', nameFilterSchema, { maxLength: MAX_NAME_LENGTH }).optional(),
        host: hostOption,
      }),
      async handle({ options: o, services, offset }) {
        const host = resolveHost(services, o.host);
        const { vms, total } = await vmPage(services, host, offset, o.filter);
        const title = `VMs on ${host}${o.filter !== undefined ? ` matching "${o.filter}"` : ''}`;
        return { ...readReply(title, [...inventoryNote(services, host), ...vmPageLines(vms, { offset, total }, o.filter)]), page: { offset, limit: VM_PAGE, total } };
      },
    }),
    subcommand({
      name: 'info',
      description: 'Details of a VM: state, disks with their backing chain and template, snapshots',
      role: 'viewer',
      mutates: false,
      defer: true,
      options: one('VM name'),
      async handle({ options: o, services }) {
        const host = resolveHost(services, o.host);
        const inventory = services.inventory;
        if (!inventory) {
          await requireVm(services, host, o.vm);
          const info = await services.hypervisor.host(host).vmInfo(o.vm);
          return readReply(`VM ${info.name} on ${host}`, vmInfoLines(info));
        }
        // From the inventory; "not found" only after a pass that started after the ask (a VM made seconds ago is there).
        let vm = inventory.vmNamed(host, o.vm);
        if (!vm) {
          await inventory.refresh(host);
          vm = inventory.vmNamed(host, o.vm);
        }
        if (!vm) throw new KvmopsError('vm-not-found', `There is no VM "${o.vm}" on ${host}.`, { details: { host, vm: o.vm } });
        // Its NICs and addresses are read now, for this one VM (one virsh process): they change
        // with every boot and DHCP renewal, so the inventory does not keep them.
        const running = vm.state === 'running';
        const nics = await services.hypervisor
          .host(host)
          .vmNics([{ uuid: vm.uuid }], running ? {} : { sources: [] })
          .then((m) => nicLines(m.get(vm.uuid) ?? [], running))
          .catch((e: unknown) => [`network interfaces: could not be read (${e instanceof Error ? e.message : String(e)})`]);
        return readReply(`VM ${vm.name} on ${host}`, [...inventoryNote(services, host), ...inventoryVmLines(vm), ...nics]);
      },
    }),
    subcommand({
      name: 'start',
      description: 'Start a VM',
      role: 'operator',
      mutates: true,
      defer: true,
      options: some('VM to start'),
      handle: enqueuesOnVms('vm.start', (services, p) => pinVm(services, p.host, p.vm)),
    }),
    subcommand({
      name: 'stop',
      description: 'Stop a VM (ACPI shutdown, or destroy with force)',
      role: 'operator',
      mutates: true,
      defer: true,
      options: options({
        vm: vmTargetOption('VM to stop'),
        force: boolean('Destroy (power off) instead of an ACPI shutdown (default false)').default(false),
        host: hostOption,
      }),
      handle: enqueuesOnVms('vm.stop', (services, p) => pinVm(services, p.host, p.vm)),
    }),
    subcommand({
      name: 'delete',
      description: 'Delete a VM with its snapshots and disks (waits for an approver)',
      role: 'operator',
      mutates: true,
      defer: true,
      options: some('VM to delete'),
      handle: enqueuesOnVms('vm.delete', (services, p) => pinVm(services, p.host, p.vm)),
    }),
  ],
});
