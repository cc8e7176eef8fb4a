import type { ChatUser, Role } from './types.js';

/**
 * Roles (docs/commands.md): platform role ids from the environment → kvmops roles.
 * admin ⊃ operator ⊃ viewer; approver is separate. A level configured with no ids is held by
 * nobody — fail closed: forgetting KVMOPS_ROLE_ADMIN must not make everyone an admin.
 */

/** Role ids per level, as parsed from KVMOPS_ROLE_* (src/config/env.ts). */
export interface RoleIds {
  viewer: readonly string[];
  operator: readonly string[];
  admin: readonly string[];
  approver: readonly string[];
}

/** What each level also grants. */
const IMPLIES: Record<Role, readonly Role[]> = {
  admin: ['admin', 'operator', 'viewer'],
  operator: ['operator', 'viewer'],
  viewer: ['viewer'],
  approver: ['approver'],
};

export class RolePolicy {
  private readonly byId = new Map<string, Role[]>();

  constructor(ids: RoleIds) {
    for (const level of ['viewer', 'operator', 'admin', 'approver'] as const) {
      for (const raw of ids[level]) {
        const id = raw.trim();
        if (id === '') continue; // an empty id must never match a platform's empty value
        const list = this.byId.get(id) ?? [];
        list.push(level);
        this.byId.set(id, list);
      }
    }
  }

  /** From the parsed environment (`loadEnv()`). */
  static fromEnv(env: {
    KVMOPS_ROLE_VIEWER: readonly string[];
    KVMOPS_ROLE_OPERATOR: readonly string[];
    KVMOPS_ROLE_ADMIN: readonly string[];
    KVMOPS_ROLE_APPROVER: readonly string[];
  }): RolePolicy {
    return new RolePolicy({
      viewer: env.KVMOPS_ROLE_VIEWER,
      operator: env.KVMOPS_ROLE_OPERATOR,
      admin: env.KVMOPS_ROLE_ADMIN,
      approver: env.KVMOPS_ROLE_APPROVER,
    });
  }

  /** The kvmops roles of a member holding these platform role ids, hierarchy applied. */
  rolesFor(platformRoleIds: Iterable<string>): Set<Role> {
    const roles = new Set<Role>();
    for (const id of platformRoleIds) {
      for (const level of this.byId.get(id) ?? []) for (const r of IMPLIES[level]) roles.add(r);
    }
    return roles;
  }
}

/**
 * Does the user hold `role`? `ChatUser.roles` normally has the hierarchy applied already
 * (`rolesFor`); this applies it again so a hand-built user `{ admin }` still counts as operator.
 */
export function hasRole(user: Pick<ChatUser, 'roles'>, role: Role): boolean {
  for (const held of user.roles) if (IMPLIES[held]?.includes(role)) return true; // ?.: a hand-built user may carry anything
  return false;
}

/** Roles given on the command line (the shell's `--roles viewer,operator`), hierarchy applied. */
export function expandRoles(roles: Iterable<Role>): Set<Role> {
  const out = new Set<Role>();
  for (const r of roles) for (const x of IMPLIES[r]) out.add(x);
  return out;
}
