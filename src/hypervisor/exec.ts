import { existsSync } from 'node:fs';
import { execa, type Options } from 'execa';
import { KvmopsError, type ErrorCode } from '../domain/errors.js';
import { SETPRIV, setprivArgs } from './setpriv-args.js';
import type { ToolArgs } from './tool-args.js';

/**
 * The one place kvmops runs external programs (docs/architecture.md: only the hypervisor layer does).
 * argv arrays only (never a shell), a timeout and an abort signal on every call, and a failure
 * is a CommandError carrying the command, exit code and stderr (the execa way).
 */

export interface RunOptions {
  /** Hard limit; the child gets SIGTERM, then SIGKILL 2 s later. */
  timeoutMs: number;
  signal?: AbortSignal | undefined;
  /** Written to the child's stdin. */
  input?: string;
  env?: Record<string, string>;
  /** Called with each stderr/stdout line as it arrives (progress of long copies). */
  onLine?: (line: string, stream: 'stdout' | 'stderr') => void;
  /** false: stdout goes to `onLine` only and is not kept (a long-lived child's output would grow without end). */
  keepStdout?: boolean;
  /** Called once the child exists, with its pid (a long-lived child's supervisor shows it; tests kill it). */
  onSpawn?: (pid: number) => void;
}

export interface RunResult {
  stdout: string;
  stderr: string;
  durationMs: number;
}

export class CommandError extends KvmopsError {
  readonly command: string;
  readonly argv: readonly string[];
  readonly exitCode: number | undefined;
  readonly stderr: string;

  constructor(
    code: ErrorCode,
    message: string,
    init: { argv: readonly string[]; exitCode?: number | undefined; stderr: string; cause?: unknown },
  ) {
    super(code, message, {
      cause: init.cause,
      details: { command: init.argv.join(' '), exitCode: init.exitCode, stderr: init.stderr.slice(0, 2000) },
    });
    this.name = 'CommandError';
    this.argv = init.argv;
    this.command = init.argv.join(' ');
    this.exitCode = init.exitCode;
    this.stderr = init.stderr;
  }
}

/** First meaningful line of stderr, without virsh's "error: " prefix: the short message. */
export function shortStderr(stderr: string): string {
  const lines = stderr
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  const line = lines.find((l) => /^error: /.test(l) && !/^error: failed to get /.test(l)) ?? lines.at(-1) ?? '';
  return line.replace(/^error: /, '');
}

/**
 * Children die with kvmops: each program is started through util-linux `setpriv --pdeathsig
 * KILL`, so when the bot process dies abruptly (SIGKILL, OOM) no `cp` or `qemu-img` goes on
 * writing a disk while the restarted bot's recovery removes or redoes it.
 */
const dieWithParent = process.platform === 'linux' && existsSync(SETPRIV);
/** setpriv's own words when it could not run the program (exit 127). */
const NOT_EXECUTED = /^setpriv: failed to execute /m;

function killGroup(pid: number): void {
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // ESRCH: nothing of the group is left
  }
}

/** `250 ms`, `90 s`, `6 h`: the limit as a person reads it in a failed job's message. */
function limitText(ms: number): string {
  if (ms < 1_000) return `${ms} ms`;
  if (ms < 120_000) return `${Math.round(ms / 1_000)} s`;
  if (ms < 7_200_000) return `${Math.round(ms / 60_000)} min`;
  return `${Math.round(ms / 3_600_000)} h`;
}

/**
 * Runs `program` with an argv from its builder module (tool-args.ts: a hand-spelled array does
 * not type-check). Only the hypervisor's program runners call this (virsh: multi.ts, qemu-img.ts,
 * qemu-io.ts, sysprep.ts — virt-sysprep and guestfish —, disk-copy.ts, seed.ts, template-copy.ts,
 * remote-exec.ts — ssh —, and scripts.ts — the repository's host scripts, for the demo kit only;
 * file-stream.ts starts its two piped programs itself, the same way).
 */
export async function run(program: string, args: ToolArgs<string>, opts: RunOptions): Promise<RunResult> {
  const argv = [program, ...args];
  const started = performance.now();
  const execaOpts: Options = {
    timeout: opts.timeoutMs,
    cancelSignal: opts.signal,
    forceKillAfterDelay: 2_000,
    // Its own process group, so a stop reaches what it started too: virsh on a qemu+ssh URI
    // runs ssh as its child, and killing virsh alone at a timeout left that ssh connected to a
    // host that never answers — one more per probe of a hung host (see the group kill below).
    detached: true,
    reject: false,
    stripFinalNewline: false,
    env: { LC_ALL: 'C', ...opts.env },
    extendEnv: true,
    ...(opts.input !== undefined ? { input: opts.input } : { stdin: 'ignore' as const }),
    ...(opts.onLine ? { lines: false, buffer: opts.keepStdout === false ? { stdout: false, stderr: true } : true } : {}),
  };
  const child = dieWithParent
    ? execa(SETPRIV, setprivArgs.dieWithParent(program, args), execaOpts)
    : execa(program, args, execaOpts);
  // setpriv execs the program in place: this pid is the program's own.
  if (opts.onSpawn && child.pid !== undefined) opts.onSpawn(child.pid);
  if (opts.onLine) {
    const onLine = opts.onLine;
    for (const stream of ['stdout', 'stderr'] as const) {
      let partial = '';
      child[stream]?.on('data', (chunk: Buffer) => {
        const parts = (partial + chunk.toString('utf8')).split(/\r|\n/);
        partial = parts.pop() ?? '';
        for (const p of parts) if (p) onLine(p, stream);
      });
    }
  }
  const r = await child;
  // Stopped (timeout, abort, a signal): whatever it started goes with it. The group outlives its
  // leader only while a member lives, so this id cannot be someone else's by now.
  if ((r.timedOut || r.isCanceled || r.isTerminated) && child.pid !== undefined) killGroup(child.pid);
  const stdout = String(r.stdout ?? '');
  const stderr = String(r.stderr ?? '');
  const durationMs = performance.now() - started;
  if (r.isCanceled || opts.signal?.aborted) {
    throw new CommandError('aborted', `${program} was stopped: the job was cancelled`, { argv, stderr, cause: r });
  }
  if (r.timedOut) {
    throw new CommandError('command-timeout', `${program} did not finish within ${limitText(opts.timeoutMs)}`, {
      argv,
      stderr,
      cause: r,
    });
  }
  // Killed by SIGTERM/SIGINT/SIGHUP that kvmops did not send (its own aborts are caught above):
  // the whole process group or cgroup is being stopped (Ctrl-C, systemd's KillMode=control-group),
  // and the program's work was cut short, not refused. Transient: the job goes back to the queue.
  if (r.isTerminated && (r.signal === 'SIGTERM' || r.signal === 'SIGINT' || r.signal === 'SIGHUP')) {
    throw new CommandError('shutting-down', `${program} was stopped by ${r.signal} from outside kvmops`, { argv, stderr, cause: r });
  }
  if (r.failed) {
    const exitCode = typeof r.exitCode === 'number' ? r.exitCode : undefined;
    const missing = r.code === 'ENOENT' || (exitCode === 127 && NOT_EXECUTED.test(stderr));
    const msg = missing ? `${program} is not installed` : shortStderr(stderr) || (r.shortMessage ?? 'failed');
    throw new CommandError('command-failed', msg, { argv, exitCode, stderr, cause: r });
  }
  return { stdout, stderr, durationMs };
}
