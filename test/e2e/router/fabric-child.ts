// Started by fabric.test.ts. `fabric-child.ts PREFIX`: brings a fabric up, prints its prefix and
// pids, then waits to be killed. `fabric-child.ts PREFIX persistent`: brings up a persistent fabric
// (as `cosmolet lab up` would), prints where its state is, and exits.
import { startFabric } from '@cosmolet/lab/fabric/fabric';

const prefix = process.argv[2];
const persistent = process.argv[3] === 'persistent';
const f = await startFabric({ ...(prefix ? { prefix } : {}), persistent });
if (persistent) {
  process.stdout.write(
    JSON.stringify({ prefix: f.prefix, dir: f.dir, pids: f.processes().map((p) => p.pid) }) + '\n',
  );
  process.exit(0);
}
const sleeper = f.spawn('node', ['sleep', '1000']);
process.stdout.write(
  JSON.stringify({ prefix: f.prefix, dir: f.dir, pids: [f.pid('node', 'bgpd'), sleeper.pid] }) + '\n',
);
setInterval(() => undefined, 1000);
