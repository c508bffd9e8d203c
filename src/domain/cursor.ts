import { z } from 'zod';
import { ValidationError } from '../errors.ts';

/**
 * Opaque list cursors: base64url JSON. Keyset cursors carry the last item's sort key;
 * store cursors wrap the projection store's continuation token.
 */
const keyset = z.object({ t: z.iso.datetime(), id: z.guid() });
const store = z.object({ c: z.string().min(1) });
/** Keyset over (a sort key, id) ascending, e.g. discovery's (displayNameKey, userId). */
const nameKeyset = z.object({ k: z.string().max(200), id: z.guid() });

export type Keyset = z.infer<typeof keyset>;
export type NameKeyset = z.infer<typeof nameKeyset>;

const encode = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');

function decode<T>(schema: z.ZodType<T>, cursor: string): T {
  try {
    return schema.parse(JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')));
  } catch {
    throw new ValidationError('invalid cursor', { field: 'cursor' });
  }
}

export const encodeKeyset = (k: Keyset) => encode(k);
export const decodeKeyset = (cursor: string | undefined): Keyset | undefined =>
  cursor ? decode(keyset, cursor) : undefined;

export const encodeNameKeyset = (k: NameKeyset) => encode(k);
export const decodeNameKeyset = (cursor: string | undefined): NameKeyset | undefined =>
  cursor ? decode(nameKeyset, cursor) : undefined;

export const encodeStoreCursor = (continuation: string | null) =>
  continuation ? encode({ c: continuation }) : null;
export const decodeStoreCursor = (cursor: string | undefined): string | undefined =>
  cursor ? decode(store, cursor).c : undefined;

/**
 * The store query resuming exactly after a (createdAt, id) cursor: a keyset on both stores,
 * so the cursor's tie group is never read twice. `id` maps a post id to the document id.
 */
export const keysetBefore = (
  after: Keyset | undefined,
  id: (postId: string) => string = (p) => p,
) => (after ? { before: { field: 'createdAt', value: after.t, id: id(after.id) } } : {});
