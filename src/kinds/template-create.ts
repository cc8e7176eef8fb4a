import { z } from 'zod';
import { hostNameSchema, templateNameSchema, vmNameSchema } from '../domain/names.js';
import { holds, templateResource, vmResource } from '../domain/resources.js';
import type { TemplateInfo } from '../hypervisor/types.js';
import { templateChanges } from './inventory.js';
import { defineKind, onHost, opOf, str } from './kind.js';
import { pinnedVm, vmTargetOf, vmUuidSchema } from './vm-ref.js';

export const templateCreatePayload = z
  .object({ host: hostNameSchema, vm: vmNameSchema, name: templateNameSchema, seal: z.boolean(), vmUuid: vmUuidSchema.optional() })
  .strict();

function templateResult(t: TemplateInfo) {
  return { template: { name: t.name, sourceVm: t.sourceVm, sealed: t.sealed, cloudInit: t.cloudInit, disks: t.disks.length } };
}

/** A template from a shut-off VM: disks flattened and copied, identity removed, optionally sealed. */
export const templateCreate = defineKind({
  name: 'template.create',
  payload: templateCreatePayload,
  needsApproval: false,
  // The source VM is only read (its disks are copied; sealing works on the copy).
  resources: (p) => [holds(vmResource(p.host, p.vm), 'shared'), holds(templateResource(p.host, p.name), 'exclusive', true)],
  describe: (p) => `Create template ${p.name} from ${p.vm}${p.seal ? ' (sealed)' : ''} ${onHost(p)}`,
  pinned: (p) => (p.vmUuid ? [`source VM ${pinnedVm(p)}`] : []),
  summary: (r) => {
    const t = r.template as Record<string, unknown> | undefined;
    // cloud-init said when known: whether its VMs' seeds (hostname, keys, a profile) will apply
    const ci = t?.cloudInit === 'yes' ? ', cloud-init: yes' : t?.cloudInit === 'no' ? ", cloud-init: no (its VMs' seeds will not be applied)" : '';
    return t ? `template ${str(t.name)} from ${str(t.sourceVm)}, ${str(t.disks)} disk(s)${t.sealed ? ', sealed' : ''}${ci}` : undefined;
  },
  // A template of this name made from this VM means the earlier attempt got through (templates
  // are written last, atomically, by the hypervisor layer). Anything else goes to execute, whose
  // createTemplate refuses a name taken by another template.
  recover: async (p, ctx) => {
    ctx.progress({ step: 'checking for an earlier attempt' });
    const existing = (await ctx.host.listTemplates(opOf(ctx))).find((t) => t.name === p.name);
    return existing && existing.sourceVm === p.vm ? templateResult(existing) : undefined;
  },
  execute: async (p, ctx) => {
    ctx.progress({ step: p.seal ? 'copying and sealing' : 'copying disks' });
    return templateResult(await ctx.host.createTemplate({ ...vmTargetOf(p), name: p.name, seal: p.seal }, opOf(ctx)));
  },
  // The template as stored (its source VM is unchanged).
  inventory: (p, _r, ctx) => templateChanges(ctx, p.host, p.name),
});
