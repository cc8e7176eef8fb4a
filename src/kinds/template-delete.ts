import { z } from 'zod';
import { isKvmopsError } from '../domain/errors.js';
import { hostNameSchema, templateNameSchema } from '../domain/names.js';
import { holds, templateResource } from '../domain/resources.js';
import { templateChanges } from './inventory.js';
import { defineKind, onHost, opOf } from './kind.js';

/**
 * Pinned (vm-ref.ts): the template's creation time when the delete was asked for. A template
 * made anew under the name since is another template: never deleted by this job.
 */
export const templateDeletePayload = z.object({ host: hostNameSchema, name: templateNameSchema, createdAt: z.string().min(1).max(64) }).strict();

/** Delete a template: refused while thin VMs depend on it, or while a chain can't be read. */
export const templateDelete = defineKind({
  name: 'template.delete',
  payload: templateDeletePayload,
  needsApproval: false,
  resources: (p) => [holds(templateResource(p.host, p.name), 'exclusive')],
  describe: (p) => `Delete template ${p.name} ${onHost(p)}`,
  pinned: (p) => [`template ${p.name} (made ${p.createdAt})`],
  summary: (r) => `deleted${r.alreadyGone ? ' (already gone)' : ''}${r.notTouched ? '; a template made anew under the name was not touched' : ''}`,
  // Gone: the earlier attempt deleted it (or it went before a restore brought this job back).
  // That one template is read (not the list, whose dependents would read every domain).
  recover: async (p, ctx) =>
    (await ctx.host.inventory.readTemplates([p.name], opOf(ctx))).length > 0 ? undefined : { deleted: { template: p.name }, alreadyGone: true },
  execute: async (p, ctx) => {
    ctx.progress({ step: 'deleting template' });
    try {
      await ctx.host.deleteTemplate(p.name, opOf(ctx), { createdAt: p.createdAt });
    } catch (e) {
      if (isKvmopsError(e, 'template-not-found')) return { deleted: { template: p.name }, alreadyGone: true };
      if (isKvmopsError(e, 'target-changed')) return { deleted: { template: p.name }, alreadyGone: true, notTouched: true };
      throw e;
    }
    return { deleted: { template: p.name } };
  },
  // Gone; or, when a template made anew has the name (not touched), that one as it is.
  inventory: async (p, r, ctx) => (r.notTouched ? templateChanges(ctx, p.host, p.name) : [{ type: 'template-gone', host: p.host, name: p.name }]),
});
