import { PGlite } from '@electric-sql/pglite';
import { citext } from '@electric-sql/pglite/contrib/citext';
import { pgcrypto } from '@electric-sql/pglite/contrib/pgcrypto';
let t=Date.now();
const a = await PGlite.create(); console.log('plain', Date.now()-t); t=Date.now();
const b = await PGlite.create(); console.log('plain2', Date.now()-t); t=Date.now();
const c = await PGlite.create({extensions:{citext,pgcrypto}}); console.log('ext', Date.now()-t); t=Date.now();
await c.exec('create extension citext; create extension pgcrypto; create table x(id uuid default gen_random_uuid(), e citext)'); console.log('createext', Date.now()-t); t=Date.now();
const img = await c.dumpDataDir('none'); console.log('dump', Date.now()-t, img.size); t=Date.now();
const d = await PGlite.create({loadDataDir: img, extensions:{citext,pgcrypto}}); console.log('load', Date.now()-t); t=Date.now();
if (c.clone) { const e = await c.clone(); console.log('clone', Date.now()-t); t=Date.now(); console.log((await e.query('select count(*) from x')).rows) }
