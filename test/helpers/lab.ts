/**
 * Lab hosts for tests: `scripts/lab-host.sh` makes a second KVM host on this machine in its own
 * network, mount and pid namespaces, reached only as `qemu+ssh://root@ADDR/system` with a key.
 *
 * Skipping: outside CI a lab test skips when it cannot run here (not root, sshd or dnsmasq
 * missing: `scripts/host-setup.sh --lab`); the reason says which. Under CI=true nothing skips:
 * `.ci/run` installs what the lab needs.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { StorageLayout } from '../../src/hypervisor/storage.js';
import { cleanupEnv, libvirtAvailable, type LibvirtTestEnv } from './libvirt.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const LAB_SCRIPT = path.join(REPO, 'scripts/lab-host.sh');

export interface Lab {
  name: string;
  /** The lab's address on its veth pair (198.18.I.2). */
  addr: string;
  /** `qemu+ssh://root@ADDR/system?keyfile=…&no_verify=1&no_tty=1`. */
  uri: string;
  /** The storage dir as the lab sees it; not the same folder on this machine. */
  storage: string;
  key: string;
  /** The libvirt network for guests (with `guestNet`). */
  guestNet?: string;
  guestSubnet?: string;
  /** Runs a program inside the lab's namespaces. */
  exec(program: string, ...args: string[]): { status: number | null; stdout: string; stderr: string };
  /** A program inside the lab that must succeed: its stdout. */
  run(program: string, ...args: string[]): string;
  /** virsh on the lab, over its qemu+ssh URI, from this machine; must succeed: its stdout. */
  virsh(...args: string[]): string;
  down(): void;
}

function lab(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync('bash', [LAB_SCRIPT, ...args], { encoding: 'utf8', env: { ...process.env, LC_ALL: 'C' } });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Why a lab cannot run here, or false. Under CI=true never a reason: the test fails instead. */
export function labSkipReason(): string | false {
  if (process.env.CI === 'true') return false;
  if (!libvirtAvailable()) return 'virsh is not installed';
  if (process.getuid?.() !== 0) return 'a lab host needs root (network and mount namespaces)';
  for (const p of ['/usr/sbin/sshd', '/usr/sbin/dnsmasq']) if (!existsSync(p)) return `${p} missing: scripts/host-setup.sh --lab`;
  return false;
}

/** A lab with a fresh random name (`t` + 6 hex); `down()` removes it. */
export function labUp(opts: { guestNet?: boolean } = {}): Lab {
  const name = `t${randomBytes(3).toString('hex')}`;
  const r = lab('up', name, ...(opts.guestNet ? ['--guest-net'] : []));
  if (r.status !== 0) {
    lab('down', name);
    throw new Error(`scripts/lab-host.sh up ${name} failed (${r.status}): ${r.stderr}`);
  }
  const env = new Map<string, string>();
  for (const line of r.stdout.split('\n')) {
    const m = /^([A-Z_]+)='(.*)'$/.exec(line);
    if (m) env.set(m[1]!, m[2]!);
  }
  const need = (k: string) => {
    const v = env.get(k);
    if (v === undefined) throw new Error(`lab-host.sh up printed no ${k}: ${r.stdout}`);
    return v;
  };
  return {
    name,
    addr: need('LAB_ADDR'),
    uri: need('LAB_URI'),
    storage: need('LAB_STORAGE'),
    key: need('LAB_KEY'),
    ...(env.has('LAB_GUEST_NET') ? { guestNet: env.get('LAB_GUEST_NET')!, guestSubnet: env.get('LAB_GUEST_SUBNET')! } : {}),
    exec: (program, ...args) => lab('exec', name, program, ...args),
    run: (program, ...args) => {
      const r = lab('exec', name, program, ...args);
      if (r.status !== 0) throw new Error(`${program} ${args.join(' ')} (in the lab) exited ${r.status}: ${r.stderr}`);
      return r.stdout;
    },
    virsh: (...args) => {
      const r = spawnSync('virsh', ['-q', '-c', need('LAB_URI'), ...args], { encoding: 'utf8', env: { ...process.env, LC_ALL: 'C' } });
      if (r.status !== 0) throw new Error(`virsh ${args.join(' ')} (on the lab) exited ${r.status}: ${r.stderr}`);
      return r.stdout;
    },
    down: () => {
      const d = lab('down', name);
      if (d.status !== 0) throw new Error(`lab-host.sh down ${name}: ${d.stderr}`);
    },
  };
}

/** A program run inside the lab that must succeed: its stdout. */
export function inLab(l: Lab, program: string, ...args: string[]): string {
  const r = l.exec(program, ...args);
  if (r.status !== 0) throw new Error(`${program} ${args.join(' ')} in lab ${l.name} failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}

/** `virsh -q` from this machine against the lab's URI, which must succeed: its stdout. */
export function labVirsh(l: Lab, ...args: string[]): string {
  const r = spawnSync('virsh', ['-q', '-c', l.uri, ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`virsh ${args.join(' ')} on lab ${l.name} failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}

/** Every character class a shell would act on, in one file name (no `/`, no NUL: a file name can't hold them). */
export const HOSTILE_FILE_NAME = `a b'c"d;$(touch kvmops-pwned)\`touch kvmops-pwned2\`|&*e`;

/** The commands hidden in HOSTILE_FILE_NAME never ran in the lab: the files they would make, if any (expect ''). */
export function pwnedFiles(l: Lab): string {
  return l.exec('sh', '-c', 'ls /kvmops-pwned* /tmp/kvmops-pwned* ~/kvmops-pwned* 2>/dev/null; true').stdout;
}

/**
 * A test's after() with a lab and the local host sharing one KVMOPS_STORAGE_DIR: the lab down,
 * then what the local host made of that storage dir (its pools, folders), then the test env.
 */
export function labTeardown(lab: Lab | undefined, env: LibvirtTestEnv | undefined, storage: StorageLayout | undefined, storageDir: string): void {
  try {
    lab?.down();
  } finally {
    if (storage && env) cleanupEnv(env.prefix, storage, [storageDir]);
    env?.cleanup();
  }
}
