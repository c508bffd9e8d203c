import { describe, expect, it } from 'vitest';
import { copyAt } from '../../src/projections/copies.ts';
import { feedItemFor, postDoc } from '../../src/readmodel/builders.ts';
import { containerDef } from '../../src/readmodel/containers.ts';
import { feedItemId } from '../../src/readmodel/documents.ts';

describe('fan-out copies', () => {
  // deliverToRecipients writes copies of one recipient's feed item: that is only right while
  // a feed item differs between recipients in its id and recipientId alone.
  it("a copy of one recipient's feed item is the item feedItemFor builds for another", () => {
    const now = new Date().toISOString();
    const post = postDoc({
      id: 'p1',
      authorId: 'author',
      text: 'hello',
      tags: ['a'],
      status: 'published',
      version: 3,
      createdAt: now,
      updatedAt: now,
    });
    const def = containerDef('userFeed')!;
    const copy = copyAt(def, feedItemFor('alice', post), {
      id: feedItemId('bob', 'p1'),
      partitionKey: 'bob',
    });
    expect(copy).toEqual(feedItemFor('bob', post));
  });
});
