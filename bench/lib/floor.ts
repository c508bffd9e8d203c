/**
 * The fan-out floor (bench/fanout.ts, bench/write-costs.ts): a raw multi-row upsert of feed
 * rows into FLOOR_TABLE, a same-shaped copy of the userFeed table, numbered from FLOOR_LSN.
 */
export const FLOOR_TABLE = 'bench_floor_feed';
export const FLOOR_LSN = 'bench_floor_lsn';

/** How the floor's rows reach the statement. */
export type FloorInput = 'arrays' | 'json';

const upsert = (select: string, from: string) =>
  `INSERT INTO ${FLOOR_TABLE} AS x (pk, id, body, etag, ts, lsn, txid, feed_range, expires_at)
     SELECT ${select}, md5(d.id), extract(epoch FROM now())::bigint, nextval('${FLOOR_LSN}'),
            pg_current_xact_id(), 0, NULL
       FROM ${from}
     ON CONFLICT (pk, id) DO UPDATE SET body = excluded.body, etag = excluded.etag, ts = excluded.ts,
            lsn = excluded.lsn, txid = excluded.txid`;

/**
 * The floor's statement, by input shape: three array parameters (the issue's floor), or
 * one JSON array parameter (floorJson), the shape the embedded store's bulk path sends.
 */
export const FLOOR_SQL: Record<FloorInput, string> = {
  arrays: upsert(
    'd.pk, d.id, d.body',
    'unnest($1::text[], $2::text[], $3::jsonb[]) AS d(pk, id, body)',
  ),
  json: upsert('d.pk, d.id, d.b', 'jsonb_to_recordset($1::jsonb) AS d(pk text, id text, b jsonb)'),
};

/** The JSON parameter of FLOOR_SQL.json: one {pk, id, b} object per row (`body` is JSON). */
export const floorJson = (rows: { pk: string; id: string; body: string }[]): string =>
  `[${rows.map((r) => `{"pk":${JSON.stringify(r.pk)},"id":${JSON.stringify(r.id)},"b":${r.body}}`).join(',')}]`;
