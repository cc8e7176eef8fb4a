import { access, readFile, readdir } from 'node:fs/promises';
import { constants } from 'node:fs';
import path from 'node:path';
import { KvmopsError } from '../domain/errors.js';
import { CommandError, run } from './exec.js';
import { sysprepArgs } from './sysprep-args.js';

/**
 * Sealing a template with virt-sysprep (local hosts). virt-sysprep boots a small appliance with
 * supermin, which needs a host kernel; this image has none installed, so
 * `scripts/host-setup.sh --seal` fetches one and writes its location as `export VAR=…` lines
 * (SUPERMIN_KERNEL, SUPERMIN_MODULES, SUPERMIN_KERNEL_VERSION, LIBGUESTFS_BACKEND=direct) into
 * the supermin env file, which is loaded into virt-sysprep's environment here.
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
  program: string;
  env: Record<string, string>;
}

/** What virt-sysprep needs, or a `sysprep-unavailable` error naming what is missing. */
export async function sysprepSetup(opts: SysprepOptions = {}): Promise<SysprepSetup> {
  const program = opts.program ?? 'virt-sysprep';
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
  return { program: found, env };
}

/**
 * Set once an appliance launch with KVM failed in this process: /dev/kvm can exist and still
 * be unusable for libguestfs' `-cpu max` (observed here, nested: "failed to set MSR 0x10a").
 */
let kvmBroken = false;

/**
 * Seal the disks of one guest (all `-a` in one run: virt-sysprep sees the whole guest). If the
 * appliance fails to launch with KVM, it is tried once more under TCG
 * (`LIBGUESTFS_BACKEND_SETTINGS=force_tcg`, unless the env file sets that variable itself).
 */
export async function sysprep(
  files: readonly string[],
  opts: SysprepOptions & { signal?: AbortSignal | undefined; onLine?: (line: string) => void } = {},
): Promise<void> {
  const setup = await sysprepSetup(opts);
  const args = sysprepArgs.seal(files);
  const pinned = setup.env.LIBGUESTFS_BACKEND_SETTINGS !== undefined || process.env.LIBGUESTFS_BACKEND_SETTINGS !== undefined;
  const attempt = (tcg: boolean) =>
    run(setup.program, args, {
      timeoutMs: opts.timeoutMs ?? 900_000,
      signal: opts.signal,
      env: tcg ? { ...setup.env, LIBGUESTFS_BACKEND_SETTINGS: 'force_tcg' } : setup.env,
      ...(opts.onLine ? { onLine: (l: string) => opts.onLine!(l) } : {}),
    });
  try {
    try {
      await attempt(!pinned && kvmBroken);
    } catch (e) {
      if (pinned || kvmBroken || !(e instanceof CommandError) || e.code !== 'command-failed' || !/guestfs_launch failed/.test(e.stderr)) throw e;
      kvmBroken = true;
      await attempt(true);
    }
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
