// A forwarder in a node's namespace (e.g. the API at 127.0.0.1:6443 in, cosmolet's HTTP port out to
// a unix socket on the host: namespaces share the file system, not loopback), and the wait for its
// listeners.
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { Fabric } from '../fabric/fabric.js';
import { LAB_MAINS } from '../paths.js';
import { waitFor } from '../wait.js';

/** `listen` and `connect` as the forward main takes them: `unix:<path>` or `tcp:<host>:<port>`. */
export type ForwardPair = readonly [listen: string, connect: string];

/** One forwarder process for every pair, in namespace `nodeKey`; started, not waited for. */
export function spawnNodeForwarder(
  fabric: Fabric,
  nodeKey: string,
  pairs: readonly ForwardPair[],
): ChildProcess {
  const args = pairs.flatMap(([listen, connect]) => ['--listen', listen, '--connect', connect]);
  return fabric.spawn(nodeKey, [process.execPath, LAB_MAINS.forward, ...args]);
}

/** The same, once every listener accepts. */
export async function startNodeForwarder(
  fabric: Fabric,
  nodeKey: string,
  pairs: readonly ForwardPair[],
): Promise<ChildProcess> {
  const child = spawnNodeForwarder(fabric, nodeKey, pairs);
  for (const [listen] of pairs) await waitListening(fabric, nodeKey, listen);
  return child;
}

async function waitListening(fabric: Fabric, nodeKey: string, listen: string): Promise<void> {
  if (listen.startsWith('unix:')) {
    const path = listen.slice('unix:'.length);
    await waitFor(`forwarder ${listen}`, () => existsSync(path), 10_000, 20);
    return;
  }
  const port = listen.split(':').pop() ?? '';
  await waitFor(
    `forwarder ${listen}`,
    async () => {
      await fabric.exec(nodeKey, ['bash', '-c', `exec 3<>/dev/tcp/127.0.0.1/${port}`]);
      return true;
    },
    10_000,
    50,
  );
}
