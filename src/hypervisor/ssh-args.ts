import { KvmopsError } from '../domain/errors.js';
import { toolBuilders, type ToolArgs } from './tool-args.js';

/**
 * `ssh` argv builders: how a program runs ON a remote host (the same transport libvirt's
 * `qemu+ssh://` connection uses: the URI's user, host, port and key). The program's own argv
 * comes from its builder module (qemu-img-args.ts, coreutils-args.ts …), exactly as it would
 * run locally.
 *
 * ssh hands the remote side ONE command string, which the remote user's login shell parses.
 * That string is made here by construction, never assembled from text: every word — the
 * program and each argument — is single-quoted (`'` inside written as `'\''`), so the remote
 * shell sees exactly these words and no `$()`, backtick, `;`, `|`, glob, space or newline in a
 * file name (a hand-made domain's disk can be named anything) is ever interpreted. A NUL cannot
 * be carried at all and is refused.
 */

export const SSH = 'ssh';

export type SshArgs = ToolArgs<typeof SSH>;

/** Where and how to reach a host's shell: taken from its `qemu+ssh://` URI (`sshTargetOfUri`). */
export interface SshTarget {
  host: string;
  user?: string;
  port?: number;
  /** `?keyfile=`: the private key (`ssh -i`). */
  keyfile?: string;
  /** `?no_verify=1`: do not check the host's key (libvirt's own meaning: StrictHostKeyChecking=no). */
  noVerify: boolean;
}

/** A word for a POSIX shell, single-quoted: the shell reads it back byte for byte. Pure. */
export function shellQuote(word: string): string {
  if (word.includes('\0')) throw new KvmopsError('invalid-input', 'a NUL byte cannot be passed to a remote program');
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

/** A host name or address ssh reads as a destination, never as an option. */
const HOST = /^[A-Za-z0-9][A-Za-z0-9.-]*$|^\[[0-9A-Fa-f:.]+\]$/;
const USER = /^[A-Za-z0-9_][A-Za-z0-9._-]*$/;

/**
 * The ssh target of a libvirt `qemu+ssh://[user@]host[:port]/system?keyfile=…&no_verify=1` URI.
 * Anything else (another transport, a host or user that could read as an ssh option, a relative
 * key path) is refused: `unsupported` / `invalid-input`. Pure.
 */
export function sshTargetOfUri(uri: string): SshTarget {
  let u: URL;
  try {
    u = new URL(uri);
  } catch {
    throw new KvmopsError('invalid-input', `${uri} is not a libvirt URI`);
  }
  if (u.protocol !== 'qemu+ssh:') {
    throw new KvmopsError('unsupported', `host URI ${uri} is not qemu+ssh://: kvmops runs programs on a remote host over ssh only`);
  }
  const host = u.hostname;
  if (!HOST.test(host)) throw new KvmopsError('invalid-input', `host ${JSON.stringify(host)} in ${uri} is not a host name or address`);
  const user = decodeURIComponent(u.username);
  if (user && !USER.test(user)) throw new KvmopsError('invalid-input', `user ${JSON.stringify(user)} in ${uri} is not a user name`);
  const keyfile = u.searchParams.get('keyfile') ?? undefined;
  if (keyfile !== undefined && !keyfile.startsWith('/')) throw new KvmopsError('invalid-input', `keyfile in ${uri} must be an absolute path`);
  const port = u.port ? Number(u.port) : undefined;
  return {
    host: host.replace(/^\[(.*)\]$/, '$1'),
    ...(user ? { user } : {}),
    ...(port !== undefined ? { port } : {}),
    ...(keyfile !== undefined ? { keyfile } : {}),
    noVerify: u.searchParams.get('no_verify') === '1',
  };
}

export const sshArgs = toolBuilders(SSH, {
  /**
   * `program args…` on the target, its stdin, stdout, stderr and exit code passed through (ssh
   * exits 255 for its own failures). BatchMode: never a prompt (kvmops runs unattended);
   * `-T`: no terminal; `-e none`: no escape character in a binary stream; `--`: the
   * destination is never an option.
   */
  exec: (t: SshTarget, program: string, args: readonly string[]): string[] => [
    '-T',
    '-e',
    'none',
    '-o',
    'BatchMode=yes',
    '-o',
    'ConnectTimeout=10',
    ...(t.noVerify ? ['-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'LogLevel=ERROR'] : []),
    ...(t.keyfile !== undefined ? ['-i', t.keyfile, '-o', 'IdentitiesOnly=yes'] : []),
    ...(t.port !== undefined ? ['-p', String(t.port)] : []),
    ...(t.user !== undefined ? ['-l', t.user] : []),
    '--',
    t.host,
    [program, ...args].map(shellQuote).join(' '),
  ],
});
