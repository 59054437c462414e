// Where the lab finds the checkout it runs from: the repository (scripts, charts, examples), the
// product's build (dist/cli.js) and the compiled mains it starts as processes of their own. The
// mains are the compiled ones also when the lab itself runs from source (tests under tsx).
import { join } from 'node:path';

/** The repository root: this file is packages/lab/src/paths.ts, or packages/lab/dist/paths.js. */
export const REPO_ROOT = new URL('../../../', import.meta.url).pathname;

/** cosmolet itself, as `npm run build` makes it. */
export const COSMOLET_CLI = join(REPO_ROOT, 'dist', 'cli.js');

const LAB_DIST = join(REPO_ROOT, 'packages', 'lab', 'dist');

/** The lab's processes: each a main of its own, run by `node`. */
export const LAB_MAINS = {
  /** The cluster on the API double: the double, the pods and their data path. */
  cluster: join(LAB_DIST, 'cluster', 'main.js'),
  /** The cluster on a real control plane (`lab up --kube real`). */
  realCluster: join(LAB_DIST, 'real-cluster', 'main.js'),
  /** A TCP/unix socket forwarder (a node's API address, a cosmolet's HTTP port). */
  forward: join(LAB_DIST, 'forward', 'main.js'),
  /** One simulated Pod's HTTP server. */
  pod: join(LAB_DIST, 'pods', 'main.js'),
} as const;

/** The API double on its own (benchmarks). */
export const KUBE_DOUBLE_MAIN = join(REPO_ROOT, 'packages', 'kube-double', 'dist', 'apiserver-main.js');
