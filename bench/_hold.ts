import { startEmbeddedPostgres } from '../packages/server/src/db/embedded/cluster.ts';

const c = await startEmbeddedPostgres({ dataDir: '/tmp/embscratch/data' });
console.log(c.url());
setInterval(() => {}, 1e9);
