import type { Executor } from './types.js';

/** Recovered and the template is gone: the earlier attempt deleted it → succeed. */
export const templateDelete: Executor<'template.delete'> = async (p, ctx) => {
  const op = { signal: ctx.signal, onProgress: ctx.progress };
  if (ctx.recovered) {
    const exists = (await ctx.host.listTemplates(op)).some((t) => t.name === p.name);
    if (!exists) return { deleted: { template: p.name }, alreadyGone: true };
  }
  ctx.progress({ step: 'deleting template' });
  await ctx.host.deleteTemplate(p.name, op);
  return { deleted: { template: p.name } };
};
