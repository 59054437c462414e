// The runtime cosmolet runs on in the benchmarks, as its DaemonSet pod runs it: the container image's
// Node.js (24; memory differs by major) with the chart's NODE_OPTIONS and malloc setting. Each can be
// overridden for a comparison.
import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';
import { chartEnvValue, chartNodeOptions, MALLOC_ENV } from './memory.js';

const CHART_DAEMONSET = new URL('../../charts/cosmolet/templates/daemonset.yaml', import.meta.url).pathname;

export interface CosmoletRuntime {
  /** The Node.js binary. */
  node: string;
  /** Its environment beside what the benchmark's own has; '' removes a variable. */
  env: Record<string, string>;
}

/**
 * node: `image` (the image's Node.js 24, from scripts/install-node24.sh, fetched on first use),
 * `current` (the one running the benchmark) or a path. nodeOptions: NODE_OPTIONS instead of the
 * chart's ('' for none). The chart's malloc setting holds unless the benchmark's environment sets it.
 */
export function cosmoletRuntime(o: { node?: string; nodeOptions?: string | undefined }): CosmoletRuntime {
  const choice = o.node ?? 'image';
  let node = process.execPath;
  if (choice === 'image') {
    const script = new URL('../../scripts/install-node24.sh', import.meta.url).pathname;
    node = `${execFileSync('bash', [script], { encoding: 'utf8' }).trim()}/node`;
  } else if (choice !== 'current') node = resolve(choice);
  return {
    node,
    env: {
      NODE_OPTIONS: o.nodeOptions ?? chartNodeOptions(CHART_DAEMONSET),
      [MALLOC_ENV]: process.env[MALLOC_ENV] ?? chartEnvValue(CHART_DAEMONSET, MALLOC_ENV) ?? '',
    },
  };
}

/** `ip netns exec` spawns copy this process's environment: runs `start` with `env` set in it. */
export function withEnv<T>(env: Record<string, string>, start: () => T): T {
  const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
  for (const [k, v] of Object.entries(env)) {
    if (v === '') delete process.env[k];
    else process.env[k] = v;
  }
  try {
    return start();
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

/** One line for the log: which Node.js, and the settings. */
export function describeRuntime(r: CosmoletRuntime): string {
  const version = execFileSync(r.node, ['--version'], { encoding: 'utf8' }).trim();
  const env = Object.entries(r.env).map(([k, v]) => `${k}="${v}"`);
  return `Node.js ${version} (${r.node}), ${env.join(', ')}`;
}
