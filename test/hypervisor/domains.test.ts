/** Domain identities: the uuid + name list, exact lookup, uuids kvmops makes. Pure. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isKvmopsError } from '../../src/domain/errors.js';
import { asDomainUuid, derivedDomainUuid, isDomainUuid, newDomainUuid } from '../../src/hypervisor/domain-uuid.js';
import { findByName, parseDomainList } from '../../src/hypervisor/domains.js';

const A = '3f2a9c1e-0b7d-4e55-9a10-2c4b6d8e0f12';
const B = '8c0d7e4a-1111-4222-8333-944455556666';

describe('virsh list --all --uuid --name', () => {
  it('maps names to uuids exactly: a name that spells an id or another uuid is just a name', () => {
    const list = parseDomainList(`${A} web\n${B} ${A}\n0a0a0a0a-0000-4000-8000-000000000034 34\n9d9d9d9d-0000-4000-8000-000000000001 with  two spaces\n\n`);
    assert.equal(list.length, 4);
    assert.equal(findByName(list, 'web')?.uuid, A);
    assert.equal(findByName(list, A)?.uuid, B, 'the domain NAMED like A’s uuid is B');
    assert.equal(findByName(list, '34')?.uuid, '0a0a0a0a-0000-4000-8000-000000000034');
    assert.equal(findByName(list, 'with  two spaces')?.uuid, '9d9d9d9d-0000-4000-8000-000000000001');
    assert.equal(findByName(list, 'WEB'), undefined);
    assert.equal(findByName(list, 'we'), undefined);
  });
  it('an empty host prints one empty line', () => {
    assert.deepEqual(parseDomainList('\n'), []);
  });
  it('fails closed on lines it does not know', () => {
    assert.throws(() => parseDomainList(`${A}\n`), (e) => isKvmopsError(e, 'unexpected-output'));
    assert.throws(() => parseDomainList(`not-a-uuid-at-all-but-36-characters web\n`), (e) => isKvmopsError(e, 'unexpected-output'));
  });
});

describe('domain uuids', () => {
  it('canonical lowercase only', () => {
    assert.equal(isDomainUuid(A), true);
    assert.equal(isDomainUuid(A.toUpperCase()), false);
    assert.equal(isDomainUuid(A.replace(/-/g, '')), false);
    assert.throws(() => asDomainUuid('34'), (e) => isKvmopsError(e, 'unexpected-output'));
    assert.equal(isDomainUuid(newDomainUuid()), true);
  });
  it('derived: the same parts give the same uuid, other parts another', () => {
    const a = derivedDomainUuid('/s', 'job-1', 'web');
    assert.equal(isDomainUuid(a), true);
    assert.equal(a, derivedDomainUuid('/s', 'job-1', 'web'));
    assert.notEqual(a, derivedDomainUuid('/s', 'job-1', 'web-01'));
    assert.notEqual(derivedDomainUuid('/s', 'job-1', 'web'), derivedDomainUuid('/s', 'job-1w', 'eb'), 'parts do not run together');
    assert.equal(a[14], '8', 'version 8');
  });
});
