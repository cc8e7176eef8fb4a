import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RolePolicy, expandRoles, hasRole } from '../../src/chat/roles.js';
import { loadEnv } from '../../src/config/env.js';

describe('RolePolicy', () => {
  const policy = new RolePolicy({ viewer: ['10'], operator: ['20'], admin: ['30'], approver: ['40'] });

  it('maps platform role ids to roles with the hierarchy admin ⊃ operator ⊃ viewer', () => {
    assert.deepEqual([...policy.rolesFor(['10'])].sort(), ['viewer']);
    assert.deepEqual([...policy.rolesFor(['20'])].sort(), ['operator', 'viewer']);
    assert.deepEqual([...policy.rolesFor(['30'])].sort(), ['admin', 'operator', 'viewer']);
    assert.deepEqual([...policy.rolesFor(['99'])], []);
  });

  it('approver is separate: it grants no level and no level grants it', () => {
    assert.deepEqual([...policy.rolesFor(['40'])], ['approver']);
    assert.equal(policy.rolesFor(['30']).has('approver'), false);
    assert.deepEqual([...policy.rolesFor(['20', '40'])].sort(), ['approver', 'operator', 'viewer']);
  });

  it('fails closed: a level with no ids is held by nobody', () => {
    const empty = new RolePolicy({ viewer: [], operator: [], admin: [], approver: [] });
    assert.equal(empty.rolesFor(['', '0', '10', '@everyone']).size, 0);
    const onlyViewer = new RolePolicy({ viewer: ['10'], operator: [], admin: [], approver: [] });
    assert.deepEqual([...onlyViewer.rolesFor(['10', '20', '30', '40'])], ['viewer']);
  });

  it('an id may be configured for several levels', () => {
    const p = new RolePolicy({ viewer: [], operator: ['5'], admin: [], approver: ['5'] });
    assert.deepEqual([...p.rolesFor(['5'])].sort(), ['approver', 'operator', 'viewer']);
  });

  it('reads the environment; unset variables mean nobody', () => {
    const env = loadEnv({ KVMOPS_ROLE_OPERATOR: '111, 222', KVMOPS_ROLE_APPROVER: '' });
    const p = RolePolicy.fromEnv(env);
    assert.deepEqual([...p.rolesFor(['222'])].sort(), ['operator', 'viewer']);
    assert.equal(p.rolesFor(['111', '222', '333']).has('approver'), false);
    assert.equal(p.rolesFor(['111']).has('admin'), false);
  });
});

describe('hasRole', () => {
  it('applies the hierarchy even to a user whose roles were not expanded', () => {
    const u = { roles: new Set(['admin'] as const) };
    assert.equal(hasRole(u, 'viewer'), true);
    assert.equal(hasRole(u, 'operator'), true);
    assert.equal(hasRole(u, 'approver'), false);
    assert.equal(hasRole({ roles: new Set(['viewer'] as const) }, 'operator'), false);
    assert.equal(hasRole({ roles: new Set() }, 'viewer'), false);
  });
  it('expandRoles (the shell --roles flag)', () => {
    assert.deepEqual([...expandRoles(['operator', 'approver'])].sort(), ['approver', 'operator', 'viewer']);
  });
});
