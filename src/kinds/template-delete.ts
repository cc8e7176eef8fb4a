import { z } from 'zod';
import { hostNameSchema, templateNameSchema } from '../domain/names.js';
import { holds, templateResource } from '../domain/resources.js';
import { defineKind, onHost, opOf } from './kind.js';

export const templateDeletePayload = z.object({ host: hostNameSchema, name: templateNameSchema }).strict();

/** Delete a template: refused while thin VMs depend on it, or while a chain can't be read. */
export const templateDelete = defineKind({
  name: 'template.delete',
  payload: templateDeletePayload,
  needsApproval: false,
  resources: (p) => [holds(templateResource(p.host, p.name), 'exclusive')],
  describe: (p) => `Delete template ${p.name} ${onHost(p)}`,
  summary: (r) => `deleted${r.alreadyGone ? ' (already gone)' : ''}`,
  // Gone: the earlier attempt deleted it.
  recover: async (p, ctx) =>
    (await ctx.host.listTemplates(opOf(ctx))).some((t) => t.name === p.name) ? undefined : { deleted: { template: p.name }, alreadyGone: true },
  execute: async (p, ctx) => {
    ctx.progress({ step: 'deleting template' });
    await ctx.host.deleteTemplate(p.name, opOf(ctx));
    return { deleted: { template: p.name } };
  },
});
