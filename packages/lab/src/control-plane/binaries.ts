// Where the control plane's binaries come from (scripts/go-tools.sh kube: built from Kubernetes' Go
// modules into a cache keyed by the pins) and the free loopback ports its processes listen on.
import { spawnSync } from 'node:child_process';
import net from 'node:net';
import { join } from 'node:path';
import { LabError, LabErrorCodes } from '../errors.js';
import { REPO_ROOT } from '../paths.js';

/** Runs `scripts/go-tools.sh kube` (builds on the first call, prints the cached directory after). */
export function kubeBinDir(): string {
  const r = spawnSync('bash', [join(REPO_ROOT, 'scripts', 'go-tools.sh'), 'kube'], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const dir = r.stdout.trim();
  if (r.status !== 0 || !dir)
    throw new LabError(
      LabErrorCodes.LAB_PREREQUISITE,
      'building the Kubernetes control plane failed (scripts/go-tools.sh kube)',
    );
  return dir;
}

/** The cached binaries' directory when they are built already, else undefined (nothing is built). */
export function cachedKubeBinDir(): string | undefined {
  const r = spawnSync('bash', [join(REPO_ROOT, 'scripts', 'go-tools.sh'), 'kube', '--cached'], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  const dir = r.stdout.trim();
  return r.status === 0 && dir ? dir : undefined;
}

export async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolvePort(port));
    });
  });
}
