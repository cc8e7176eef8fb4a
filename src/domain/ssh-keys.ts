import { createHash } from 'node:crypto';
import { KvmopsError } from './errors.js';

/**
 * OpenSSH public keys as people paste them for `/key add` (one `authorized_keys` line without
 * options: `TYPE BASE64 [comment]`). Accepted: ssh-ed25519, ecdsa-sha2-nistp256/384/521 and
 * ssh-rsa of at least 2048 bits. The base64 blob must decode to a key of the type the line
 * names, with nothing left over: a truncated paste, a private key, a key with options in front
 * or a type/blob mismatch is refused with a reason the person can act on.
 *
 * A parsed key is written back in a canonical form (`TYPE BASE64 comment`, single spaces), so
 * what reaches a guest is exactly one line whatever was pasted.
 */

export const MIN_RSA_BITS = 2048;
const MAX_COMMENT = 200;

export type SshKeyType = 'ssh-ed25519' | 'ecdsa-sha2-nistp256' | 'ecdsa-sha2-nistp384' | 'ecdsa-sha2-nistp521' | 'ssh-rsa';

export interface SshPublicKey {
  type: SshKeyType;
  bits: number;
  /** `SHA256:…` as `ssh-keygen -lf` prints it. */
  fingerprint: string;
  comment: string;
  /** `TYPE BASE64 comment` (no comment: `TYPE BASE64`). */
  line: string;
}

const ECDSA_CURVES: Record<string, { curve: string; bits: number; pointBytes: number }> = {
  'ecdsa-sha2-nistp256': { curve: 'nistp256', bits: 256, pointBytes: 65 },
  'ecdsa-sha2-nistp384': { curve: 'nistp384', bits: 384, pointBytes: 97 },
  'ecdsa-sha2-nistp521': { curve: 'nistp521', bits: 521, pointBytes: 133 },
};

function refuse(reason: string): never {
  throw new KvmopsError('invalid-input', `not an accepted SSH public key: ${reason}`);
}

/** Reads the SSH wire format's length-prefixed strings from a blob. */
class Reader {
  private at = 0;
  constructor(private readonly buf: Buffer) {}
  string(): Buffer {
    if (this.at + 4 > this.buf.length) refuse('the key data is cut short (was the line copied whole?)');
    const len = this.buf.readUInt32BE(this.at);
    this.at += 4;
    if (this.at + len > this.buf.length) refuse('the key data is cut short (was the line copied whole?)');
    const s = this.buf.subarray(this.at, this.at + len);
    this.at += len;
    return s;
  }
  end(): void {
    if (this.at !== this.buf.length) refuse('the key data has bytes after the key');
  }
}

/** Bits of an SSH mpint (big-endian, two's complement, a leading 0 byte when the top bit is set). */
function mpintBits(b: Buffer): number {
  let i = 0;
  while (i < b.length && b[i] === 0) i++;
  if (i === b.length) return 0;
  return (b.length - i - 1) * 8 + (32 - Math.clz32(b[i]!));
}

/** The parsed key, or an `invalid-input` error saying what is wrong with the line. */
export function parseSshPublicKey(text: string): SshPublicKey {
  const input = text.trim();
  if (input === '') refuse('it is empty');
  if (/[\r\n]/.test(input)) refuse('paste one key, on one line');
  if (/PRIVATE KEY/.test(input)) refuse('this is a private key; paste the .pub file (and keep the private key secret)');
  const m = /^(\S+)\s+(\S+)(?:\s+(.*))?$/.exec(input);
  if (!m) refuse('expected "TYPE BASE64 [comment]", e.g. the contents of ~/.ssh/id_ed25519.pub');
  const [, type, b64, rawComment = ''] = m as unknown as [string, string, string, string | undefined];
  if (!isAcceptedType(type)) {
    if (/^(sk-|ssh-dss)/.test(type)) refuse(`type ${type} is not accepted (use ed25519, ecdsa or rsa ≥ ${MIN_RSA_BITS} bits)`);
    refuse(`it should start with the key type (ssh-ed25519, ecdsa-sha2-nistp256/384/521 or ssh-rsa), not "${type.slice(0, 40)}"${type.includes('=') || type.includes(',') ? ' (options before the key are not accepted)' : ''}`);
  }
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64) || b64.length % 4 !== 0) refuse('the key data is not valid base64');
  const blob = Buffer.from(b64, 'base64');
  const r = new Reader(blob);
  const inner = r.string().toString('latin1');
  if (inner !== type) refuse(`the line says ${type} but the key data holds ${inner.slice(0, 40)}`);
  let bits: number;
  if (type === 'ssh-ed25519') {
    if (r.string().length !== 32) refuse('an ed25519 key is 32 bytes');
    bits = 256;
  } else if (type === 'ssh-rsa') {
    const e = r.string();
    const n = r.string();
    if (mpintBits(e) < 2 || (e[e.length - 1]! & 1) === 0) refuse('the RSA exponent is not valid');
    bits = mpintBits(n);
    if (bits < MIN_RSA_BITS) refuse(`RSA keys need at least ${MIN_RSA_BITS} bits; this one has ${bits}`);
  } else {
    const spec = ECDSA_CURVES[type]!;
    if (r.string().toString('latin1') !== spec.curve) refuse(`the key data does not name curve ${spec.curve}`);
    const point = r.string();
    if (point.length !== spec.pointBytes || point[0] !== 4) refuse(`not an uncompressed ${spec.curve} point`);
    bits = spec.bits;
  }
  r.end();
  const comment = rawComment.trim().replace(/\s+/g, ' ');
  if (comment.length > MAX_COMMENT) refuse(`the comment is longer than ${MAX_COMMENT} characters`);
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x1f\x7f]/.test(comment)) refuse('the comment holds control characters');
  const fingerprint = `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
  const canonical = blob.toString('base64');
  return { type, bits, fingerprint, comment, line: comment ? `${type} ${canonical} ${comment}` : `${type} ${canonical}` };
}

function isAcceptedType(t: string): t is SshKeyType {
  return t === 'ssh-ed25519' || t === 'ssh-rsa' || Object.hasOwn(ECDSA_CURVES, t);
}

// --- names of stored keys (`/key add … name`) ------------------------------------------------

/** A key's name: 1–63 of `A-Z a-z 0-9 . _ @ -`, starting with a letter or digit (`alice@laptop` fits). */
export const SSH_KEY_NAME = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,62}$/;

/** The most keys one person may store: every deploy they ask for carries them all in its payload. */
export const MAX_KEYS_PER_PERSON = 20;

/** Why `name` is not a key name, or null when it is. */
export function sshKeyNameProblem(name: string): string | null {
  if (SSH_KEY_NAME.test(name)) return null;
  return 'must be 1–63 characters of A-Z a-z 0-9 . _ @ -, starting with a letter or digit';
}

/**
 * Names to try, in order, for a key added without one: its comment when that is a valid name
 * (`alice@laptop`), else its type (`ed25519`, `ecdsa`, `rsa`); then those with `-2`, `-3` ….
 */
export function defaultKeyNames(key: SshPublicKey): string[] {
  const short = key.type === 'ssh-ed25519' ? 'ed25519' : key.type === 'ssh-rsa' ? 'rsa' : 'ecdsa';
  const base = SSH_KEY_NAME.test(key.comment) && key.comment.length <= 59 ? key.comment : short;
  return [base, ...Array.from({ length: MAX_KEYS_PER_PERSON }, (_, i) => `${base}-${i + 2}`)];
}
