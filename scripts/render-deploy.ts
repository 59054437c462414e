// Regenerates the plain manifests in deploy/ from the Helm chart, with helm built from its Go module
// (helm.sh/helm/v3 or /v4, pinned in tools/helm3/go.mod and tools/helm4/go.mod) by
// scripts/go-tools.sh.
//
//   node --import tsx scripts/render-deploy.ts          rewrite deploy/*.yaml
//   node --import tsx scripts/render-deploy.ts --check  exit 1 when deploy/ is stale
//
// The chart tests import helmBinary() and renderDeploy() from here, so there is one way to get helm
// and one way to render deploy/.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const CHART_DIR = join(REPO_ROOT, 'charts', 'cosmolet');
export const DEPLOY_DIR = join(REPO_ROOT, 'deploy');

/** The Helm majors the chart is checked with. */
export type HelmMajor = 3 | 4;
export const HELM_MAJORS: readonly HelmMajor[] = [3, 4];
/** The Helm that renders deploy/ and runs every chart test that is not about Helm majors. */
export const DEFAULT_HELM_MAJOR: HelmMajor = 4;

export class HelmUnavailableError extends Error {
  override name = 'HelmUnavailableError';
}

const cachedHelm = new Map<HelmMajor, string>();

/**
 * The path of a runnable helm of the given major, built by `bash scripts/go-tools.sh helm3|helm4`
 * (minutes the first time, then cached outside the work tree; its progress goes to stderr).
 * Throws HelmUnavailableError with a message that says what failed; never returns a missing path.
 */
export function helmBinary(major: HelmMajor = DEFAULT_HELM_MAJOR): string {
  const cached = cachedHelm.get(major);
  if (cached) return cached;
  const script = join(REPO_ROOT, 'scripts', 'go-tools.sh');
  let binDir: string;
  try {
    binDir = execFileSync('bash', [script, `helm${major}`], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
    }).trim();
  } catch (err) {
    const e = err as { status?: number | null };
    throw new HelmUnavailableError(
      `\`bash scripts/go-tools.sh helm${major}\` failed (exit ${String(e.status ?? '?')}; its output is above)`,
    );
  }
  const helm = join(binDir, 'helm');
  if (!existsSync(helm)) {
    throw new HelmUnavailableError(`scripts/go-tools.sh helm${major} printed ${binDir}, which has no helm`);
  }
  cachedHelm.set(major, helm);
  return helm;
}

/** Runs helm with a private, empty HOME/XDG so no user config or repo cache leaks into results. */
export function runHelm(
  args: string[],
  major: HelmMajor = DEFAULT_HELM_MAJOR,
): { status: number; stdout: string; stderr: string } {
  const helm = helmBinary(major);
  // Next to the bin directory, in the build's own cache folder (dropped with it).
  const home = join(dirname(dirname(helm)), 'home');
  mkdirSync(home, { recursive: true });
  try {
    const stdout = execFileSync(helm, args, {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      maxBuffer: 64 * 1024 * 1024,
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        HOME: home,
        XDG_CONFIG_HOME: join(home, 'config'),
        XDG_CACHE_HOME: join(home, 'cache'),
        XDG_DATA_HOME: join(home, 'data'),
        HELM_PLUGINS: join(home, 'plugins'),
      },
    });
    return { status: 0, stdout, stderr: '' };
  } catch (err) {
    const e = err as { status?: number | null; stdout?: string; stderr?: string };
    return { status: e.status ?? 1, stdout: e.stdout ?? '', stderr: e.stderr ?? String(err) };
  }
}

// Plain manifests cannot make a certificate (the chart's own is random per render): they name the
// Secret the operator creates first (docs/install.md, "Plain manifests").
const DEPLOY_TLS = ['--set', 'tls.secretName=cosmolet-tls'];

/** The files of deploy/ that are rendered, with the helm flags for each. */
export const DEPLOY_VARIANTS: ReadonlyArray<{ file: string; title: string; setArgs: string[] }> = [
  {
    file: 'cosmolet.yaml',
    title:
      'kernel origination (the default): routes through the cosmolet0 dummy device with protocol 73, needs NET_ADMIN',
    setArgs: DEPLOY_TLS,
  },
  {
    file: 'cosmolet-static.yaml',
    title: 'static origination: tagged static routes through vtysh, no capabilities',
    setArgs: ['--set', 'config.frr.origination=static', ...DEPLOY_TLS],
  },
];

export const DEPLOY_NAMESPACE = 'cosmolet';

function namespaceDoc(): string {
  return [
    'apiVersion: v1',
    'kind: Namespace',
    'metadata:',
    `  name: ${DEPLOY_NAMESPACE}`,
    '  labels:',
    '    # hostNetwork, a hostPath and (kernel origination) NET_ADMIN are outside the baseline Pod',
    '    # Security Standard: keep this namespace for cosmolet alone.',
    '    pod-security.kubernetes.io/enforce: privileged',
    '',
  ].join('\n');
}

/** Renders every deploy/ file's content from the chart, keyed by file name. */
export function renderDeploy(): Map<string, string> {
  const out = new Map<string, string>();
  for (const v of DEPLOY_VARIANTS) {
    const r = runHelm(['template', 'cosmolet', CHART_DIR, '--namespace', DEPLOY_NAMESPACE, ...v.setArgs]);
    if (r.status !== 0) throw new Error(`helm template for deploy/${v.file} failed: ${r.stderr.trim()}`);
    const header = [
      `# cosmolet plain manifests: ${v.title}.`,
      '# GENERATED from charts/cosmolet by `node --import tsx scripts/render-deploy.ts`; do not edit by hand',
      `# (a test fails when this file differs from the chart). Apply with: kubectl apply -f deploy/${v.file}`,
      '# Edit the ConfigMap "cosmolet" below to change the configuration (docs/decisions.md keys), then',
      `# restart the pods: kubectl -n ${DEPLOY_NAMESPACE} rollout restart daemonset/cosmolet`,
      '# Before applying: the Secret cosmolet-tls (kubernetes.io/tls with ca.crt) whose certificate is for',
      `# cosmolet-metrics.${DEPLOY_NAMESPACE}.svc, and the ConfigMap cosmolet-ca with its ca.crt (docs/install.md, Plain manifests).`,
      '---',
    ].join('\n');
    // Helm 4.3 ends each document with a blank line before the next `---`, Helm 3 and earlier 4.x
    // do not: dropped, so deploy/ does not change with the Helm that renders it.
    const docs = r.stdout.replace(/^\n*---\n/, '---\n').replace(/\n\n+---\n/g, '\n---\n');
    out.set(v.file, `${header}\n${namespaceDoc()}${docs}`);
  }
  return out;
}

function main(argv: string[]): number {
  const check = argv.includes('--check');
  const rendered = renderDeploy();
  let stale = 0;
  for (const [file, text] of rendered) {
    const path = join(DEPLOY_DIR, file);
    const current = existsSync(path) ? readFileSync(path, 'utf8') : undefined;
    if (current === text) continue;
    if (check) {
      console.error(`deploy/${file} is stale: run node --import tsx scripts/render-deploy.ts`);
      stale++;
    } else {
      mkdirSync(DEPLOY_DIR, { recursive: true });
      writeFileSync(path, text);
      console.log(`wrote deploy/${file}`);
    }
  }
  return stale === 0 ? 0 : 1;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    process.exitCode = main(process.argv.slice(2));
  } catch (err) {
    console.error(err instanceof Error ? err.message : String(err));
    process.exitCode = 1;
  }
}
