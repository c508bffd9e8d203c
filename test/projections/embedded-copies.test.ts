import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BULK_SEGMENT } from '../../src/projections/embedded/bulk.ts';
import { engineName } from '../support/databases.ts';
import { embeddedStore, type TestStore } from '../support/projections.ts';
import { uid } from './contract.ts';

// What upsertCopies is for on the embedded store: the shared document travels once per
// statement, not once per copy (the contract tests check what it writes).
describe(`embedded upsertCopies on ${engineName}`, () => {
  let s: TestStore;
  beforeAll(async () => {
    s = await embeddedStore();
  });
  afterAll(() => s.close());

  it('sends the shared document once per statement of up to BULK_SEGMENT copies', async () => {
    const feed = s.store.container('userFeed');
    const text = `a post body that would be sent once per copy ${uid('t')}`;
    const n = BULK_SEGMENT + 200;
    const recipients = Array.from({ length: n }, () => uid('r'));
    const sent: string[] = [];
    const query = s.db.query.bind(s.db);
    s.db.query = ((sql: string, params?: readonly unknown[]) => {
      if (sql.includes('INSERT INTO'))
        sent.push(
          (params ?? [])
            .map((p) => (p instanceof Uint8Array ? Buffer.from(p).toString() : String(p)))
            .join(' '),
        );
      return query(sql, params);
    }) as typeof s.db.query;
    try {
      const res = await feed.upsertCopies([
        {
          doc: { id: `${recipients[0]}:p`, recipientId: recipients[0], postId: 'p', text },
          targets: recipients.map((r) => ({ id: `${r}:p`, partitionKey: r })),
        },
      ]);
      expect(res.statuses).toEqual(recipients.map(() => 201));
    } finally {
      s.db.query = query;
    }
    expect(sent).toHaveLength(2);
    for (const params of sent) expect(params.split(text)).toHaveLength(2);
    const last = recipients[n - 1]!;
    expect((await feed.read(`${last}:p`, last)).resource).toMatchObject({
      text,
      recipientId: last,
    });
  });
});
