import { KvmopsError, type ErrorCode } from '../domain/errors.js';
import { CommandError, run, shortStderr, type RunOptions } from './exec.js';

/**
 * virsh with a constant `--connect` (the Umbrel way), a timeout and an abort signal on every
 * call, and stderr classified into stable codes. Every failure exits 1: only stderr tells them
 * apart (HOST-FACTS.md "Parsing virsh").
 */

export interface VirshCallOptions {
  timeoutMs?: number;
  signal?: AbortSignal | undefined;
}

const DEFAULT_TIMEOUT_MS = 60_000;

/** stderr patterns of libvirt 9.0 → codes. First match wins; order from specific to general. */
const STDERR_CODES: ReadonlyArray<[RegExp, ErrorCode]> = [
  [/failed to connect to the hypervisor|Cannot recv data|End of file while reading data|unable to connect to server/i, 'host-unreachable'],
  [/Domain snapshot not found|no domain snapshot with matching name/i, 'snapshot-not-found'],
  [/failed to get domain|Domain not found|no domain with matching name/i, 'vm-not-found'],
  [/Domain is already active|domain is already running/i, 'vm-running'],
  [/domain is not running/i, 'vm-not-running'],
  [/already exists with uuid|domain '.*' already exists|already exists/i, 'name-taken'],
  [/revert to external snapshot not supported/i, 'unsupported'],
];

export function classifyVirshError(stderr: string): ErrorCode {
  for (const [re, code] of STDERR_CODES) if (re.test(stderr)) return code;
  return 'command-failed';
}

/** Refine a CommandError from virsh into its stable code (same command, stderr, cause). */
export function refineVirshError(e: unknown): unknown {
  if (!(e instanceof CommandError) || e.code !== 'command-failed') return e;
  const code = classifyVirshError(e.stderr);
  if (code === 'command-failed') return e;
  return new CommandError(code, e.message, { argv: e.argv, exitCode: e.exitCode, stderr: e.stderr, cause: e });
}

/**
 * Quote one argument for virsh's own command-string parser (`batch`, virshMulti): single quotes,
 * and nothing that could end them. Names are validated long before this; paths are inside the
 * storage dir, whose characters are checked at start (storage.ts).
 */
export function quoteVirshArg(a: string): string {
  if (/['\\\n\r]/.test(a)) throw new KvmopsError('invalid-input', `cannot pass ${JSON.stringify(a)} to virsh`);
  return `'${a}'`;
}

export class Virsh {
  constructor(readonly uri: string) {}

  /** `virsh --connect URI args…`: one command, its stdout. */
  async run(args: readonly string[], opts: VirshCallOptions = {}): Promise<string> {
    return (await this.exec(args, opts)).stdout;
  }

  private async exec(args: readonly string[], opts: VirshCallOptions): Promise<{ stdout: string; stderr: string }> {
    const runOpts: RunOptions = { timeoutMs: opts.timeoutMs ?? DEFAULT_TIMEOUT_MS, signal: opts.signal };
    try {
      return await run('virsh', ['--connect', this.uri, ...args], runOpts);
    } catch (e) {
      throw refineVirshError(e);
    }
  }

  /**
   * Several commands in one virsh process (`virsh "a ; b ; c"`): one process start-up and one
   * connection instead of N (20 defines: 4 s as processes, 0.1–0.2 s batched). Returns the
   * commands' stdout run together, for read-only batches whose outputs the caller can tell
   * apart (snapshots/state.ts). virsh goes on after a failing command and exits with the last
   * command's code, so an exit code of 0 proves nothing: any `error:` on stderr fails the whole
   * batch here. When each command's own output or error matters, use virshMulti (multi.ts).
   */
  async batch(commands: ReadonlyArray<readonly string[]>, opts: VirshCallOptions = {}): Promise<string> {
    if (commands.length === 0) return '';
    const script = commands.map((c) => c.map(quoteVirshArg).join(' ')).join(' ; ');
    const argv = ['virsh', '--connect', this.uri, script];
    const { stdout, stderr } = await this.exec([script], opts);
    if (/^error: /m.test(stderr)) {
      throw refineVirshError(new CommandError('command-failed', shortStderr(stderr), { argv, exitCode: 0, stderr }));
    }
    return stdout;
  }
}
