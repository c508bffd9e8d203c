import { beforeAll, describe, expect, it } from 'vitest';
import type { PipelineContext } from '../../../src/pipeline/context.ts';
import type { ProjectionContainer } from '../../../src/projections/port.ts';
import { CONTAINERS, reactionDocId } from '../../../src/readmodel/documents.ts';
import { Canon } from '../../support/canon.ts';
import { engineName } from '../../support/databases.ts';
import { drain, pipelineContext, relayFor } from '../../support/pipeline.ts';
import { useCanonicalDb, useEmbeddedStore } from '../../support/use-stores.ts';

/**
 * posts_v2, reactions and publicProfiles have defaultTtl -1, so a tombstone's `ttl` takes
 * effect. Once it has expired, a late or replayed older event finds no document: the
 * relay must not create one from a version that is no longer canonical.
 */
describe(`expired tombstones do not come back (${engineName})`, () => {
  const canonical = useCanonicalDb();
  const proj = useEmbeddedStore();
  let canon: Canon;
  let ctx: PipelineContext;

  beforeAll(() => {
    canon = new Canon(canonical.db);
    ctx = pipelineContext(canonical.db, proj.store);
  });

  /** The tombstone's ttl shortened to 1 s (the real one is a day), then waited out. */
  async function expire(c: ProjectionContainer, id: string, pk: string): Promise<void> {
    const stored = (await c.read(id, pk)).resource;
    expect(stored?.deleted).toBe(true);
    const { _etag, _ts, ...tombstone } = stored!;
    await c.upsert({ ...tombstone, ttl: 1 });
    await new Promise((r) => setTimeout(r, 1_100));
    expect((await c.read(id, pk)).resource).toBeUndefined();
  }

  /** An operator redrive (or a late delivery) of the latest such event, already applied, then the relay. */
  async function replay(eventType: string, aggregateId: string): Promise<void> {
    const { rowCount } = await canonical.db.query(
      `UPDATE outbox SET processed_at = NULL, retry_count = 0, next_retry_at = now(),
              claimed_by = NULL, lease_until = NULL
        WHERE id = (SELECT max(id) FROM outbox WHERE event_type = $1 AND aggregate_id = $2)`,
      [eventType, aggregateId],
    );
    expect(rowCount).toBe(1);
    await drain(relayFor(ctx));
  }

  it('a post: created, deleted, tombstone expired, post.created replayed: still gone', async () => {
    const author = await canon.user();
    const post = await canon.post(author, 'soon gone');
    await drain(relayFor(ctx));
    const posts = proj.store.container(CONTAINERS.posts);
    expect((await posts.read(post.id, post.id)).resource?.deleted).toBeUndefined();
    await canon.deletePost(post.id);
    await drain(relayFor(ctx));
    await expire(posts, post.id, post.id);

    await replay('post.created', post.id);
    expect((await posts.read(post.id, post.id)).resource).toBeUndefined();
  });

  it('a reaction: added, removed, tombstone expired, reaction.added replayed: still gone', async () => {
    const [author, fan] = await Promise.all([canon.user(), canon.user()]);
    const post = await canon.post(author!, 'p');
    await canon.react(fan!, post.id, 'heart');
    await drain(relayFor(ctx));
    await canon.unreact(fan!, post.id, 'heart');
    await drain(relayFor(ctx));
    const reactions = proj.store.container(CONTAINERS.reactions);
    const id = reactionDocId(fan!, 'heart');
    await expire(reactions, id, post.id);

    const { rows } = await canonical.db.query<{ aggregate_id: string }>(
      `SELECT aggregate_id::text FROM outbox WHERE event_type = 'reaction.added' AND payload->>'userId' = $1`,
      [fan],
    );
    await replay('reaction.added', rows[0]!.aggregate_id);
    expect((await reactions.read(id, post.id)).resource).toBeUndefined();
  });

  it('a profile: edited, account deleted, tombstone expired, profile.updated replayed: still gone', async () => {
    const user = await canon.user();
    await canon.updateProfile(user, 'Soon Gone', 'bio');
    await drain(relayFor(ctx));
    const profiles = proj.store.container(CONTAINERS.publicProfiles);
    expect((await profiles.read(user, user)).resource?.displayName).toBe('Soon Gone');
    await canon.deleteUser(user);
    await drain(relayFor(ctx));
    await expire(profiles, user, user);

    await replay('profile.updated', user);
    expect((await profiles.read(user, user)).resource).toBeUndefined();
  });
});
