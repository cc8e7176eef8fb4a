import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { Readable, Transform, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { execa, type ResultPromise } from 'execa';
import { KvmopsError } from '../domain/errors.js';
import { CAT, DD, catArgs, ddArgs } from './coreutils-args.js';
import { CommandError, shortStderr } from './exec.js';
import type { HostContext } from './host-context.js';
import { requireRemoteShell } from './remote-exec.js';
import { SETPRIV, setprivArgs } from './setpriv-args.js';
import { SSH, sshArgs } from './ssh-args.js';

/**
 * One file streamed from a host (or from memory) into a NEW file on another host, through this
 * process: `ssh A cat -- FILE` (or a local read) → here → `ssh B dd of=FILE conv=excl,fsync` (or
 * a local `O_EXCL` write, fsync'd). The bytes are counted and hashed on the way (sha256), so the
 * caller can hold each side's own `sha256sum` against what actually passed. Nothing is ever
 * written over: the destination must not exist. The bytes cross this machine once; the two
 * ssh connections run side by side with node's back-pressure between them.
 *
 * A cancelled or failed stream kills both programs (and a dying kvmops kills them too: setpriv,
 * as exec.ts); a partial destination file is the caller's to remove.
 */

export type StreamSource = { host: HostContext; file: string } | { bytes: Buffer };

export interface StreamResult {
  bytes: number;
  sha256: string;
}

export interface StreamOptions {
  signal?: AbortSignal | undefined;
  /** Bytes passed so far (called at most every 4 MiB and at the end). */
  onBytes?: (n: number) => void;
  timeoutMs?: number;
}

const dieWithParent = process.platform === 'linux' && existsSync(SETPRIV);

function sshChild(h: HostContext, program: string, args: readonly string[], io: 'read' | 'write', opts: StreamOptions): ResultPromise {
  const shell = requireRemoteShell(h, 'copying a file between hosts');
  const argv = sshArgs.exec(shell.target, program, args);
  const o = {
    cancelSignal: opts.signal,
    ...(opts.timeoutMs !== undefined ? { timeout: opts.timeoutMs } : {}),
    forceKillAfterDelay: 2_000,
    reject: false,
    env: { LC_ALL: 'C' },
    extendEnv: true,
    buffer: { stdout: io === 'write', stderr: true },
    stdin: io === 'write' ? ('pipe' as const) : ('ignore' as const),
    stdout: 'pipe' as const,
  };
  return dieWithParent ? execa(SETPRIV, setprivArgs.dieWithParent(SSH, argv), o) : execa(SSH, argv, o);
}

/** A finished ssh child as kvmops' errors: 255 is ssh's own (host-unreachable), the rest the program's. */
async function childDone(child: ResultPromise, h: HostContext, program: string, signal: AbortSignal | undefined): Promise<void> {
  const r = await child;
  if (r.isCanceled || signal?.aborted) throw new CommandError('aborted', `${program} on ${h.name} was stopped: the job was cancelled`, { argv: [SSH], stderr: '' });
  if (r.timedOut) throw new CommandError('command-timeout', `${program} on ${h.name} did not finish in time`, { argv: [SSH], stderr: String(r.stderr ?? '') });
  if (!r.failed) return;
  const stderr = String(r.stderr ?? '');
  if (r.exitCode === 255) throw new KvmopsError('host-unreachable', `cannot reach host ${h.name} over ssh to run ${program}: ${shortStderr(stderr)}`);
  throw new CommandError('command-failed', `${program} on ${h.name}: ${shortStderr(stderr) || (r.shortMessage ?? 'failed')}`, {
    argv: [SSH],
    ...(typeof r.exitCode === 'number' ? { exitCode: r.exitCode } : {}),
    stderr,
  });
}

export async function streamFile(src: StreamSource, dst: { host: HostContext; file: string }, opts: StreamOptions = {}): Promise<StreamResult> {
  dst.host.storage.assertInside(dst.file);
  const hash = createHash('sha256');
  let bytes = 0;
  let reported = 0;
  const meter = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      hash.update(chunk);
      bytes += chunk.length;
      if (bytes - reported >= 4 << 20) {
        reported = bytes;
        opts.onBytes?.(bytes);
      }
      cb(null, chunk);
    },
  });

  const children: Array<Promise<void>> = [];
  let reader: Readable;
  if ('bytes' in src) reader = Readable.from([src.bytes]);
  else if (src.host.local) reader = (await open(src.file, 'r')).createReadStream();
  else {
    const child = sshChild(src.host, CAT, catArgs.file(src.file), 'read', opts);
    children.push(childDone(child, src.host, CAT, opts.signal));
    reader = child.stdout!;
  }

  let writer: Writable;
  let local: Awaited<ReturnType<typeof open>> | undefined;
  if (dst.host.local) {
    try {
      local = await open(dst.file, 'wx', 0o600);
    } catch (e) {
      // nothing will read the source: close it (a remote `cat` ends with its connection)
      reader.destroy();
      await Promise.allSettled(children);
      throw e;
    }
    writer = local.createWriteStream({ autoClose: false });
  } else {
    const child = sshChild(dst.host, DD, ddArgs.intoNewFile(dst.file), 'write', opts);
    children.push(childDone(child, dst.host, DD, opts.signal));
    writer = child.stdin!;
  }

  try {
    // every part settles before the result is known: a reader that failed half-way, a writer
    // that refused (the file existed) — the first failure is the answer
    const results = await Promise.allSettled([pipeline(reader, meter, writer, ...(opts.signal ? [{ signal: opts.signal }] : [])), ...children]);
    const failed = results.slice(1).find((r) => r.status === 'rejected') ?? results.find((r) => r.status === 'rejected');
    if (failed) throw (failed as PromiseRejectedResult).reason;
    if (local) await local.sync();
  } finally {
    await local?.close().catch(() => {});
  }
  opts.onBytes?.(bytes);
  return { bytes, sha256: hash.digest('hex') };
}
