import { z } from 'zod';
import { snapshotCreatePayload } from '../src/kinds/snapshot-create.js';
import { snapshotRefPayload } from '../src/kinds/snapshot-ref.js';
import { MAX_DESCRIPTION, descriptionSchema } from '../src/domain/text.js';
import { defineCommand, subcommand } from '../src/chat/command.js';
import {
  enqueueAndReply,
  hostField,
  hostOption,
  nameField,
  nameOption,
  parsePayload,
  readReply,
  requireFree,
  requireSnapshot,
  requireVm,
  resolveHost,
  vmOption,
} from '../src/chat/command-kit.js';
import { snapshotTree } from '../src/chat/format.js';

/**
 * /snapshot — a VM's state at a moment. internal: inside the qcow2; external: a new overlay
 * takes the writes. revert is destructive: it always waits for an approval (CONTRACT.md).
 */
const ref = z.object({ vm: nameField, name: nameField, host: hostField }).strict();

export default defineCommand({
  name: 'snapshot',
  description: 'Snapshots of a VM: create, list, revert (needs approval), delete',
  subcommands: [
    subcommand({
      name: 'create',
      description: 'Take a snapshot of a VM',
      role: 'operator',
      mutates: true,
      defer: true,
      options: [
        vmOption('VM to snapshot'),
        nameOption('Name of the new snapshot'),
        {
          name: 'kind',
          description: 'internal (default): inside the qcow2 file; external: a new overlay',
          type: 'string',
          choices: [
            { name: 'internal', value: 'internal' },
            { name: 'external', value: 'external' },
          ],
        },
        { name: 'description', description: 'What this snapshot is for', type: 'string', maxLength: MAX_DESCRIPTION },
        hostOption,
      ],
      schema: z
        .object({
          vm: nameField,
          name: nameField,
          kind: z.enum(['internal', 'external']).default('internal'),
          description: descriptionSchema.optional(),
          host: hostField,
        })
        .strict(),
      async handle(ctx) {
        const { options: o, services } = ctx;
        const host = resolveHost(services, o.host);
        const payload = parsePayload(snapshotCreatePayload, {
          host,
          vm: o.vm,
          name: o.name,
          kind: o.kind,
          ...(o.description !== undefined ? { description: o.description } : {}),
        });
        await requireVm(services, host, o.vm);
        await requireFree((fresh) => services.catalog.snapshots(host, o.vm, { fresh }), [o.name], 'Snapshot', `on VM ${o.vm}`);
        return enqueueAndReply(ctx, 'snapshot.create', payload);
      },
    }),
    subcommand({
      name: 'list',
      description: "List a VM's snapshots as a tree",
      role: 'viewer',
      mutates: false,
      defer: true,
      options: [vmOption(), hostOption],
      schema: z.object({ vm: nameField, host: hostField }).strict(),
      async handle({ options: o, services }) {
        const host = resolveHost(services, o.host);
        await requireVm(services, host, o.vm);
        const snaps = await services.catalog.snapshots(host, o.vm, { fresh: true });
        return readReply(`Snapshots of ${o.vm} on ${host}`, snapshotTree(snaps));
      },
    }),
    subcommand({
      name: 'revert',
      description: 'Return a VM to a snapshot (waits for an approver)',
      role: 'operator',
      mutates: true,
      defer: true,
      options: [vmOption(), nameOption('Snapshot to revert to', 'snapshot'), hostOption],
      schema: ref,
      async handle(ctx) {
        const { options: o, services } = ctx;
        const host = resolveHost(services, o.host);
        const payload = parsePayload(snapshotRefPayload, { host, vm: o.vm, name: o.name });
        await requireSnapshot(services, host, o.vm, o.name);
        return enqueueAndReply(ctx, 'snapshot.revert', payload);
      },
    }),
    subcommand({
      name: 'delete',
      description: 'Delete a snapshot',
      role: 'operator',
      mutates: true,
      defer: true,
      options: [vmOption(), nameOption('Snapshot to delete', 'snapshot'), hostOption],
      schema: ref,
      async handle(ctx) {
        const { options: o, services } = ctx;
        const host = resolveHost(services, o.host);
        const payload = parsePayload(snapshotRefPayload, { host, vm: o.vm, name: o.name });
        await requireSnapshot(services, host, o.vm, o.name);
        return enqueueAndReply(ctx, 'snapshot.delete', payload);
      },
    }),
  ],
});
