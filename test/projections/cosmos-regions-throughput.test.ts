import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type CosmosProjectionStore,
  createCosmosStore,
} from '../../src/projections/cosmos/store.ts';
import { containerDefs, sharedAutoscaleMaxThroughput } from '../../src/readmodel/containers.ts';

/**
 * What `cosmos provision` sends, recorded at the HTTP layer under the real @azure/cosmos SDK
 * on the in-process emulator (@vercel/cosmosdb-server, which ignores throughput and has one
 * region): each container is created with its autoscale maximum from containers.json, and
 * with COSMOS_PREFERRED_REGIONS the SDK reads from the preferred region. For that, the
 * emulator's account document is rewritten to list two regions: "West Europe" (the write
 * region, at 127.0.0.1) and "North Europe" (at localhost, the same server). The emulator
 * has no offers: /offers answers with recorded responses of the documented shape (every
 * container at an autoscale maximum of 1000 RU/s), and offer replaces are recorded.
 */
interface Seen {
  method: string;
  url: string;
  host: string;
  autoscale?: string;
}

describe('Cosmos provisioning: autoscale throughput and preferred regions (recorded SDK requests)', () => {
  const seen: Seen[] = [];
  /** Offer replaces the SDK sent: the offer body. */
  const replaced: {
    resource: string;
    content: { offerAutopilotSettings?: { maxThroughput: number } };
  }[] = [];
  const readBody = (req: IncomingMessage) =>
    new Promise<string>((resolve) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => resolve(Buffer.concat(chunks).toString()));
    });
  const reply = (res: ServerResponse, body: unknown) => {
    const b = Buffer.from(JSON.stringify(body));
    res.writeHead(200, {
      'content-type': 'application/json',
      'content-length': b.length,
      'x-ms-request-charge': '1',
    });
    res.end(b);
  };
  const offerFor = (resource: string) => ({
    id: `off${Buffer.from(resource).toString('hex').slice(-12)}`,
    _rid: 'offr',
    _self: `offers/off${Buffer.from(resource).toString('hex').slice(-12)}/`,
    _etag: '"0"',
    _ts: 1,
    resource,
    offerResourceId: 'coll',
    offerType: 'Invalid',
    offerVersion: 'V2',
    content: { offerThroughput: 100, offerAutopilotSettings: { maxThroughput: 1000 } },
  });
  let server: https.Server;
  let port: number;
  const agent = new https.Agent({ rejectUnauthorized: false, keepAlive: true });

  beforeAll(async () => {
    const { createHttpsServer } = await import('@vercel/cosmosdb-server');
    server = createHttpsServer();
    const [handler] = server.listeners('request') as ((
      req: IncomingMessage,
      res: ServerResponse,
    ) => void)[];
    server.removeAllListeners('request');
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      const autoscale = req.headers['x-ms-cosmos-offer-autopilot-settings'];
      seen.push({
        method: req.method ?? '',
        url: req.url ?? '',
        host: String(req.headers.host ?? ''),
        ...(typeof autoscale === 'string' ? { autoscale } : {}),
      });
      if (req.url?.startsWith('/offers')) {
        void readBody(req).then((text) => {
          if (req.method === 'POST') {
            const resource = /root\.resource = \\?"([^"\\]+)/.exec(text)?.[1] ?? '';
            reply(res, { _rid: '', Offers: [offerFor(resource)], _count: 1 });
          } else {
            const offer = JSON.parse(text);
            replaced.push(offer);
            reply(res, offer);
          }
        });
        return;
      }
      if (req.method === 'GET' && (req.url === '/' || req.url === '')) {
        // Patch the account document the SDK discovers regions from.
        const write = res.write.bind(res);
        const end = res.end.bind(res);
        const chunks: Buffer[] = [];
        res.write = ((c: Buffer | string) => {
          chunks.push(Buffer.from(c));
          return true;
        }) as typeof res.write;
        res.end = ((c?: Buffer | string) => {
          if (c) chunks.push(Buffer.from(c));
          const account = JSON.parse(Buffer.concat(chunks).toString());
          const west = {
            name: 'West Europe',
            databaseAccountEndpoint: `https://127.0.0.1:${port}/`,
          };
          const north = {
            name: 'North Europe',
            databaseAccountEndpoint: `https://localhost:${port}/`,
          };
          account.writableLocations = [west];
          account.readableLocations = [west, north];
          const body = Buffer.from(JSON.stringify(account));
          res.setHeader('content-length', body.length);
          write(body);
          return end();
        }) as typeof res.end;
      }
      handler?.(req, res);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    agent.destroy();
    await new Promise((r) => server.close(r));
  });

  const open = (preferredRegions?: string[]): Promise<CosmosProjectionStore> =>
    createCosmosStore({
      endpoint: `https://127.0.0.1:${port}/`,
      key: 'emulator-accepts-any-key',
      database: `asora_t_${randomBytes(5).toString('hex')}`,
      agent,
      endpointDiscovery: true,
      preferredRegions,
      definitions: containerDefs,
      sharedAutoscaleMaxThroughput,
    });

  it('creates each container with the autoscale maximum declared in containers.json', async () => {
    const store = await open();
    try {
      const from = seen.length;
      await store.provision();
      const creates = seen
        .slice(from)
        .filter((s) => s.method === 'POST' && /\/colls\/?$/.test(s.url));
      expect(creates).toHaveLength(containerDefs.length);
      creates.forEach((c, i) => {
        const max = containerDefs[i]?.autoscaleMaxThroughput;
        expect(max).toBeGreaterThanOrEqual(1000);
        expect(JSON.parse(c.autoscale ?? 'null')).toEqual({ maxThroughput: max });
      });
    } finally {
      await store.close();
    }
  });

  it('sends reads to the first preferred region and writes to the write region', async () => {
    const store = await open(['North Europe', 'West Europe']);
    try {
      await store.provision();
      const from = seen.length;
      const posts = store.container('posts_v2');
      const doc = {
        id: 'p1',
        postId: 'p1',
        status: 'published',
        createdAt: '2025-01-01T00:00:00Z',
      };
      await posts.upsert(doc);
      expect((await posts.read('p1', 'p1')).resource?.id).toBe('p1');
      const docs = seen.slice(from).filter((s) => s.url.includes('/docs'));
      const write = docs.find((s) => s.method === 'POST');
      const read = docs.find((s) => s.method === 'GET');
      expect(write?.host).toBe(`127.0.0.1:${port}`);
      expect(read?.host).toBe(`localhost:${port}`);
    } finally {
      await store.close();
    }
  });

  it('update-throughput sets each offer to the declared autoscale maximum, changing only those that differ', async () => {
    const store = await open();
    try {
      await store.provision();
      const changes = await store.updateThroughput();
      const declared = containerDefs.filter((d) => d.autoscaleMaxThroughput);
      expect(changes).toEqual(
        declared.map((d) => ({ target: d.name, before: 1000, after: d.autoscaleMaxThroughput })),
      );
      const differing = declared.filter((d) => d.autoscaleMaxThroughput !== 1000);
      expect(differing.length).toBeGreaterThan(0);
      expect(replaced.map((o) => o.content.offerAutopilotSettings?.maxThroughput)).toEqual(
        differing.map((d) => d.autoscaleMaxThroughput),
      );
      for (const o of replaced) expect(o.resource).toMatch(/colls\//);
    } finally {
      await store.close();
    }
  });

  it('refuses an autoscale maximum Cosmos would reject, before sending anything', async () => {
    await expect(
      createCosmosStore({
        endpoint: `https://127.0.0.1:${port}/`,
        key: 'k',
        database: 'x',
        agent,
        definitions: [{ ...containerDefs[0]!, autoscaleMaxThroughput: 1500 }],
      }),
    ).rejects.toMatchObject({ code: 'bad_request' });
  });
});
