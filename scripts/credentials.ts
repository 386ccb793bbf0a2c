/**
 * Operator CLI for API keys, straight on the database (for when no admin credential exists
 * yet, or it was lost): `npm run credentials -- <command>` (docs/security.md).
 */
import { loadConfig } from '../core/config';
import { createDb } from '../core/db';
import { createApiKey, listApiKeys, revokeApiKey, unlockApiKey } from '../core/security/api-keys';
import { isRole, ROLES, type Role } from '../core/security/roles';

const USAGE = `用法 Usage: npm run credentials -- <command>
  list [institution]                               列出凭据 list active credentials
  create <name> <role,role…> [institution]         新建凭据（令牌只显示一次）create; the token is shown once
  revoke <id>                                      吊销 revoke
  unlock <id>                                      解除锁定 unlock
roles: ${ROLES.join(', ')} (admin and ops only without an institution)`;

async function main(args: string[]): Promise<number> {
  const config = loadConfig(process.env, { production: false });
  if (!config.DATABASE_URL) {
    console.error('DATABASE_URL is not set / 未设置 DATABASE_URL');
    return 1;
  }
  const db = createDb({ url: config.DATABASE_URL, schema: config.HUREN_DB_SCHEMA, poolMax: 2 });
  try {
    const [command, ...rest] = args;
    switch (command) {
      case 'list':
        for (const k of await listApiKeys(db, { institution: rest[0] })) {
          console.log([k.id, k.prefix, k.status, k.institution ?? '(platform)', k.roles.join(','), k.name].join('\t'));
        }
        return 0;
      case 'create': {
        const [name, roleList, institution] = rest;
        const roles = (roleList ?? '').split(',').filter(Boolean);
        if (!name || roles.length === 0 || !roles.every(isRole)) break;
        if (institution && roles.some((r) => r === 'admin' || r === 'ops')) {
          console.error('admin and ops are platform roles / admin 与 ops 为平台角色');
          return 1;
        }
        const { token, key } = await createApiKey(db, { name, roles: roles as Role[], institution: institution ?? null, createdBy: 'cli' });
        console.log(`id ${key.id}\ntoken ${token}\n(shown once / 仅显示一次)`);
        return 0;
      }
      case 'revoke':
        if (!rest[0]) break;
        console.log(JSON.stringify(await revokeApiKey(db, rest[0], 'cli')));
        return 0;
      case 'unlock':
        if (!rest[0]) break;
        console.log(JSON.stringify(await unlockApiKey(db, rest[0])));
        return 0;
    }
    console.error(USAGE);
    return 2;
  } finally {
    await db.destroy();
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  },
);
