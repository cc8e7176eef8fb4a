import { access, readFile, readdir } from 'node:fs/promises';
import { constants } from 'node:fs';
import path from 'node:path';
import { KvmopsError } from '../domain/errors.js';
import { CAT, catArgs, TEST, testArgs } from './coreutils-args.js';
import { ENV, envArgs } from './env-args.js';
import { CommandError, run, type RunResult } from './exec.js';
import { runOverSsh, type RemoteShell } from './remote-exec.js';
import { sysprepArgs, VIRT_SYSPREP } from './sysprep-args.js';
import type { ToolArgs } from './tool-args.js';

/**
 * Sealing a template with virt-sysprep, on the host that holds its disks: here, or on a remote
 * host over its ssh transport (remote-exec.ts). virt-sysprep boots a small appliance with
 * supermin, which needs a host kernel; this image has none installed, so
 * `scripts/host-setup.sh --seal` fetches one and writes its location as `export VAR=…` lines
 * (SUPERMIN_KERNEL, SUPERMIN_MODULES, SUPERMIN_KERNEL_VERSION, LIBGUESTFS_BACKEND=direct) into
 * the supermin env file, which is loaded into virt-sysprep's environment (over ssh: the remote
 * host's own file, passed through `env`, env-args.ts).
 */

export const DEFAULT_SUPERMIN_ENV = '/var/lib/kvmops-host/supermin.env';

export interface SysprepOptions {
  /** Default `virt-sysprep` (from PATH). */
  program?: string;
  /** Default $KVMOPS_SUPERMIN_ENV or /var/lib/kvmops-host/supermin.env. */
  envFile?: string;
  timeoutMs?: number;
}

const HINT = 'run `scripts/host-setup.sh --seal` on the host, or create the template with seal:false';

/** `export K=V` / `K="V"` lines → record; other lines ignored. */
export function parseEnvFile(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const raw of text.split('\n')) {
    const m = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(raw);
    if (!m) continue;
    let v = m[2]!.trim();
    if ((v.startsWith('"') && v.endsWith('"')) || (v.startsWith("'") && v.endsWith("'"))) v = v.slice(1, -1);
    env[m[1]!] = v;
  }
  return env;
}

async function exists(p: string, mode = constants.F_OK): Promise<boolean> {
  return access(p, mode).then(
    () => true,
    () => false,
  );
}

async function findInPath(program: string): Promise<string | null> {
  if (program.includes('/')) return (await exists(program, constants.X_OK)) ? program : null;
  for (const dir of (process.env.PATH ?? '').split(':').filter(Boolean)) {
    const p = path.join(dir, program);
    if (await exists(p, constants.X_OK)) return p;
  }
  return null;
}

export interface SysprepSetup {
  /** The program to run: a full path locally; over ssh, the name the remote PATH finds. */
  program: string;
  env: Record<string, string>;
  /** The remote host's shell when it runs there (over ssh, through `env`); null: here. */
  remote: RemoteShell | null;
}

/**
 * What a libguestfs program (`program`: virt-sysprep, guestfish) needs on the host that holds
 * the disks — here, or on `remote` over ssh — or a `sysprep-unavailable` error naming what is
 * missing. Nothing is changed anywhere: callers check this before copying a disk.
 */
export async function sysprepSetup(opts: SysprepOptions = {}, remote: RemoteShell | null = null): Promise<SysprepSetup> {
  const program = opts.program ?? VIRT_SYSPREP;
  if (remote) return remoteSetup(program, remote);
  const found = await findInPath(program);
  if (!found) {
    throw new KvmopsError('sysprep-unavailable', `cannot seal: ${program} is not installed (Debian package libguestfs-tools); ${HINT}`, {
      details: { missing: 'virt-sysprep' },
    });
  }
  const envFile = opts.envFile ?? process.env.KVMOPS_SUPERMIN_ENV ?? DEFAULT_SUPERMIN_ENV;
  let env: Record<string, string> = {};
  if (await exists(envFile)) env = parseEnvFile(await readFile(envFile, 'utf8'));
  const kernel = env.SUPERMIN_KERNEL;
  if (kernel) {
    if (!(await exists(kernel))) {
      throw new KvmopsError(
        'sysprep-unavailable',
        `cannot seal: the appliance kernel ${kernel} named in ${envFile} does not exist; ${HINT}`,
        { details: { missing: 'kernel', kernel, envFile } },
      );
    }
  } else {
    const boot = await readdir('/boot').catch(() => [] as string[]);
    if (!boot.some((f) => f.startsWith('vmlinuz-'))) {
      throw new KvmopsError(
        'sysprep-unavailable',
        `cannot seal: virt-sysprep's appliance needs a kernel and none was found (no ${envFile}, no /boot/vmlinuz-*); ${HINT}`,
        { details: { missing: 'kernel', envFile } },
      );
    }
  }
  return { program: found, env, remote: null };
}

/**
 * The same on a remote host, over its ssh transport: its own supermin env file (at the default
 * path: `scripts/host-setup.sh --seal` run THERE writes it; this process's KVMOPS_SUPERMIN_ENV
 * names a local file), the program found by the remote PATH (`--version` through `env` with
 * those variables: exit 127 = not installed), and the kernel that file names. Three ssh calls.
 */
async function remoteSetup(program: string, remote: RemoteShell): Promise<SysprepSetup> {
  const envFile = DEFAULT_SUPERMIN_ENV;
  const on = `on host ${remote.host}`;
  let env: Record<string, string> = {};
  try {
    env = parseEnvFile((await runOverSsh(remote, CAT, catArgs.file(envFile), { timeoutMs: 30_000 })).stdout);
  } catch (e) {
    // no env file there: the remote's own kernel, as locally with no env file
    if (!(e instanceof CommandError && e.exitCode === 1 && /No such file/.test(e.stderr))) throw e;
  }
  try {
    await runOverSsh(remote, ENV, envArgs.run(env, program as typeof VIRT_SYSPREP, sysprepArgs.version()), { timeoutMs: 60_000 });
  } catch (e) {
    if (e instanceof KvmopsError && e.cause instanceof CommandError && e.cause.exitCode === 127) {
      throw new KvmopsError('sysprep-unavailable', `cannot seal: ${program} is not installed ${on} (Debian package libguestfs-tools); ${HINT}`, {
        cause: e,
        details: { missing: 'virt-sysprep', host: remote.host },
      });
    }
    throw e;
  }
  const kernel = env.SUPERMIN_KERNEL;
  if (kernel) {
    try {
      await runOverSsh(remote, TEST, testArgs.exists(kernel), { timeoutMs: 30_000 });
    } catch (e) {
      if (!(e instanceof CommandError && e.exitCode === 1)) throw e;
      throw new KvmopsError('sysprep-unavailable', `cannot seal: the appliance kernel ${kernel} named in ${envFile} ${on} does not exist; ${HINT}`, {
        details: { missing: 'kernel', kernel, envFile, host: remote.host },
      });
    }
  }
  return { program, env, remote };
}

/**
 * Set once an appliance launch with KVM failed in this process: /dev/kvm can exist and still
 * be unusable for libguestfs' `-cpu max` (observed here, nested: "failed to set MSR 0x10a").
 */
let kvmBroken = false;

/**
 * A libguestfs program (`setup.program`, with `args` from its builder) here or on the remote
 * host, with the supermin env file's variables. If the appliance fails to launch with KVM, it
 * is tried once more under TCG (`LIBGUESTFS_BACKEND_SETTINGS=force_tcg`, unless the env file
 * sets that variable itself).
 */
export async function runGuestfs<P extends string>(
  setup: SysprepSetup,
  args: ToolArgs<P>,
  opts: { timeoutMs: number; signal?: AbortSignal | undefined; onLine?: (line: string) => void },
): Promise<RunResult> {
  const pinned = setup.env.LIBGUESTFS_BACKEND_SETTINGS !== undefined || (!setup.remote && process.env.LIBGUESTFS_BACKEND_SETTINGS !== undefined);
  const attempt = (tcg: boolean) => {
    const env = tcg ? { ...setup.env, LIBGUESTFS_BACKEND_SETTINGS: 'force_tcg' } : setup.env;
    const runOpts = { timeoutMs: opts.timeoutMs, signal: opts.signal, ...(opts.onLine ? { onLine: (l: string) => opts.onLine!(l) } : {}) };
    return setup.remote
      ? runOverSsh(setup.remote, ENV, envArgs.run(env, setup.program as P, args), runOpts)
      : run(setup.program, args, { ...runOpts, env });
  };
  try {
    return await attempt(!pinned && kvmBroken);
  } catch (e) {
    if (pinned || kvmBroken || !(e instanceof CommandError) || e.code !== 'command-failed' || !/guestfs_launch failed/.test(e.stderr)) throw e;
    kvmBroken = true;
    return await attempt(true);
  }
}

/**
 * Seal the disks of one guest (all `-a` in one run: virt-sysprep sees the whole guest), here or
 * on `remote` (the host that holds them) over ssh.
 */
export async function sysprep(
  files: readonly string[],
  opts: SysprepOptions & { signal?: AbortSignal | undefined; onLine?: (line: string) => void; remote?: RemoteShell | null } = {},
): Promise<void> {
  const setup = await sysprepSetup(opts, opts.remote ?? null);
  try {
    await runGuestfs(setup, sysprepArgs.seal(files), {
      timeoutMs: opts.timeoutMs ?? 900_000,
      signal: opts.signal,
      ...(opts.onLine ? { onLine: opts.onLine } : {}),
    });
  } catch (e) {
    if (e instanceof CommandError && e.code === 'command-failed' && /supermin: failed to find a suitable kernel|cannot find kernel/i.test(e.stderr)) {
      throw new KvmopsError('sysprep-unavailable', `cannot seal: virt-sysprep's appliance found no kernel; ${HINT}`, {
        cause: e,
        details: { missing: 'kernel' },
      });
    }
    throw e;
  }
}
