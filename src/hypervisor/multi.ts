import { randomBytes } from 'node:crypto';
import { KvmopsError } from '../domain/errors.js';
import { eachLimited } from './each-limited.js';
import { CommandError, run, shortStderr } from './exec.js';
import { splitSections } from './parse.js';
import { COMMAND_SEPARATOR, VIRSH, virshArgs, virshCommandString, virshProcessArgs, type VirshArgs } from './virsh-args.js';
import { classifyVirshError, refineVirshError } from './virsh-errors.js';

/**
 * How virsh runs (through Virsh.run / Virsh.multi, virsh.ts: the only callers): many commands
 * in ONE virsh process, with each command's own stdout, stderr and error.
 *
 * Observed on libvirt 9.0: `virsh "a ; b ; c"` runs every command even after one fails, and the
 * exit code is the last command's. So after each command we print a marker on stderr and on
 * stdout (`echo --err` / `echo`) and split both streams there: each command gets its own
 * output and its own classified error, and one process start-up + one connection serves all
 * (docs/host-notes.md "Batching": 20 defines as 20 processes 4 s, in one process 0.1–0.2 s). Long batches are
 * split into chunks (MULTI_CHUNK_BYTES), so nothing's command line grows with the host's size.
 */

export interface MultiResult {
  args: VirshArgs;
  stdout: string;
  stderr: string;
  /** Set when this command printed `error: …`. */
  error?: CommandError;
}

export interface MultiOptions {
  /** Per virsh process (one per chunk). */
  timeoutMs?: number;
  signal?: AbortSignal | undefined;
  /** Chunk size; MULTI_CHUNK_BYTES unless a test wants small chunks. */
  chunkBytes?: number;
  /**
   * Chunks run side by side, at most this many (default 1: in order, for batches whose
   * commands change things). Only for read-only batches.
   */
  parallel?: number;
}

/**
 * Most bytes of one virsh command string. Linux caps ONE argument at 128 KiB (MAX_ARG_STRLEN)
 * and all of argv+env at about 2 MB; a batch that grows with the number of domains (a dumpxml
 * per domain: ~1,000 domains already failed with E2BIG) is split into chunks of at most this
 * many bytes, each run by its own virsh process, in order.
 */
export const MULTI_CHUNK_BYTES = 64 * 1024;

/**
 * Groups consecutive command scripts so that each group joined with ` ; ` stays within
 * `maxBytes` (UTF-8). Returns the index ranges `[start, end)`; order is kept, nothing is
 * dropped. A single script longer than `maxBytes` is refused: it could never be run. Pure.
 */
export function chunkRanges(scripts: readonly string[], maxBytes = MULTI_CHUNK_BYTES): Array<[number, number]> {
  const SEP = Buffer.byteLength(COMMAND_SEPARATOR);
  const ranges: Array<[number, number]> = [];
  let start = 0;
  let size = 0;
  scripts.forEach((s, i) => {
    const n = Buffer.byteLength(s);
    if (n > maxBytes) throw new KvmopsError('invalid-input', `a virsh command of ${n} bytes does not fit one command string (${maxBytes} bytes)`);
    if (i > start && size + SEP + n > maxBytes) {
      ranges.push([start, i]);
      start = i;
      size = 0;
    }
    size += (i > start ? SEP : 0) + n;
  });
  if (scripts.length > start) ranges.push([start, scripts.length]);
  return ranges;
}

export async function runVirsh(uri: string, commands: readonly VirshArgs[], opts: MultiOptions = {}): Promise<MultiResult[]> {
  if (commands.length === 0) return [];
  const nonce = randomBytes(6).toString('hex');
  // One script per command: the command, then its markers, stderr's first. `echo --err` also
  // prints an empty line on stdout (libvirt 9.0): it ends the command's last line, even one
  // printed without a newline, so each stdout section is exactly what the command printed alone.
  const scripts = commands.map((c, i) => {
    const marker = `@@kvmops-${nonce}-${i}@@`;
    return virshCommandString([c, virshArgs.echo(marker, { err: true }), virshArgs.echo(marker)]);
  });
  const ranges = chunkRanges(scripts, opts.chunkBytes);
  const parts: MultiResult[][] = new Array(ranges.length);
  const order = ranges.map((r, i) => [i, r] as const);
  await eachLimited(order, Math.max(1, opts.parallel ?? 1), async ([i, [start, end]]) => {
    parts[i] = await runChunk(uri, commands.slice(start, end), scripts.slice(start, end), nonce, start, opts);
  });
  return parts.flat();
}

async function runChunk(
  uri: string,
  commands: readonly VirshArgs[],
  scripts: readonly string[],
  nonce: string,
  first: number,
  opts: MultiOptions,
): Promise<MultiResult[]> {
  const argv = virshProcessArgs.script(uri, scripts);
  // cancelled: no (further) chunk starts, and the error is the one a stopped program gives
  if (opts.signal?.aborted) {
    const message = `${VIRSH} was not started: the job was cancelled`;
    throw new CommandError('aborted', message, { argv: [VIRSH, ...argv], stderr: '', cause: opts.signal.reason });
  }
  let out: { stdout: string; stderr: string };
  try {
    out = await run(VIRSH, argv, { timeoutMs: opts.timeoutMs ?? 120_000, signal: opts.signal });
  } catch (e) {
    throw refineVirshError(e);
  }
  const stdouts = splitSections(out.stdout, nonce, commands.length, first);
  const stderrs = splitSections(out.stderr, nonce, commands.length, first);
  return commands.map((args, i) => {
    const stdout = stdouts[i]!;
    const stderr = stderrs[i]!.trim();
    const r: MultiResult = { args, stdout, stderr };
    if (/^error: /m.test(stderr)) {
      r.error = new CommandError(classifyVirshError(stderr), shortStderr(stderr), {
        argv: [VIRSH, ...virshProcessArgs.command(uri, args)],
        exitCode: 1,
        stderr,
      });
    }
    return r;
  });
}

/** virsh's last words when `event --timeout` ran out (it then exits 1 all the same; libvirt 9.0). */
const EVENT_LOOP_TIMED_OUT = 'event loop timed out';

/**
 * libvirt's event stream of every domain on `uri`: ONE long-lived virsh (`event --all --loop
 * --timestamp --timeout S`, virsh-args.ts `eventLoop`), each stdout line handed to `onLine` as it
 * arrives (virsh flushes per event, also into a pipe) and kept nowhere. Resolves when virsh ends
 * by its own timeout — the caller starts another; rejects with a CommandError when it fails (the
 * connection was lost, libvirtd restarted), is killed, or `signal` stops it (`aborted`: the
 * child is killed, as for every program, exec.ts).
 */
export async function followVirshEvents(
  uri: string,
  opts: { seconds: number; signal: AbortSignal; onLine(line: string): void; onSpawn?(pid: number): void },
): Promise<void> {
  let timedOut = false;
  try {
    await run(VIRSH, virshProcessArgs.command(uri, virshArgs.eventLoop(opts.seconds)), {
      timeoutMs: (opts.seconds + 30) * 1000,
      signal: opts.signal,
      keepStdout: false,
      onLine: (line, stream) => {
        if (stream !== 'stdout') return;
        if (line.trim() === EVENT_LOOP_TIMED_OUT) timedOut = true;
        else opts.onLine(line);
      },
      ...(opts.onSpawn ? { onSpawn: opts.onSpawn } : {}),
    });
  } catch (e) {
    if (timedOut && !opts.signal.aborted && e instanceof CommandError && e.code === 'command-failed') return;
    throw refineVirshError(e);
  }
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
