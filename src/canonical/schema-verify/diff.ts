import type { Catalog, CatalogObject, ObjectKind } from './catalog.ts';

/** One difference between the expected catalog (the migrations) and the live one. */
export interface Drift {
  /** missing: expected but not in the database; extra: in the database only. */
  change: 'missing' | 'extra' | 'changed';
  kind: ObjectKind;
  name: string;
  /** For `changed`: the attribute that differs, with both values. */
  attr?: string;
  expected?: string;
  actual?: string;
}

const KIND_ORDER: ObjectKind[] = [
  'migration',
  'extension',
  'role',
  'table',
  'column',
  'constraint',
  'index',
  'policy',
  'function',
  'trigger',
  'view',
  'grant',
];

/** Every difference, ordered by kind then name, so the output is stable. */
export function diffCatalogs(expected: Catalog, actual: Catalog): Drift[] {
  const out: Drift[] = [];
  for (const [key, want] of expected) {
    const have = actual.get(key);
    if (!have) {
      out.push({ change: 'missing', kind: want.kind, name: want.name, expected: summarise(want) });
      continue;
    }
    const attrs = new Set([...Object.keys(want.attrs), ...Object.keys(have.attrs)]);
    for (const attr of attrs) {
      const e = want.attrs[attr] ?? '';
      const a = have.attrs[attr] ?? '';
      if (e !== a)
        out.push({
          change: 'changed',
          kind: want.kind,
          name: want.name,
          attr,
          expected: e,
          actual: a,
        });
    }
  }
  for (const [key, have] of actual) {
    if (!expected.has(key))
      out.push({ change: 'extra', kind: have.kind, name: have.name, actual: summarise(have) });
  }
  return out.sort(
    (x, y) =>
      KIND_ORDER.indexOf(x.kind) - KIND_ORDER.indexOf(y.kind) ||
      x.name.localeCompare(y.name) ||
      (x.attr ?? '').localeCompare(y.attr ?? ''),
  );
}

/**
 * One line per difference:
 *   - index posts_author_created_idx: CREATE INDEX ...        (expected, not in the database)
 *   + policy posts.open_read: FOR SELECT TO asora_app ...      (in the database only)
 *   ~ column posts.text: type text → character varying(10)   (differs)
 */
export function formatDrift(drift: readonly Drift[]): string {
  return drift
    .map((d) => {
      const head = `${d.kind} ${d.name}`;
      if (d.change === 'missing') return `- ${head}${tail(d.expected)}`;
      if (d.change === 'extra') return `+ ${head}${tail(d.actual)}`;
      return `~ ${head}: ${d.attr} ${show(d.expected)} → ${show(d.actual)}`;
    })
    .join('\n');
}

const tail = (s: string | undefined) => (s ? `: ${oneLine(s)}` : '');
const show = (s: string | undefined) => (s ? oneLine(s) : '(none)');

/** Bodies span lines; a diff line stays one line and readable. */
function oneLine(s: string): string {
  const flat = s.replace(/\s+/g, ' ').trim();
  return flat.length > 240 ? `${flat.slice(0, 237)}...` : flat;
}

/** The one-line description of a whole object, for missing and extra lines. */
function summarise(o: CatalogObject): string {
  const a = o.attrs;
  switch (o.kind) {
    case 'column':
      return [
        a.type,
        a.nullable === 'NOT NULL' ? 'NOT NULL' : '',
        a.default ? `DEFAULT ${a.default}` : '',
        a.generated ? `GENERATED (${a.generated})` : '',
        a.identity ? `IDENTITY ${a.identity}` : '',
      ]
        .filter(Boolean)
        .join(' ');
    case 'policy':
      return [
        `FOR ${a.command}`,
        `TO ${a.roles}`,
        a.permissive === 'RESTRICTIVE' ? 'RESTRICTIVE' : '',
        a.using ? `USING ${a.using}` : '',
        a.withCheck ? `WITH CHECK ${a.withCheck}` : '',
      ]
        .filter(Boolean)
        .join(' ');
    case 'table':
      return `row level security ${a.rowLevelSecurity}${a.forceRowLevelSecurity === 'true' ? ' (forced)' : ''}`;
    case 'function':
      return `returns ${a.returns}, ${a.language}, security ${a.security}`;
    case 'role':
      return `login ${a.login}${a.memberOf ? `, member of ${a.memberOf}` : ''}`;
    case 'migration':
      return `checksum ${a.checksum?.slice(0, 12) ?? ''}`;
    case 'grant':
      return a.privileges ?? '';
    default:
      return a.definition ?? '';
  }
}
