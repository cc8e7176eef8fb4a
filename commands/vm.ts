import { z } from 'zod';
import { vmPayload } from '../src/kinds/vm-ref.js';
import { vmStopPayload } from '../src/kinds/vm-stop.js';
import { defineCommand, subcommand } from '../src/chat/command.js';
import {
  enqueueAndReply,
  flag,
  hostField,
  hostOption,
  nameField,
  parsePayload,
  readReply,
  requireVm,
  resolveHost,
  vmOption,
} from '../src/chat/command-kit.js';
import { vmInfoLines, vmTable } from '../src/chat/format.js';

/**
 * /vm — libvirt domains on a host. delete removes the domain, its snapshots and its disks: it
 * always waits for an approval (CONTRACT.md).
 */
const one = z.object({ vm: nameField, host: hostField }).strict();

export default defineCommand({
  name: 'vm',
  description: 'Virtual machines: list, info, start, stop, delete (needs approval)',
  subcommands: [
    subcommand({
      name: 'list',
      description: 'List VMs and their state',
      role: 'viewer',
      mutates: false,
      defer: true,
      options: [hostOption],
      schema: z.object({ host: hostField }).strict(),
      async handle({ options: o, services }) {
        const host = resolveHost(services, o.host);
        const vms = await services.catalog.vms(host, { fresh: true });
        return readReply(`VMs on ${host}`, vmTable(vms));
      },
    }),
    subcommand({
      name: 'info',
      description: 'Details of a VM: state, CPUs, memory, disks and their backing chain, snapshots',
      role: 'viewer',
      mutates: false,
      defer: true,
      options: [vmOption(), hostOption],
      schema: one,
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
      options: [vmOption('VM to start'), hostOption],
      schema: one,
      async handle(ctx) {
        const { options: o, services } = ctx;
        const host = resolveHost(services, o.host);
        const payload = parsePayload(vmPayload, { host, vm: o.vm });
        await requireVm(services, host, o.vm);
        return enqueueAndReply(ctx, 'vm.start', payload);
      },
    }),
    subcommand({
      name: 'stop',
      description: 'Stop a VM (ACPI shutdown, or destroy with force)',
      role: 'operator',
      mutates: true,
      defer: true,
      options: [
        vmOption('VM to stop'),
        { name: 'force', description: 'Destroy (power off) instead of an ACPI shutdown (default false)', type: 'boolean' },
        hostOption,
      ],
      schema: z.object({ vm: nameField, force: flag(false), host: hostField }).strict(),
      async handle(ctx) {
        const { options: o, services } = ctx;
        const host = resolveHost(services, o.host);
        const payload = parsePayload(vmStopPayload, { host, vm: o.vm, force: o.force });
        await requireVm(services, host, o.vm);
        return enqueueAndReply(ctx, 'vm.stop', payload);
      },
    }),
    subcommand({
      name: 'delete',
      description: 'Delete a VM with its snapshots and disks (waits for an approver)',
      role: 'operator',
      mutates: true,
      defer: true,
      options: [vmOption('VM to delete'), hostOption],
      schema: one,
      async handle(ctx) {
        const { options: o, services } = ctx;
        const host = resolveHost(services, o.host);
        const payload = parsePayload(vmPayload, { host, vm: o.vm });
        await requireVm(services, host, o.vm);
        return enqueueAndReply(ctx, 'vm.delete', payload);
      },
    }),
  ],
});
