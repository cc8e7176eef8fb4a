import { okStdout, runVirsh, type MultiOptions, type MultiResult } from './multi.js';
import type { VirshArgs } from './virsh-args.js';

/**
 * The one way kvmops calls virsh: `run` for one command, `multi` for many, and one command is a
 * batch of one — the same process, the same `--connect`, the same per-command error
 * classification (multi.ts). A timeout and an abort signal on every call; argv from virshArgs
 * only (the VirshArgs brand).
 */

export interface VirshCallOptions {
  timeoutMs?: number;
  signal?: AbortSignal | undefined;
}

const DEFAULT_TIMEOUT_MS = 60_000;

export class Virsh {
  constructor(readonly uri: string) {}

  /** One command: its stdout, or its error with a stable code. */
  async run(args: VirshArgs, opts: VirshCallOptions = {}): Promise<string> {
    const [result] = await this.multi([args], { timeoutMs: opts.timeoutMs ?? DEFAULT_TIMEOUT_MS, signal: opts.signal });
    return okStdout(result);
  }

  /**
   * Many commands in one virsh process per chunk, each with its own stdout, stderr and error
   * (a failing command does not stop the ones after it).
   */
  multi(commands: readonly VirshArgs[], opts: MultiOptions = {}): Promise<MultiResult[]> {
    return runVirsh(this.uri, commands, opts);
  }
}
