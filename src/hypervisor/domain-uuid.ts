import { createHash, randomUUID } from 'node:crypto';
import { KvmopsError } from '../domain/errors.js';

/**
 * A domain's uuid: the only way kvmops addresses a domain in a virsh call. virsh reads a
 * domain argument as an id, then a uuid, then a name (docs/host-notes.md), so a name can select
 * another domain (one whose id or uuid it spells); a canonical uuid can only be read as a
 * uuid — it is never all digits — and libvirt keeps uuids unique. Every domain argv builder
 * (virsh-args.ts) takes this type, so passing a name there is a type error; a name becomes a
 * DomainUuid only through an exact lookup (domains.ts) or a uuid kvmops made itself.
 */
declare const domainUuidBrand: unique symbol;
export type DomainUuid = string & { readonly [domainUuidBrand]: true };

/** libvirt prints uuids in this form (lowercase, dashed). */
const CANONICAL = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function isDomainUuid(s: string): s is DomainUuid {
  return CANONICAL.test(s);
}

/** A uuid libvirt printed; anything else is `unexpected-output` (fail closed). */
export function asDomainUuid(s: string): DomainUuid {
  if (!isDomainUuid(s)) throw new KvmopsError('unexpected-output', `not a domain uuid: ${JSON.stringify(s.slice(0, 80))}`);
  return s;
}

export function newDomainUuid(): DomainUuid {
  return randomUUID() as DomainUuid;
}

/**
 * A uuid that is the same every time for the same parts (RFC 9562 version 8 layout over
 * SHA-256). Deploy names a VM's files by its uuid before the domain exists; with a uuid
 * derived from (storage, request id, VM name), a repeated attempt of the same request
 * recognises the files an interrupted attempt made.
 */
export function derivedDomainUuid(...parts: string[]): DomainUuid {
  const h = createHash('sha256').update(JSON.stringify(parts)).digest();
  h[6] = (h[6]! & 0x0f) | 0x80; // version 8
  h[8] = (h[8]! & 0x3f) | 0x80; // RFC variant
  const x = h.subarray(0, 16).toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}` as DomainUuid;
}
