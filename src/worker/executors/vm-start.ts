import type { Executor } from './types.js';
import { vmState } from './vm-state.js';

/** Recovered and already running: the earlier attempt started it → succeed. */
export const vmStart: Executor<'vm.start'> = async (p, ctx) => {
  const op = { signal: ctx.signal, onProgress: ctx.progress };
  if (ctx.recovered && (await vmState(ctx.host, p.vm, op)) === 'running') {
    return { vm: p.vm, state: 'running', alreadyRunning: true };
  }
  ctx.progress({ step: `starting ${p.vm}` });
  await ctx.host.startVm(p.vm, op);
  return { vm: p.vm, state: 'running' };
};
