import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { asUser } from '../../src/canonical/session.ts';
import { grantRole } from '../../src/canonical/user-roles.ts';
import { NotFoundError, ValidationError } from '../../src/errors.ts';
import type { Db } from '../../src/sql/db.ts';
import { insertUser } from '../support/canon.ts';
import { engineName } from '../support/databases.ts';
import { useCanonicalDb } from '../support/use-stores.ts';
import { count } from './fixtures.ts';

describe(`users grant-role (${engineName})`, () => {
  const s = useCanonicalDb({ reset: 'each' });
  let db: Db;
  let alice: string;

  beforeAll(() => {
    db = s.db;
  });
  beforeEach(async () => {
    alice = await insertUser(db, { email: 'Alice@Example.com', profile: false });
  });

  it('promotes by email in any letter case, audits it, and the next session has the role', async () => {
    const r = await grantRole(db, 'alice@EXAMPLE.com', 'admin', { actor: 'os:ops' });
    expect(r).toEqual({
      userId: alice,
      email: 'Alice@Example.com',
      previousRole: 'user',
      role: 'admin',
      changed: true,
    });
    const { rows } = await db.query<{
      action: string;
      subject_id: string;
      details: unknown;
      actor_id: null;
    }>('SELECT action, subject_type, subject_id, actor_id, details FROM audit_log');
    expect(rows).toEqual([
      {
        action: 'user.role_granted',
        subject_type: 'user',
        subject_id: alice,
        actor_id: null,
        details: { from: 'user', to: 'admin', via: 'cli', actor: 'os:ops' },
      },
    ]);
    const seen = await asUser(db, alice, async (tx, caller) => ({
      role: caller.role,
      audit: (await tx.query('SELECT * FROM audit_log')).rowCount,
    }));
    expect(seen).toEqual({ role: 'admin', audit: 1 });
    // And back down: the admin tables close again.
    await grantRole(db, 'alice@example.com', 'user');
    await expect(asUser(db, alice, (tx) => tx.query('SELECT * FROM audit_log'))).rejects.toThrow(
      /permission denied/,
    );
    expect(await count(db, 'audit_log')).toBe(2);
  });

  it('granting the role a user already has changes and audits nothing', async () => {
    const r = await grantRole(db, 'alice@example.com', 'user');
    expect(r.changed).toBe(false);
    expect(await count(db, 'audit_log')).toBe(0);
  });

  it('refuses an unknown role or email, or a deleted account, writing nothing', async () => {
    await expect(grantRole(db, 'alice@example.com', 'superuser')).rejects.toBeInstanceOf(
      ValidationError,
    );
    await expect(grantRole(db, 'alice@example.com', 'superuser')).rejects.toThrow(
      "unknown role 'superuser': expected one of user, moderator, admin",
    );
    await expect(grantRole(db, 'nobody@example.com', 'admin')).rejects.toBeInstanceOf(
      NotFoundError,
    );
    await expect(grantRole(db, '  ', 'admin')).rejects.toBeInstanceOf(ValidationError);
    await insertUser(db, { email: 'gone@example.com', deleted: true, profile: false });
    await expect(grantRole(db, 'gone@example.com', 'admin')).rejects.toThrow(/has been deleted/);
    expect(await count(db, 'users', `role <> 'user'`)).toBe(0);
    expect(await count(db, 'audit_log')).toBe(0);
  });
});
