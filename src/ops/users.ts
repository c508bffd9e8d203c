import { userInfo } from 'node:os';
import type { Command } from 'commander';
import { grantRole, isUserRole, type RoleChange, USER_ROLES } from '../canonical/user-roles.ts';
import { loadConfig } from '../config/config.ts';
import { ValidationError } from '../errors.ts';
import { liveServer, throughNote } from './live-server.ts';

const describeChange = (r: RoleChange) =>
  r.changed
    ? `${r.email} (${r.userId}): role ${r.previousRole} → ${r.role}`
    : `${r.email} (${r.userId}) already has role ${r.role}; nothing changed`;

export function registerUsers(program: Command): void {
  const users = program
    .command('users')
    .description('manage user accounts (runs as the database owner)');
  users
    .command('grant-role')
    .description(`set a user's role: ${USER_ROLES.join(', ')} (recorded in audit_log)`)
    .argument('<email>', 'the account email (any letter case)')
    .argument('<role>', USER_ROLES.join(' | '))
    .action(async (email: string, role: string) => {
      // Checked before connecting: a typo must not cost a database start.
      if (!isUserRole(role)) {
        throw new ValidationError(
          `unknown role '${role}': expected one of ${USER_ROLES.join(', ')}`,
        );
      }
      const config = loadConfig();
      const server = await liveServer(config, 'canonical');
      if (server) {
        console.error(throughNote(server));
        const r = await server.call<RoleChange>('POST', '/ops/api/users/grant-role', {
          email,
          role,
          operator: operator(),
        });
        console.log(describeChange(r));
        return;
      }
      const { connectCanonical } = await import('../canonical/connect.ts');
      const { migrate } = await import('../canonical/migrations.ts');
      const { db, close } = await connectCanonical(config);
      try {
        // The embedded store may never have been started; an empty one has no users.
        if (!config.canonical.url) await migrate(db);
        console.log(describeChange(await grantRole(db, email, role, { actor: operator() })));
      } finally {
        await close();
      }
    });
}

function operator(): string {
  try {
    return `os:${userInfo().username}`;
  } catch {
    return 'os:unknown';
  }
}
