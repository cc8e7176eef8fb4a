import { toolBuilders, type ToolArgs } from './tool-args.js';

/** `virt-sysprep` argv builders. The program itself is found at run time (sysprep.ts). */

export const VIRT_SYSPREP = 'virt-sysprep';

export type SysprepArgs = ToolArgs<typeof VIRT_SYSPREP>;

/**
 * A systemd drop-in that makes missing SSH host keys before sshd starts. Sealing removes the
 * host keys (the `ssh-hostkeys` operation), and Debian's sshd does not make them by itself: it
 * would refuse to start on every VM of the template. `ssh-keygen -A` makes only the missing
 * ones, so each VM gets its own at first boot and keeps them after; `-` lets sshd start anyway
 * on a guest without ssh-keygen. (cloud-init, when a seed runs it, makes its own too.)
 */
export const HOST_KEYS_DROPIN_DIR = '/etc/systemd/system/ssh.service.d';
export const HOST_KEYS_DROPIN = `${HOST_KEYS_DROPIN_DIR}/kvmops-host-keys.conf`;
const HOST_KEYS_UNIT = '[Service]\nExecStartPre=-/usr/bin/ssh-keygen -A\n';

export const sysprepArgs = toolBuilders(VIRT_SYSPREP, {
  /** Prints the version and exits 0: is the program there (and runnable) at all. */
  version: (): string[] => ['--version'],
  /**
   * Seals one guest: every disk as its own `-a`, in one run (virt-sysprep sees the whole guest),
   * format given, not probed. Beyond the default operations, so that VMs of one template are
   * distinct machines:
   *  - `/etc/machine-id` left EMPTY: the defaults' customize step writes one new random id into
   *    the template, which every clone would then share — one DHCP identity for all of them, so
   *    only one gets a lease (measured). Empty, systemd makes a new one at each VM's first boot;
   *  - cloud-init's state (`/var/lib/cloud/*`, what `cloud-init clean` removes) deleted, so each
   *    VM runs its first-boot modules for its own seed;
   *  - the host-keys drop-in above.
   */
  seal: (files: readonly string[]): string[] => [
    '--format',
    'qcow2',
    ...files.flatMap((f) => ['-a', f]),
    '--truncate',
    '/etc/machine-id',
    '--delete',
    '/var/lib/cloud/*',
    '--mkdir',
    HOST_KEYS_DROPIN_DIR,
    '--write',
    `${HOST_KEYS_DROPIN}:${HOST_KEYS_UNIT}`,
  ],
});
