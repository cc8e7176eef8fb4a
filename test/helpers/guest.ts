/**
 * Real-guest test helpers: the Debian image that `scripts/guest-image.sh` builds (or reuses),
 * TCG domains that boot it with their serial console logged to a file, and the guest agent.
 *
 * Skipping: outside CI a guest test may skip when the image cannot be built here (not root,
 * the builder's packages missing, the build failing); the reason says which. Under CI=true
 * nothing skips: `.ci/run` installs what the builder needs (`scripts/host-setup.sh --guest`).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createDisk, defineXml, makeTestEnv, virshMaybe, type LibvirtTestEnv } from './libvirt.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const BUILDER = path.join(REPO, 'scripts/guest-image.sh');

/** The hostname baked into the image (scripts/guest-image.sh HOSTNAME_IN_IMAGE). */
export const IMAGE_HOSTNAME = 'kvmops-guest';

export interface GuestImage {
  path: string;
  /** Seconds the builder run took (a full build or a cache hit). */
  seconds: number;
  /** True when this run built the image, false when it was already cached. */
  built: boolean;
}

/** Runs the builder (build or reuse); throws with the builder's stderr on failure. */
export function buildGuestImage(): GuestImage {
  const existedBefore = imagePathIfCached() !== undefined;
  const t0 = performance.now();
  const r = spawnSync('bash', [BUILDER], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  const seconds = (performance.now() - t0) / 1000;
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`scripts/guest-image.sh failed (${r.status}):\n${tail(r.stderr, 30)}`);
  const lines = r.stdout.trim().split('\n');
  const image = lines[lines.length - 1]!;
  if (!existsSync(image)) throw new Error(`scripts/guest-image.sh printed ${image}, which does not exist`);
  return { path: image, seconds, built: !existedBefore };
}

/** The cached image's path, or undefined when it has not been built for the current recipe. */
export function imagePathIfCached(): string | undefined {
  const r = spawnSync('bash', [BUILDER, '--path'], { encoding: 'utf8' });
  const p = r.status === 0 ? r.stdout.trim() : '';
  return p && existsSync(p) ? p : undefined;
}

/**
 * The image for a test, or `{ skip }` with the reason outside CI when it cannot be had here.
 * Under CI=true a failure throws.
 */
export function guestImageOrSkip(): GuestImage | { skip: string } {
  const ci = process.env.CI === 'true';
  if (!ci && imagePathIfCached() === undefined) {
    if (process.getuid?.() !== 0) return { skip: 'building the guest image needs root (set CI=true to make this fail instead)' };
    for (const p of ['mmdebstrap', 'grub-mkimage', 'sfdisk']) {
      if (spawnSync('sh', ['-c', `command -v ${p}`]).status !== 0) {
        return { skip: `${p} is missing: run scripts/host-setup.sh --guest (set CI=true to make this fail instead)` };
      }
    }
  }
  try {
    return buildGuestImage();
  } catch (e) {
    if (ci) throw e;
    return { skip: `the guest image could not be built here: ${(e as Error).message}` };
  }
}

/** How long a suite's `before` may take to build the image (cold, on a busy machine). */
export const BUILD_TIMEOUT_MS = 20 * 60_000;

export interface GuestSuite {
  env: LibvirtTestEnv;
  /** The image, or why the suite's tests skip (outside CI only). */
  image: GuestImage | { skip: string };
}

/**
 * Call inside a `describe`: registers the hooks that make a test env (`label`) and get the
 * image before the tests, and remove everything the env made after them.
 */
export function guestSuite(label: string): GuestSuite {
  const suite = {} as GuestSuite;
  before(
    () => {
      suite.env = makeTestEnv(label);
      suite.image = guestImageOrSkip();
    },
    { timeout: BUILD_TIMEOUT_MS },
  );
  after(() => suite.env?.cleanup());
  return suite;
}

export interface GuestVm {
  name: string;
  overlay: string;
  consoleLog: string;
}

/**
 * Defines a `type='qemu'` domain (TCG, 1 vCPU, `memoryMiB`, default 768) on a thin overlay of
 * `image` in `dir`, its serial console (ttyS0) logged to `dir/<name>.console.log`, and the
 * guest agent's virtio-serial channel. No NIC unless `nic` (`user`: QEMU's user-mode network).
 * ACPI on, as virt-install makes it: without it the guest never sees the power button, and a
 * shutdown request (`/vm stop`) went unanswered for 6 minutes.
 */
export function defineGuest(
  name: string,
  image: string,
  dir: string,
  opts: { memoryMiB?: number; nic?: 'user'; seedIso?: string; uuid?: string } = {},
): GuestVm {
  const overlay = createDisk(path.join(dir, `${name}.qcow2`), { backing: image });
  const consoleLog = path.join(dir, `${name}.console.log`);
  const nic = opts.nic === 'user' ? `<interface type='user'><model type='virtio'/></interface>` : '';
  // A seed is a read-only CD-ROM, as Proxmox and oVirt attach theirs.
  const seed = opts.seedIso
    ? `<disk type='file' device='cdrom'><driver name='qemu' type='raw'/><source file='${opts.seedIso}'/><target dev='hdc' bus='ide'/><readonly/></disk>`
    : '';
  const uuid = opts.uuid ? `<uuid>${opts.uuid}</uuid>` : '';
  const xml = `<domain type='qemu'><name>${name}</name>${uuid}<memory unit='MiB'>${opts.memoryMiB ?? 768}</memory><vcpu>1</vcpu>
<os><type arch='x86_64'>hvm</type><boot dev='hd'/></os>
<features><acpi/></features>
<devices>
<disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='${overlay}'/><target dev='vda' bus='virtio'/></disk>
${seed}
${nic}
<serial type='file'><source path='${consoleLog}'/><target port='0'/></serial>
<channel type='unix'><target type='virtio' name='org.qemu.guest_agent.0'/></channel>
</devices></domain>`;
  defineXml(xml);
  return { name, overlay, consoleLog };
}

/** The console log so far, without terminal escapes and carriage returns ('' before it exists). */
export function consoleText(vm: GuestVm): string {
  if (!existsSync(vm.consoleLog)) return '';
  // eslint-disable-next-line no-control-regex
  return readFileSync(vm.consoleLog, 'latin1').replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '').replace(/\r/g, '');
}

/**
 * Polls the console log until `pattern` matches or `timeoutMs` passes; the seconds it took.
 * Throws with the log's tail on timeout, or as soon as the domain stops running.
 */
export async function waitForConsole(vm: GuestVm, pattern: RegExp, timeoutMs: number): Promise<number> {
  const t0 = performance.now();
  for (;;) {
    if (pattern.test(consoleText(vm))) return (performance.now() - t0) / 1000;
    if (performance.now() - t0 > timeoutMs) {
      throw new Error(`no ${pattern} on ${vm.name}'s console in ${timeoutMs / 1000} s; its end:\n${tail(consoleText(vm), 25)}`);
    }
    const state = virshMaybe('domstate', vm.name).stdout.trim();
    if (state !== 'running') throw new Error(`${vm.name} is ${state} while waiting for ${pattern}; console end:\n${tail(consoleText(vm), 25)}`);
    await sleep(1000);
  }
}

/** One guest-agent command (`virsh qemu-agent-command`); its `return` value, or an error. */
export function agentCommand(domain: string, command: object, timeoutSeconds = 10): { ok: true; value: unknown } | { ok: false; error: string } {
  const r = virshMaybe('qemu-agent-command', domain, JSON.stringify(command), '--timeout', String(timeoutSeconds));
  if (!r.ok) return { ok: false, error: r.stderr.trim() };
  const parsed = JSON.parse(r.stdout) as { return?: unknown };
  if (!('return' in parsed)) return { ok: false, error: `no "return" in ${r.stdout.trim()}` };
  return { ok: true, value: parsed.return };
}

/** Polls guest-ping until the agent answers or `timeoutMs` passes; the seconds it took. */
export async function waitForAgent(vm: GuestVm, timeoutMs: number): Promise<number> {
  const t0 = performance.now();
  let last = '';
  for (;;) {
    const r = agentCommand(vm.name, { execute: 'guest-ping' }, 5);
    if (r.ok) return (performance.now() - t0) / 1000;
    last = r.error;
    if (performance.now() - t0 > timeoutMs) throw new Error(`${vm.name}'s guest agent did not answer in ${timeoutMs / 1000} s: ${last}`);
    await sleep(2000);
  }
}

export interface ExecResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs `argv` in the guest through the agent (`guest-exec`, then `guest-exec-status` until it
 * has exited or `timeoutMs` passes). No network needed.
 */
export async function guestExec(domain: string, argv: readonly string[], timeoutMs = 120_000): Promise<ExecResult> {
  const started = agentCommand(domain, { execute: 'guest-exec', arguments: { path: argv[0], arg: argv.slice(1), 'capture-output': true } });
  if (!started.ok) throw new Error(`guest-exec ${argv.join(' ')} on ${domain}: ${started.error}`);
  const pid = (started.value as { pid: number }).pid;
  const t0 = performance.now();
  for (;;) {
    const st = agentCommand(domain, { execute: 'guest-exec-status', arguments: { pid } });
    if (!st.ok) throw new Error(`guest-exec-status ${pid} on ${domain}: ${st.error}`);
    const v = st.value as { exited: boolean; exitcode?: number; 'out-data'?: string; 'err-data'?: string };
    if (v.exited) {
      const dec = (b?: string) => (b ? Buffer.from(b, 'base64').toString('utf8') : '');
      return { exitCode: v.exitcode ?? -1, stdout: dec(v['out-data']), stderr: dec(v['err-data']) };
    }
    if (performance.now() - t0 > timeoutMs) throw new Error(`${argv.join(' ')} on ${domain} still running after ${timeoutMs / 1000} s`);
    await sleep(1000);
  }
}

/** Size and modification time: equal before and after means the file was not written. */
export function fileStamp(file: string): string {
  const s = statSync(file);
  return `${s.size}@${s.mtimeMs}`;
}

function tail(text: string, lines: number): string {
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}
