import type { Executor } from './types.js';
import { vmState } from './vm-state.js';

/** Recovered and already shut off: the earlier attempt stopped it → succeed. */
export const vmStop: Executor<'vm.stop'> = async (p, ctx) => {
  const op = { signal: ctx.signal, onProgress: ctx.progress };
  if (ctx.recovered && (await vmState(ctx.host, p.vm, op)) === 'shut off') {
    return { vm: p.vm, state: 'shut off', alreadyStopped: true };
  }
  ctx.progress({ step: p.force ? `destroying ${p.vm}` : `shutting down ${p.vm}` });
  await ctx.host.stopVm({ vm: p.vm, force: p.force }, op);
  return { vm: p.vm, state: 'shut off' };
};
