import { snapshotCreatePayload } from '../src/kinds/snapshot-create.js';
import { MAX_DESCRIPTION, descriptionSchema } from '../src/domain/text.js';
import { defineCommand, subcommand } from '../src/chat/command.js';
import {
  hostOption,
  nameOption,
  readReply,
  pinSnapshot,
  pinVm,
  requireFree,
  requireVm,
  resolveHost,
  vmOption,
} from '../src/chat/command-kit.js';
import { choice, options, text } from '../src/chat/options.js';
import { enqueuesOnVms, vmTargetOption } from '../src/chat/vm-pattern.js';
import { pageOfLines, SNAPSHOT_PAGE, snapshotTree } from '../src/chat/format.js';

/**
 * /snapshot — a VM's state at a moment. internal: inside the qcow2; external: a new overlay
 * takes the writes. revert is destructive: it always waits for an approval (docs/commands.md).
 * create, revert and delete take a VM pattern too (`vm:web-*`): one job per VM, one batch, and
 * for revert one approval; a revert pattern reverts each VM to its own snapshot of that name.
 */

/** `vm` of revert and delete: the description Discord shows is unchanged (the registered JSON). */
const VM_OR_PATTERN = 'VM name';

/** The options of revert and delete: a VM and one of its snapshots. */
const ref = (snapshot: string) => options({ vm: vmTargetOption(VM_OR_PATTERN), name: nameOption(snapshot, 'snapshot'), host: hostOption });

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
      options: options({
        vm: vmTargetOption('VM to snapshot'),
        name: nameOption('Name of the new snapshot'),
        kind: choice('internal (default): inside the qcow2 file; external: a new overlay', snapshotCreatePayload.shape.kind).default('internal'),
        description: text('What this snapshot is for', descriptionSchema, { maxLength: MAX_DESCRIPTION }).optional(),
        host: hostOption,
      }),
      handle: enqueuesOnVms('snapshot.create', async (services, p) => {
        const pin = await pinVm(services, p.host, p.vm);
        await requireFree((fresh) => (fresh ? services.catalog.snapshots(p.host, p.vm, { fresh }) : services.catalog.knownSnapshots(p.host, p.vm)), [p.name], 'Snapshot', `on VM ${p.vm}`);
        return pin;
      }),
    }),
    subcommand({
      name: 'list',
      description: "List a VM's snapshots as a tree, 50 a page",
      role: 'viewer',
      mutates: false,
      defer: true,
      options: options({ vm: vmOption(), host: hostOption }),
      async handle({ options: o, services, offset }) {
        const host = resolveHost(services, o.host);
        await requireVm(services, host, o.vm);
        const snaps = await services.catalog.snapshots(host, o.vm, { fresh: true });
        // paged over the tree's lines (one per snapshot): a page may start inside a branch
        const { lines, page } = snaps.length ? pageOfLines(snapshotTree(snaps), offset, SNAPSHOT_PAGE) : { lines: snapshotTree(snaps), page: undefined };
        return { ...readReply(`Snapshots of ${o.vm} on ${host}`, lines), ...(page ? { page } : {}) };
      },
    }),
    subcommand({
      name: 'revert',
      description: 'Return a VM to a snapshot (waits for an approver)',
      role: 'operator',
      mutates: true,
      defer: true,
      options: ref('Snapshot to revert to'),
      handle: enqueuesOnVms('snapshot.revert', (services, p) => pinSnapshot(services, p.host, p.vm, p.name)),
    }),
    subcommand({
      name: 'delete',
      description: 'Delete a snapshot',
      role: 'operator',
      mutates: true,
      defer: true,
      options: ref('Snapshot to delete'),
      handle: enqueuesOnVms('snapshot.delete', (services, p) => pinSnapshot(services, p.host, p.vm, p.name)),
    }),
  ],
});
