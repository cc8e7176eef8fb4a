import { z } from 'zod';
import { deployPayload } from '../src/kinds/deploy.js';
import { deployNames } from '../src/domain/names.js';
import { defineCommand, subcommand } from '../src/chat/command.js';
import {
  enqueueAndReply,
  flag,
  hostField,
  hostOption,
  nameField,
  parsePayload,
  requireFree,
  requireTemplate,
  resolveHost,
} from '../src/chat/command-kit.js';

/**
 * /deploy — make VMs from a template. thin: qcow2 overlays backed by the template's disks;
 * clone: full copies. count > 1 names them `name-01` … `name-NN` (CONTRACT.md).
 */
const schema = z
  .object({
    template: nameField,
    name: nameField,
    mode: z.enum(['thin', 'clone']).default('thin'),
    count: z.number().int().min(1).max(20).default(1),
    start: flag(false),
    host: hostField,
  })
  .strict();

export default defineCommand({
  name: 'deploy',
  description: 'Deploy VMs from a template (thin: linked overlay, clone: full copy)',
  flat: true,
  subcommands: [
    subcommand({
      name: 'deploy',
      description: 'Deploy VMs from a template (thin: linked overlay, clone: full copy)',
      role: 'operator',
      mutates: true,
      defer: true,
      options: [
        { name: 'template', description: 'Template to deploy from', type: 'string', required: true, maxLength: 63, autocomplete: 'template' },
        { name: 'name', description: 'Name of the new VM (with count > 1: name-01 … name-NN)', type: 'string', required: true, minLength: 1, maxLength: 63 },
        {
          name: 'mode',
          description: 'thin (default): linked to the template; clone: independent full copy',
          type: 'string',
          choices: [
            { name: 'thin', value: 'thin' },
            { name: 'clone', value: 'clone' },
          ],
        },
        { name: 'count', description: 'How many VMs (1–20, default 1)', type: 'integer', minValue: 1, maxValue: 20 },
        { name: 'start', description: 'Start the VMs once made (default false)', type: 'boolean' },
        hostOption,
      ],
      schema,
      async handle(ctx) {
        const { options: o, services } = ctx;
        const host = resolveHost(services, o.host);
        const payload = parsePayload(deployPayload, { host, template: o.template, name: o.name, mode: o.mode, count: o.count, start: o.start });
        await requireTemplate(services, host, o.template);
        await requireFree((fresh) => services.catalog.vms(host, { fresh }), deployNames(o.name, o.count), 'VM', `on ${host}`);
        return enqueueAndReply(ctx, 'deploy', payload);
      },
    }),
  ],
});
