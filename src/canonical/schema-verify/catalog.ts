import type { Queryable } from '../../sql/db.ts';

/**
 * A snapshot of the parts of a database's catalog that the migrations define, as flat
 * objects keyed `kind name` so two snapshots compare with a plain map diff. Only the
 * `public` schema and the `asora_*` roles are read; objects that belong to an extension
 * (citext's and pgcrypto's functions, operators, types) are left out.
 */
export type ObjectKind =
  | 'extension'
  | 'role'
  | 'table'
  | 'column'
  | 'constraint'
  | 'index'
  | 'policy'
  | 'function'
  | 'trigger'
  | 'view'
  | 'grant'
  | 'migration';

export interface CatalogObject {
  kind: ObjectKind;
  name: string;
  /** Compared one by one; the diff names each attribute that differs. */
  attrs: Record<string, string>;
}

export type Catalog = Map<string, CatalogObject>;

export const objectKey = (kind: ObjectKind, name: string) => `${kind} ${name}`;

/** Objects of the public schema that an extension owns (pg_depend type 'e'). */
const NOT_EXTENSION_MEMBER = (classTable: string, oidExpr: string) => `NOT EXISTS (
  SELECT 1 FROM pg_depend d
   WHERE d.classid = '${classTable}'::regclass AND d.objid = ${oidExpr} AND d.deptype = 'e')`;

const PUBLIC_RELATIONS = `
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = 'public' AND ${NOT_EXTENSION_MEMBER('pg_class', 'c.oid')}`;

/** Reads the catalog through any connection (the owner's, so RLS never hides rows). */
export async function snapshotCatalog(db: Queryable): Promise<Catalog> {
  const out: Catalog = new Map();
  const add = (kind: ObjectKind, name: string, attrs: Record<string, string>) => {
    out.set(objectKey(kind, name), { kind, name, attrs });
  };

  for (const r of await rows<{ name: string }>(
    db,
    `SELECT extname AS name FROM pg_extension WHERE extname <> 'plpgsql'`,
  )) {
    // Only presence: the version is whatever the server's contrib package ships (PGlite's
    // citext is 1.8, PostgreSQL 15's 1.6), which is not schema drift.
    add('extension', r.name, {});
  }

  for (const r of await rows<{
    name: string;
    login: boolean;
    bypassrls: boolean;
    member_of: string;
  }>(
    db,
    `SELECT r.rolname AS name, r.rolcanlogin AS login, r.rolbypassrls AS bypassrls,
            coalesce((SELECT string_agg(g.rolname, ', ' ORDER BY g.rolname)
                        FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid
                       WHERE m.member = r.oid AND g.rolname LIKE 'asora\\_%'), '') AS member_of
       FROM pg_roles r
      WHERE r.rolname LIKE 'asora\\_%' AND r.rolname <> current_user`,
  )) {
    add('role', r.name, {
      login: String(r.login),
      bypassrls: String(r.bypassrls),
      memberOf: r.member_of,
    });
  }

  for (const r of await rows<{ name: string; rls: boolean; force: boolean; kind: string }>(
    db,
    `SELECT c.relname AS name, c.relrowsecurity AS rls, c.relforcerowsecurity AS force,
            c.relkind::text AS kind
     ${PUBLIC_RELATIONS} AND c.relkind IN ('r', 'p')`,
  )) {
    add('table', r.name, {
      partitioned: String(r.kind === 'p'),
      rowLevelSecurity: r.rls ? 'enabled' : 'disabled',
      forceRowLevelSecurity: String(r.force),
    });
  }

  for (const r of await rows<{
    tbl: string;
    col: string;
    type: string;
    not_null: boolean;
    def: string | null;
    identity: string;
    generated: string;
  }>(
    db,
    `SELECT c.relname AS tbl, a.attname AS col, format_type(a.atttypid, a.atttypmod) AS type,
            a.attnotnull AS not_null, pg_get_expr(ad.adbin, ad.adrelid) AS def,
            a.attidentity::text AS identity, a.attgenerated::text AS generated
     ${PUBLIC_RELATIONS.replace('FROM pg_class c', 'FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum')}
       AND c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped`,
  )) {
    const generated = r.generated === 's' ? 'stored' : r.generated === 'v' ? 'virtual' : '';
    const identity = r.identity === 'a' ? 'always' : r.identity === 'd' ? 'by default' : '';
    add('column', `${r.tbl}.${r.col}`, {
      type: r.type,
      nullable: r.not_null ? 'NOT NULL' : 'NULL',
      default: generated ? '' : (r.def ?? ''),
      generated: generated ? `${generated}: ${r.def ?? ''}` : '',
      identity,
    });
  }

  // contype 'n' (PostgreSQL 18 records NOT NULL as constraints) is covered by columns.
  for (const r of await rows<{ tbl: string; name: string; def: string }>(
    db,
    `SELECT c.relname AS tbl, k.conname AS name, pg_get_constraintdef(k.oid) AS def
       FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid
       JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = 'public' AND k.contype IN ('p', 'u', 'f', 'c', 'x')`,
  )) {
    add('constraint', `${r.tbl}.${r.name}`, { definition: r.def });
  }

  // Indexes that back a constraint are already named by the constraint.
  for (const r of await rows<{ name: string; def: string }>(
    db,
    `SELECT c.relname AS name, pg_get_indexdef(c.oid) AS def
     ${PUBLIC_RELATIONS} AND c.relkind IN ('i', 'I')
       AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = c.oid AND k.contype IN ('p', 'u', 'x'))`,
  )) {
    add('index', r.name, { definition: r.def });
  }

  for (const r of await rows<{
    tbl: string;
    name: string;
    permissive: string;
    roles: string[] | string;
    cmd: string;
    qual: string | null;
    with_check: string | null;
  }>(
    db,
    `SELECT tablename AS tbl, policyname AS name, permissive, roles::text[] AS roles, cmd,
            qual, with_check
       FROM pg_policies WHERE schemaname = 'public'`,
  )) {
    add('policy', `${r.tbl}.${r.name}`, {
      command: r.cmd,
      permissive: r.permissive,
      roles: textArray(r.roles).sort().join(', '),
      using: r.qual ?? '',
      withCheck: r.with_check ?? '',
    });
  }

  for (const r of await rows<{
    name: string;
    args: string;
    result: string;
    language: string;
    definer: boolean;
    volatility: string;
    config: string[] | string | null;
    body: string;
  }>(
    db,
    `SELECT p.proname AS name, pg_get_function_identity_arguments(p.oid) AS args,
            pg_get_function_result(p.oid) AS result, l.lanname AS language,
            p.prosecdef AS definer, p.provolatile::text AS volatility, p.proconfig AS config,
            p.prosrc AS body
       FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
       JOIN pg_language l ON l.oid = p.prolang
      WHERE n.nspname = 'public' AND ${NOT_EXTENSION_MEMBER('pg_proc', 'p.oid')}`,
  )) {
    add('function', `${r.name}(${r.args})`, {
      returns: r.result,
      language: r.language,
      security: r.definer ? 'definer' : 'invoker',
      volatility:
        ({ i: 'immutable', s: 'stable', v: 'volatile' } as Record<string, string>)[r.volatility] ??
        r.volatility,
      config: r.config ? textArray(r.config).join(', ') : '',
      body: normaliseBody(r.body),
    });
  }

  for (const r of await rows<{ tbl: string; name: string; def: string }>(
    db,
    `SELECT c.relname AS tbl, t.tgname AS name, pg_get_triggerdef(t.oid) AS def
       FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
       JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = 'public' AND NOT t.tgisinternal`,
  )) {
    add('trigger', `${r.tbl}.${r.name}`, { definition: r.def });
  }

  for (const r of await rows<{ name: string; kind: string; def: string }>(
    db,
    `SELECT c.relname AS name, c.relkind::text AS kind, pg_get_viewdef(c.oid) AS def
     ${PUBLIC_RELATIONS} AND c.relkind IN ('v', 'm')`,
  )) {
    add('view', r.name, { materialized: String(r.kind === 'm'), definition: normaliseBody(r.def) });
  }

  await addGrants(db, add);
  await addMigrations(db, add);
  return out;
}

/**
 * Privileges granted to other roles than the owner (who connects as whoever runs the
 * migrations, which differs per deployment): tables, columns, functions, the schema.
 */
async function addGrants(
  db: Queryable,
  add: (kind: ObjectKind, name: string, attrs: Record<string, string>) => void,
): Promise<void> {
  const grants = await rows<{ object: string; grantee: string; privileges: string }>(
    db,
    `WITH acl AS (
       SELECT 'table ' || c.relname AS object, x.grantee, x.privilege_type AS priv, c.relowner AS owner
         ${PUBLIC_RELATIONS.replace('FROM pg_class c', "FROM pg_class c CROSS JOIN LATERAL aclexplode(coalesce(c.relacl, acldefault('r', c.relowner))) x")}
          AND c.relkind IN ('r', 'p', 'v', 'm')
       UNION ALL
       SELECT 'column ' || c.relname || '.' || a.attname, x.grantee, x.privilege_type, c.relowner
         FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
         JOIN pg_namespace n ON n.oid = c.relnamespace
         CROSS JOIN LATERAL aclexplode(a.attacl) x
        WHERE n.nspname = 'public' AND a.attacl IS NOT NULL AND a.attnum > 0 AND NOT a.attisdropped
       UNION ALL
       SELECT 'function ' || p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')',
              x.grantee, x.privilege_type, p.proowner
         FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
         CROSS JOIN LATERAL aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) x
        WHERE n.nspname = 'public' AND ${NOT_EXTENSION_MEMBER('pg_proc', 'p.oid')}
       UNION ALL
       SELECT 'schema public', x.grantee, x.privilege_type, n.nspowner
         FROM pg_namespace n CROSS JOIN LATERAL aclexplode(coalesce(n.nspacl, acldefault('n', n.nspowner))) x
        WHERE n.nspname = 'public'
     )
     SELECT acl.object, CASE WHEN acl.grantee = 0 THEN 'PUBLIC' ELSE r.rolname END AS grantee,
            string_agg(acl.priv, ', ' ORDER BY acl.priv) AS privileges
       FROM acl LEFT JOIN pg_roles r ON r.oid = acl.grantee
      WHERE acl.grantee <> acl.owner AND (acl.grantee = 0 OR r.rolname NOT LIKE 'pg\\_%')
      GROUP BY 1, 2`,
  );
  for (const g of grants) add('grant', `${g.object} to ${g.grantee}`, { privileges: g.privileges });
}

/** Which migrations the database says it has applied, with their checksums. */
async function addMigrations(
  db: Queryable,
  add: (kind: ObjectKind, name: string, attrs: Record<string, string>) => void,
): Promise<void> {
  const { rows: exists } = await db.query<{ t: string | null }>(
    `SELECT to_regclass('public.schema_migrations')::text AS t`,
  );
  if (!exists[0]?.t) return;
  for (const m of await rows<{ version: string; name: string; checksum: string }>(
    db,
    'SELECT version, name, checksum FROM schema_migrations',
  )) {
    add('migration', `${m.version}_${m.name}`, { checksum: m.checksum });
  }
}

async function rows<T>(db: Queryable, sql: string): Promise<T[]> {
  return (await db.query<T>(sql)).rows;
}

/** pg returns text[] as an array; PGlite may return the literal `{a,b}`. */
function textArray(v: string[] | string): string[] {
  if (Array.isArray(v)) return v;
  const inner = v.replace(/^\{|\}$/g, '');
  return inner === '' ? [] : inner.split(',').map((s) => s.replace(/^"|"$/g, ''));
}

/** Function and view bodies: only leading/trailing whitespace is insignificant. */
function normaliseBody(s: string): string {
  return s.trim();
}
