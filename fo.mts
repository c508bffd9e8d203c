import { benchPlatform, registerUser } from './bench/lib/platform.ts';
import { addFollowers, postAs } from './bench/lib/audience.ts';
import { CONTAINERS } from './src/readmodel/documents.ts';
const bp = await benchPlatform((process.argv[2] ?? 'embedded') as any, {
  workers: true,
  workerOptions: { processor: { feedPollDelayMs: 1000 } },
});
const feed = bp.platform.store.container(CONTAINERS.userFeed);
const wrap = (name: string) => {
  const f = (feed as any)[name].bind(feed);
  const st = { ms: 0, n: 0 };
  (feed as any)[name] = async (...a: any[]) => {
    const t = performance.now();
    try {
      return await f(...a);
    } finally {
      st.ms += performance.now() - t;
      st.n++;
    }
  };
  return st;
};
const b = wrap('bulk'),
  q = wrap('query'),
  rm = wrap('readMany');
let items = 0;
const ob = (feed as any).bulk;
(feed as any).bulk = async (ops: any[], o: any) => {
  const r = await ob(ops, o);
  items += ops.length;
  return r;
};
const author = await registerUser(bp.baseUrl, 'a');
await addFollowers(bp, author.id, 10000);
await new Promise((r) => setTimeout(r, 1500));
for (const s of [b, q, rm]) {
  s.ms = 0;
  s.n = 0;
}
items = 0;
const t0 = performance.now();
await postAs(bp, author.token, 'x');
while (items < 10001) await new Promise((r) => setTimeout(r, 20));
console.log({ ms: Math.round(performance.now() - t0), bulk: b, query: q, readMany: rm });
await bp.close();
process.exit(0);
