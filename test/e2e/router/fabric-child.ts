// Started by fabric.test.ts: brings a fabric up, prints its prefix and pids, then waits to be killed.
import { startFabric } from '../../../src/lab/fabric.js';

const prefix = process.argv[2];
const f = await startFabric(prefix ? { prefix } : {});
const sleeper = f.spawn('node', ['sleep', '1000']);
process.stdout.write(
  JSON.stringify({ prefix: f.prefix, dir: f.dir, pids: [f.pid('node', 'bgpd'), sleeper.pid] }) + '\n',
);
setInterval(() => undefined, 1000);
