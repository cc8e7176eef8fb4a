import { z } from 'zod';
import { KvmopsError } from '../src/domain/errors.js';
import { templateCreatePayload } from '../src/kinds/template-create.js';
import { templateDeletePayload } from '../src/kinds/template-delete.js';
import { defineCommand, subcommand } from '../src/chat/command.js';
import {
  enqueueAndReply,
  flag,
  hostField,
  hostOption,
  nameField,
  nameOption,
  parsePayload,
  readReply,
  requireFree,
  requireTemplate,
  requireVm,
  resolveHost,
  vmOption,
} from '../src/chat/command-kit.js';
import { templateList } from '../src/chat/format.js';

/**
 * /template — master copies of prepared VMs. Rules from oVirt/Proxmox: made from a VM that is
 * shut off; a template with thin dependents cannot be deleted (checked here for a quick answer,
 * and again by the executor, which is what actually guarantees it).
 */
export default defineCommand({
  name: 'template',
  description: 'Templates: master copies of prepared VMs',
  subcommands: [
    subcommand({
      name: 'create',
      description: 'Make a template from a shut-off VM',
      role: 'admin',
      mutates: true,
      defer: true,
      options: [
        vmOption('VM to make the template from (must be shut off)'),
        nameOption('Name of the new template'),
        { name: 'seal', description: 'Wipe machine-specific state with virt-sysprep (default true)', type: 'boolean' },
        hostOption,
      ],
      schema: z.object({ vm: nameField, name: nameField, seal: flag(true), host: hostField }).strict(),
      async handle(ctx) {
        const { options: o, services } = ctx;
        const host = resolveHost(services, o.host);
        const payload = parsePayload(templateCreatePayload, { host, vm: o.vm, name: o.name, seal: o.seal });
        let vm = await requireVm(services, host, o.vm);
        // A VM stopped seconds ago may still be "running" in the cache: judge on a fresh read.
        if (vm.state !== 'shut off') vm = (await services.catalog.vms(host, { fresh: true })).find((v) => v.name === o.vm) ?? vm;
        if (vm.state !== 'shut off') {
          throw new KvmopsError('vm-running', `VM "${o.vm}" is ${vm.state}; shut it off before making a template of it.`, {
            details: { host, vm: o.vm, state: vm.state },
          });
        }
        await requireFree((fresh) => services.catalog.templates(host, { fresh }), [o.name], 'Template', `on ${host}`);
        return enqueueAndReply(ctx, 'template.create', payload);
      },
    }),
    subcommand({
      name: 'list',
      description: 'List templates',
      role: 'viewer',
      mutates: false,
      defer: true,
      options: [hostOption],
      schema: z.object({ host: hostField }).strict(),
      async handle({ options: o, services }) {
        const host = resolveHost(services, o.host);
        // An explicit list reads the host (and refreshes the cache): the user wants the truth.
        const templates = await services.catalog.templates(host, { fresh: true });
        return readReply(`Templates on ${host}`, templateList(templates));
      },
    }),
    subcommand({
      name: 'delete',
      description: 'Delete a template (refused while thin VMs depend on it)',
      role: 'admin',
      mutates: true,
      defer: true,
      options: [nameOption('Template to delete', 'template'), hostOption],
      schema: z.object({ name: nameField, host: hostField }).strict(),
      async handle(ctx) {
        const { options: o, services } = ctx;
        const host = resolveHost(services, o.host);
        const payload = parsePayload(templateDeletePayload, { host, name: o.name });
        let t = await requireTemplate(services, host, o.name);
        if (t.dependents.length > 0) t = (await services.catalog.templates(host, { fresh: true })).find((x) => x.name === o.name) ?? t;
        if (t.dependents.length > 0) {
          throw new KvmopsError(
            'template-in-use',
            `Template "${o.name}" has thin VMs depending on it: ${t.dependents.join(', ')}. Delete them first.`,
            { details: { host, template: o.name, dependents: t.dependents } },
          );
        }
        return enqueueAndReply(ctx, 'template.delete', payload);
      },
    }),
  ],
});
