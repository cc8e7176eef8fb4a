import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { run, type RunResult } from './exec.js';
import { BASH, scriptArgs } from './scripts-args.js';
import type { ToolArgs } from './tool-args.js';

/**
 * The repository's host scripts, for the demo kit (src/demo): the guest image and lab hosts.
 * The bot itself never runs them. Paths are the repository's (`scripts/`), two folders above
 * this file in `src/` and in `dist/` alike.
 */

const SCRIPTS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../scripts');
const GUEST_IMAGE = path.join(SCRIPTS, 'guest-image.sh');
const LAB_HOST = path.join(SCRIPTS, 'lab-host.sh');

export interface LabEnv {
  name: string;
  /** `qemu+ssh://root@ADDR/system?keyfile=…&no_verify=1&no_tty=1` */
  uri: string;
  addr: string;
  /** The storage dir as the lab sees it. */
  storage: string;
  /** The libvirt network for guests (`--guest-net`). */
  guestNet: string | undefined;
  /** The lab's state folder on this machine (outside /tmp, so the lab sees it too). */
  dir: string;
}

/** The guest image's path: built (first time: ~2 min with downloads) or found cached. */
export async function guestImage(opts: { signal?: AbortSignal } = {}): Promise<string> {
  const r = await run(BASH, scriptArgs.guestImage(GUEST_IMAGE), { timeoutMs: 30 * 60_000, signal: opts.signal });
  const last = r.stdout.trim().split('\n').at(-1) ?? '';
  if (!last.startsWith('/')) throw new Error(`guest-image.sh printed no path: ${r.stdout.slice(-200)}`);
  return last;
}

/** `LAB_X='v'` lines → record. Pure. */
export function parseLabEnv(stdout: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of stdout.split('\n')) {
    const m = /^([A-Z_]+)='(.*)'$/.exec(line);
    if (m) env[m[1]!] = m[2]!;
  }
  return env;
}

/** Lab `name` up (made, or found up), with a guest network when asked. */
export async function labUp(name: string, opts: { guestNet: boolean }): Promise<LabEnv> {
  const r = await run(BASH, scriptArgs.labUp(LAB_HOST, name, opts), { timeoutMs: 120_000 });
  const env = parseLabEnv(r.stdout);
  const need = (k: string) => {
    const v = env[k];
    if (v === undefined) throw new Error(`lab-host.sh up ${name} printed no ${k}`);
    return v;
  };
  return {
    name,
    uri: need('LAB_URI'),
    addr: need('LAB_ADDR'),
    storage: need('LAB_STORAGE'),
    guestNet: env.LAB_GUEST_NET,
    dir: path.dirname(need('LAB_KEY')).replace(/\/ssh$/, ''),
  };
}

export async function labDown(name: string): Promise<void> {
  await run(BASH, scriptArgs.labDown(LAB_HOST, name), { timeoutMs: 120_000 });
}

/** `program args…` inside lab `name` (its network reaches the guests); a failure throws. */
export async function labExec<P extends string>(name: string, program: P, args: ToolArgs<P>, opts: { timeoutMs?: number } = {}): Promise<RunResult> {
  return run(BASH, scriptArgs.labExec(LAB_HOST, name, program, args), { timeoutMs: opts.timeoutMs ?? 120_000 });
}
