import { z } from 'zod';
import { defineCommand, subcommand } from '../src/chat/command.js';
import { readReply } from '../src/chat/command-kit.js';
import { moment } from '../src/chat/people.js';
import { options, text } from '../src/chat/options.js';
import { MAX_KEYS_PER_PERSON, parseSshPublicKey, sshKeyNameProblem } from '../src/domain/ssh-keys.js';
import type { StoredSshKey } from '../src/jobs/types.js';

/**
 * /key — the typing person's own SSH public keys, kept in SQLite (src/jobs/key-*.ts). Every
 * deploy they ask for puts them, as they are at that moment, into each new VM's cloud-init seed
 * (with the team keys of KVMOPS_SSH_KEYS_FILE). Viewers and up; every reply is ephemeral.
 * A key is checked before anything is stored (src/domain/ssh-keys.ts: ed25519, ecdsa, rsa ≥ 2048
 * bits, the base64 data must parse) and shown by its fingerprint as `ssh-keygen -l` prints it.
 */

/** Longer than any accepted key line; Discord's own cap for a string option is 6,000. */
export const KEY_OPTION_MAX = 4096;

const keyNameSchema = z.string().superRefine((s, ctx) => {
  const problem = sshKeyNameProblem(s);
  if (problem) ctx.addIssue({ code: z.ZodIssueCode.custom, message: problem });
});

/** `ssh-keygen -l` style: `256 SHA256:… (ED25519)`. */
export function fingerprintText(k: Pick<StoredSshKey, 'bits' | 'fingerprint' | 'type'>): string {
  const label = k.type === 'ssh-ed25519' ? 'ED25519' : k.type === 'ssh-rsa' ? 'RSA' : 'ECDSA';
  return `${k.bits} ${k.fingerprint} (${label})`;
}

export function keyLine(k: StoredSshKey): string {
  const comment = k.line.split(' ').slice(2).join(' ');
  return `${k.name} · ${fingerprintText(k)}${comment ? ` · ${comment}` : ''} · added ${moment(k.createdAt)}`;
}

export default defineCommand({
  name: 'key',
  description: 'Your SSH public keys, put into the VMs you deploy',
  subcommands: [
    subcommand({
      name: 'add',
      description: 'Add an SSH public key (the contents of ~/.ssh/id_ed25519.pub)',
      role: 'viewer',
      mutates: true,
      defer: false,
      options: options({
        key: text('OpenSSH public key: TYPE BASE64 [comment]', z.string().max(KEY_OPTION_MAX), { maxLength: KEY_OPTION_MAX }),
        name: text("A name for it (default: its comment, or its type)", keyNameSchema, { maxLength: 63 }).optional(),
      }),
      async handle({ options: o, services, user }) {
        const key = parseSshPublicKey(o.key);
        const stored = await services.keys.add(user.id, key, o.name);
        return {
          visibility: 'ephemeral',
          title: `Key "${stored.name}" added`,
          lines: [fingerprintText(stored), 'The VMs you deploy from now on get it (VMs made before keep what they had).'],
          tone: 'success',
        };
      },
    }),
    subcommand({
      name: 'list',
      description: 'Your SSH public keys',
      role: 'viewer',
      mutates: false,
      defer: false,
      options: options({}),
      async handle({ services, user }) {
        const keys = await services.keys.list(user.id);
        return readReply(`Your SSH keys (${keys.length} of at most ${MAX_KEYS_PER_PERSON})`, keys.length ? keys.map(keyLine) : ['(none: add one with /key add key:…)']);
      },
    }),
    subcommand({
      name: 'remove',
      description: 'Remove one of your SSH public keys',
      role: 'viewer',
      mutates: true,
      defer: false,
      options: options({ name: text('Name of the key (see /key list)', keyNameSchema, { maxLength: 63 }) }),
      async handle({ options: o, services, user }) {
        const gone = await services.keys.remove(user.id, o.name);
        return {
          visibility: 'ephemeral',
          title: `Key "${gone.name}" removed`,
          lines: [fingerprintText(gone), 'VMs already deployed keep it in their authorized_keys: remove it there too if it must go.'],
          tone: 'success',
        };
      },
    }),
  ],
});
