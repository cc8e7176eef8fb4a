import { KvmopsError } from '../src/domain/errors.js';
import { defineCommand, subcommand } from '../src/chat/command.js';
import {
  enqueues,
  hostOption,
  listOnHost,
  nameOption,
  requireFree,
  requireTemplate,
  requireVm,
  vmOption,
} from '../src/chat/command-kit.js';
import { boolean, options } from '../src/chat/options.js';
import { templatePage } from '../src/chat/format.js';

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
      options: options({
        vm: vmOption('VM to make the template from (must be shut off)'),
        name: nameOption('Name of the new template'),
        seal: boolean('Wipe machine-specific state with virt-sysprep (default true)').default(true),
        host: hostOption,
      }),
      handle: enqueues('template.create', async (services, p) => {
        let vm = await requireVm(services, p.host, p.vm);
        // A VM stopped seconds ago may still be "running" in the cache: judge on a fresh read.
        if (vm.state !== 'shut off') vm = (await services.catalog.vm(p.host, p.vm, { fresh: true })) ?? vm;
        if (vm.state !== 'shut off') {
          throw new KvmopsError('vm-running', `VM "${p.vm}" is ${vm.state}; shut it off before making a template of it.`, {
            details: { host: p.host, vm: p.vm, state: vm.state },
          });
        }
        await requireFree((fresh) => services.catalog.templates(p.host, { fresh }), [p.name], 'Template', `on ${p.host}`);
        return { vmUuid: vm.uuid };
      }),
    }),
    listOnHost({
      description: 'List templates, 25 a page',
      what: 'Templates',
      read: (services, host) => services.catalog.listTemplates(host),
      page: templatePage,
      fromInventory: true,
    }),
    subcommand({
      name: 'delete',
      description: 'Delete a template (refused while thin VMs depend on it)',
      role: 'admin',
      mutates: true,
      defer: true,
      options: options({ name: nameOption('Template to delete', 'template'), host: hostOption }),
      handle: enqueues('template.delete', async (services, p) => {
        let t = await requireTemplate(services, p.host, p.name);
        if (t.dependents.length > 0) t = (await services.catalog.templates(p.host, { fresh: true })).find((x) => x.name === p.name) ?? t;
        if (t.dependents.length > 0) {
          throw new KvmopsError(
            'template-in-use',
            `Template "${p.name}" has thin VMs depending on it: ${t.dependents.join(', ')}. Delete them first.`,
            { details: { host: p.host, template: p.name, dependents: t.dependents } },
          );
        }
        return { createdAt: t.createdAt };
      }),
    }),
  ],
});
