import { checkCommandModules } from '../src/chat/command-shape.js';
import type { CommandModule } from '../src/chat/command.js';
import audit from './audit.js';
import deploy from './deploy.js';
import host from './host.js';
import job from './job.js';
import key from './key.js';
import schedule from './schedule.js';
import snapshot from './snapshot.js';
import template from './template.js';
import vm from './vm.js';

/**
 * The loader: every slash command, one module per file, checked at start-up. A definition
 * Discord would reject throws CommandShapeError here, so the bot (and `npm run register`, and
 * the shell) refuse to start rather than register something Discord rejects.
 *
 * Explicit imports rather than a directory scan: the set of commands is part of the contract,
 * and a stray file must not become a command.
 */
export const COMMAND_MODULES: readonly CommandModule[] = [deploy, template, snapshot, vm, job, key, schedule, host, audit];

export function loadCommands(modules: readonly CommandModule[] = COMMAND_MODULES): CommandModule[] {
  return checkCommandModules(modules);
}
