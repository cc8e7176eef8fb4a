import { generateKeyPairSync } from 'node:crypto';

/** A fresh ed25519 public key as an OpenSSH line (`ssh-ed25519 BASE64 comment`), made in-process. */
export function newEd25519Line(comment = ''): string {
  const der = generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'der' });
  const raw = der.subarray(der.length - 32);
  const str = (b: Buffer) => Buffer.concat([Buffer.from([0, 0, 0, b.length]), b]);
  const blob = Buffer.concat([str(Buffer.from('ssh-ed25519')), str(raw)]);
  return `ssh-ed25519 ${blob.toString('base64')}${comment ? ` ${comment}` : ''}`;
}
