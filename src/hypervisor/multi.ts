import { randomBytes } from 'node:crypto';
import { KvmopsError } from '../domain/errors.js';
import { CommandError, run, shortStderr } from './exec.js';
import type { HostContext } from './host-context.js';
import { splitSections } from './parse.js';
import { virshArgs, type VirshArgs } from './virsh-args.js';
import { classifyVirshError, quoteVirshArg, refineVirshError } from './virsh.js';

/**
 * Many virsh commands in ONE virsh process, with each command's own stdout, stderr and error.
 *
 * Observed on libvirt 9.0: `virsh "a ; b ; c"` runs every command even after one fails, and the
 * exit code is the last command's. So after each command we print a marker on stdout and on
 * stderr (`echo` / `echo --err`) and split both streams there: each command gets its own
 * output and its own classified error, and one process start-up + one connection serves all
 * (HOST-FACTS.md: 20 defines as 20 processes 4 s, in one process 0.1–0.2 s).
 */

export interface MultiResult {
  args: readonly string[];
  stdout: string;
  stderr: string;
  /** Set when this command printed `error: …`. */
  error?: CommandError;
}

export interface MultiOptions {
  timeoutMs?: number;
  signal?: AbortSignal | undefined;
}

export async function virshMulti(
  h: Pick<HostContext, 'uri'>,
  commands: ReadonlyArray<VirshArgs>,
  opts: MultiOptions = {},
): Promise<MultiResult[]> {
  if (commands.length === 0) return [];
  const nonce = randomBytes(6).toString('hex');
  const parts: string[] = [];
  commands.forEach((c, i) => {
    const marker = `@@kvmops-${nonce}-${i}@@`;
    parts.push(c.map(quoteVirshArg).join(' '));
    parts.push(virshArgs.echo(marker).map(quoteVirshArg).join(' '));
    parts.push(virshArgs.echo(marker, { err: true }).map(quoteVirshArg).join(' '));
  });
  const script = parts.join(' ; ');
  const argv = ['--connect', h.uri, script];
  let out: { stdout: string; stderr: string };
  try {
    out = await run('virsh', argv, { timeoutMs: opts.timeoutMs ?? 120_000, signal: opts.signal });
  } catch (e) {
    throw refineVirshError(e);
  }
  const stdouts = splitSections(out.stdout, nonce, commands.length);
  const stderrs = splitSections(out.stderr, nonce, commands.length);
  return commands.map((args, i) => {
    const stdout = stdouts[i]!;
    const stderr = stderrs[i]!.trim();
    const r: MultiResult = { args, stdout, stderr };
    if (/^error: /m.test(stderr)) {
      r.error = new CommandError(classifyVirshError(stderr), shortStderr(stderr), {
        argv: ['virsh', '--connect', h.uri, ...args],
        exitCode: 1,
        stderr,
      });
    }
    return r;
  });
}

/** Throws the first command's error, if any. */
export function throwFirstError(results: readonly MultiResult[]): void {
  const failed = results.find((r) => r.error);
  if (failed?.error) throw failed.error;
}

/** One command's stdout, or its error. */
export function okStdout(r: MultiResult | undefined): string {
  if (!r) throw new KvmopsError('internal', 'missing virsh batch result');
  if (r.error) throw r.error;
  return r.stdout;
}

/**
 * This command failed because the storage volume does not exist (vol-download, vol-delete,
 * vol-dumpxml). libvirt has no error code for it that kvmops classifies; only stderr says so.
 */
export function isVolumeMissing(r: MultiResult): boolean {
  return r.error !== undefined && /Storage volume not found|no storage vol/i.test(r.stderr);
}
