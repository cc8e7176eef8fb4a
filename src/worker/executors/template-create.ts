import type { TemplateInfo } from '../../hypervisor/types.js';
import type { Executor } from './types.js';

export interface TemplateJobResult {
  template: { name: string; sourceVm: string; sealed: boolean; disks: number };
}

export function templateResult(t: TemplateInfo): TemplateJobResult {
  return { template: { name: t.name, sourceVm: t.sourceVm, sealed: t.sealed, disks: t.disks.length } };
}

/**
 * Recovered: a template of this name made from this VM means the earlier attempt got through
 * (templates are written last, atomically, by the hypervisor layer) → succeed with it. Anything
 * else goes to createTemplate, which refuses a name taken by another template.
 */
export const templateCreate: Executor<'template.create'> = async (p, ctx) => {
  const op = { signal: ctx.signal, onProgress: ctx.progress };
  if (ctx.recovered) {
    ctx.progress({ step: 'checking for an earlier attempt' });
    const existing = (await ctx.host.listTemplates(op)).find((t) => t.name === p.name);
    if (existing && existing.sourceVm === p.vm) return templateResult(existing);
  }
  ctx.progress({ step: p.seal ? 'copying and sealing' : 'copying disks' });
  return templateResult(await ctx.host.createTemplate({ vm: p.vm, name: p.name, seal: p.seal }, op));
};
