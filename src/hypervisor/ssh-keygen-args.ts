import { toolBuilders, type ToolArgs } from './tool-args.js';

/** `ssh-keygen` argv builders (the demo's key pair: src/demo/guest.ts). */

export const SSH_KEYGEN = 'ssh-keygen';

export type SshKeygenArgs = ToolArgs<typeof SSH_KEYGEN>;

export const sshKeygenArgs = toolBuilders(SSH_KEYGEN, {
  /** A new ed25519 key pair without a passphrase at `file` (and `file.pub`), quietly. */
  newKey: (file: string, comment: string): string[] => ['-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', file],
});
