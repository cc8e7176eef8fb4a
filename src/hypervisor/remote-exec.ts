import { KvmopsError } from '../domain/errors.js';
import { CommandError, run, type RunOptions, type RunResult } from './exec.js';
import type { HostContext } from './host-context.js';
import { SSH, sshArgs, sshTargetOfUri, type SshTarget } from './ssh-args.js';
import type { ToolArgs } from './tool-args.js';

/**
 * Programs that must run ON a remote host (where libvirt's storage API has no such operation)
 * run there over the same SSH transport as the host's `qemu+ssh://` connection: the program's
 * argv comes from its own builder module, exactly as locally; ssh-args.ts quotes it by
 * construction. The program runners (qemu-img.ts, disk-copy.ts) choose here or there.
 *
 * A cancelled or timed-out run kills the local ssh (exec.ts); without a terminal the remote
 * program gets no hangup, and ends at its next write to the closed connection (SIGPIPE) — for a
 * `qemu-img convert -p` that is its next progress line. The caller's clean-up (vol-delete of
 * what it made) does not wait for that: an unlinked file being written is no one's file.
 */

/** A remote host's shell: its name (for messages) and how ssh reaches it. */
export interface RemoteShell {
  host: string;
  target: SshTarget;
}

/**
 * The shell of `h` when programs must run elsewhere than here: null for a local host, and null
 * for a remote one whose URI is not qemu+ssh:// (libvirt's API is then all there is).
 */
export function remoteShell(h: HostContext): RemoteShell | null {
  if (h.local) return null;
  try {
    return { host: h.name, target: sshTargetOfUri(h.uri) };
  } catch {
    return null;
  }
}

/** Like `remoteShell`, for a step that cannot be done without one: `unsupported` otherwise. */
export function requireRemoteShell(h: HostContext, what: string): RemoteShell {
  const s = remoteShell(h);
  if (!s) throw new KvmopsError('unsupported', `${what} on host ${h.name} needs programs run there over ssh, and its URI ${h.uri} is not qemu+ssh://`);
  return s;
}

/**
 * `program args…` on the remote host. ssh's own failures (exit 255: no route, refused, key not
 * accepted) are `host-unreachable` (transient: the job is retried); a program missing there
 * (exit 127) says so; any other failure is the program's own, as locally.
 */
export async function runOverSsh<P extends string>(s: RemoteShell, program: P, args: ToolArgs<P>, opts: RunOptions): Promise<RunResult> {
  try {
    return await run(SSH, sshArgs.exec(s.target, program, args), opts);
  } catch (e) {
    if (!(e instanceof CommandError) || e.code !== 'command-failed') throw e;
    if (e.exitCode === 255) {
      throw new KvmopsError('host-unreachable', `cannot reach host ${s.host} over ssh to run ${program}: ${e.message}`, { cause: e, details: e.details });
    }
    if (e.exitCode === 127) {
      throw new KvmopsError('command-failed', `${program} is not installed on host ${s.host}`, { cause: e, details: e.details });
    }
    throw e;
  }
}
