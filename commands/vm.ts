import { defineCommand, subcommand } from '../src/chat/command.js';
import { enqueues, hostOption, listOnHost, pinVm, readReply, requireVm, resolveHost, vmOption } from '../src/chat/command-kit.js';
import { boolean, options } from '../src/chat/options.js';
import { vmInfoLines, vmTable } from '../src/chat/format.js';

/**
 * /vm — libvirt domains on a host. delete removes the domain, its snapshots and its disks: it
 * always waits for an approval (docs/commands.md).
 */

/** The options of a subcommand on one VM. */
const one = (vm: string) => options({ vm: vmOption(vm), host: hostOption });

export default defineCommand({
  name: 'vm',
  description: 'Virtual machines: list, info, start, stop, delete (needs approval)',
  subcommands: [
    listOnHost({
      description: 'List VMs and their state',
      what: 'VMs',
      read: (services, host) => services.catalog.vms(host, { fresh: true }),
      lines: vmTable,
    }),
    subcommand({
      name: 'info',
      description: 'Details of a VM: state, CPUs, memory, disks and their backing chain, snapshots',
      role: 'viewer',
      mutates: false,
      defer: true,
      options: one('VM name'),
      async handle({ options: o, services }) {
        const host = resolveHost(services, o.host);
        await requireVm(services, host, o.vm);
        const info = await services.hypervisor.host(host).vmInfo(o.vm);
        return readReply(`VM ${info.name} on ${host}`, vmInfoLines(info));
      },
    }),
    subcommand({
      name: 'start',
      description: 'Start a VM',
      role: 'operator',
      mutates: true,
      defer: true,
      options: one('VM to start'),
      handle: enqueues('vm.start', (services, p) => pinVm(services, p.host, p.vm)),
    }),
    subcommand({
      name: 'stop',
      description: 'Stop a VM (ACPI shutdown, or destroy with force)',
      role: 'operator',
      mutates: true,
      defer: true,
      options: options({
        vm: vmOption('VM to stop'),
        force: boolean('Destroy (power off) instead of an ACPI shutdown (default false)').default(false),
        host: hostOption,
      }),
      handle: enqueues('vm.stop', (services, p) => pinVm(services, p.host, p.vm)),
    }),
    subcommand({
      name: 'delete',
      description: 'Delete a VM with its snapshots and disks (waits for an approver)',
      role: 'operator',
      mutates: true,
      defer: true,
      options: one('VM to delete'),
      handle: enqueues('vm.delete', (services, p) => pinVm(services, p.host, p.vm)),
    }),
  ],
});
