// The version a release has, and the places that must say it: package.json (and package-lock.json),
// the chart's version and appVersion, the image tag, the Argo CD example's targetRevision (the tag
// v<version>). scripts/release.sh runs this:
//
//   node --import tsx scripts/release/versions.ts check [--rev REV] [--image REF]
//       prints the release version when every place agrees with CHANGELOG.md at REV (default: the
//       work tree), else names each disagreement on stderr and exits 1
//   node --import tsx scripts/release/versions.ts bump [--date YYYY-MM-DD] [--image REF]
//       cuts the release in the work tree: CHANGELOG.md's [Unreleased] entries under ## [x.y.z] - date,
//       then package.json, package-lock.json, Chart.yaml and deploy/argocd-application.yaml set to it
//
// The rule that turns CHANGELOG.md into a version is in changelog.ts (and docs/release.md).
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { ChangelogError, cutRelease, releaseVersion, type Release } from './changelog.js';

export const FILES = {
  changelog: 'CHANGELOG.md',
  packageJson: 'package.json',
  packageLock: 'package-lock.json',
  chart: 'charts/cosmolet/Chart.yaml',
  argocd: 'deploy/argocd-application.yaml',
} as const;
export type FileKey = keyof typeof FILES;
export type Files = Record<FileKey, string>;

/** The tag of an image reference (`host:5000/a/b:tag`), undefined when it has none. */
export function imageTag(ref: string): string | undefined {
  const name = ref.split('@')[0] ?? '';
  const colon = name.lastIndexOf(':');
  return colon > name.lastIndexOf('/') ? name.slice(colon + 1) : undefined;
}

interface Stated {
  place: string;
  value: string | undefined;
  /** What the value must be for a release of version v. */
  want: (v: string) => string;
}

function stated(files: Files, image: string | undefined): Stated[] {
  const pkg = JSON.parse(files.packageJson) as { version?: string };
  const lock = JSON.parse(files.packageLock) as {
    version?: string;
    packages?: Record<string, { version?: string }>;
  };
  const chart = parseYaml(files.chart) as { version?: unknown; appVersion?: unknown };
  const app = parseYaml(files.argocd) as { spec?: { source?: { targetRevision?: unknown } } };
  const str = (v: unknown) =>
    typeof v === 'string' || typeof v === 'number' ? String(v) : v == null ? undefined : JSON.stringify(v);
  const same = (v: string) => v;
  const out: Stated[] = [
    { place: 'package.json version', value: pkg.version, want: same },
    { place: 'package-lock.json version', value: lock.version, want: same },
    { place: 'package-lock.json packages[""].version', value: lock.packages?.['']?.version, want: same },
    { place: `${FILES.chart} version`, value: str(chart.version), want: same },
    { place: `${FILES.chart} appVersion`, value: str(chart.appVersion), want: same },
    {
      place: `${FILES.argocd} spec.source.targetRevision`,
      value: str(app.spec?.source?.targetRevision),
      want: (v) => `v${v}`,
    },
  ];
  if (image !== undefined)
    out.push({ place: `the image tag (${image})`, value: imageTag(image), want: same });
  return out;
}

export interface Check {
  release: Release;
  /** One line per place that disagrees; empty when the release can be made. */
  problems: string[];
}

/** Whether the files (and the image reference, when given) agree on the release CHANGELOG.md makes. */
export function checkRelease(files: Files, image?: string): Check {
  const release = releaseVersion(files.changelog);
  const problems: string[] = [];
  if (release.pending)
    problems.push(
      `CHANGELOG.md: [Unreleased] has entries, so the release is ${release.version} (${release.reason}); ` +
        `cut it with --bump`,
    );
  for (const s of stated(files, image)) {
    const want = s.want(release.version);
    if (s.value !== want) problems.push(`${s.place} is ${s.value ?? '(none)'}, the release needs ${want}`);
  }
  return { release, problems };
}

function replaceLine(text: string, re: RegExp, line: string, what: string): string {
  if (!re.test(text)) throw new Error(`${what}: no line matches ${re}`);
  return text.replace(re, line);
}

/**
 * The files with the release cut: CHANGELOG.md's [Unreleased] entries moved under the release, and
 * every place set to its version. Text edits of the lines concerned, so formatting and comments stay.
 */
export function bumpFiles(files: Files, date: string): { release: Release; files: Files } {
  const release = releaseVersion(files.changelog);
  const v = release.version;
  const changelog = cutRelease(files.changelog, v, date);
  const packageJson = replaceLine(
    files.packageJson,
    /^( {2}"version": )"[^"]*"/m,
    `$1"${v}"`,
    FILES.packageJson,
  );
  // npm writes the lockfile as JSON.stringify(lock, null, 2) and a newline: the same again.
  const lock = JSON.parse(files.packageLock) as {
    version?: string;
    packages?: Record<string, { version?: string }>;
  };
  lock.version = v;
  const root = lock.packages?.[''];
  if (root) root.version = v;
  const packageLock = `${JSON.stringify(lock, null, 2)}\n`;
  let chart = replaceLine(files.chart, /^version: .*$/m, `version: ${v}`, FILES.chart);
  chart = replaceLine(chart, /^appVersion: .*$/m, `appVersion: "${v}"`, FILES.chart);
  const argocd = replaceLine(files.argocd, /^( +targetRevision: ).*$/m, `$1v${v}`, FILES.argocd);
  return {
    release: { ...releaseVersion(changelog), reason: release.reason },
    files: { changelog, packageJson, packageLock, chart, argocd },
  };
}

function readFiles(root: string, rev: string | undefined): Files {
  const read = (path: string) =>
    rev === undefined
      ? readFileSync(join(root, path), 'utf8')
      : execFileSync('git', ['show', `${rev}:${path}`], { cwd: root, encoding: 'utf8' });
  const files = {} as Files;
  for (const key of Object.keys(FILES) as FileKey[]) files[key] = read(FILES[key]);
  return files;
}

function main(argv: string[]): number {
  const [command, ...rest] = argv;
  const opts = new Map<string, string>();
  for (let i = 0; i < rest.length; i += 2) {
    const [k, v] = [rest[i] ?? '', rest[i + 1]];
    if (!['--rev', '--image', '--date', '--root'].includes(k) || v === undefined) {
      process.stderr.write(`versions.ts: unknown or incomplete option ${k}\n`);
      return 2;
    }
    opts.set(k, v);
  }
  const root = opts.get('--root') ?? resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
  try {
    if (command === 'check') {
      const { release, problems } = checkRelease(readFiles(root, opts.get('--rev')), opts.get('--image'));
      if (problems.length > 0) {
        process.stderr.write(`the release ${release.version} cannot be made:\n`);
        for (const p of problems) process.stderr.write(`  - ${p}\n`);
        return 1;
      }
      process.stdout.write(`${release.version}\n`);
      return 0;
    }
    if (command === 'bump') {
      const before = readFiles(root, undefined);
      const date = opts.get('--date') ?? new Date().toISOString().slice(0, 10);
      const { release, files } = bumpFiles(before, date);
      for (const key of Object.keys(FILES) as FileKey[]) {
        if (files[key] === before[key]) continue;
        writeFileSync(join(root, FILES[key]), files[key]);
        process.stderr.write(`bump: ${FILES[key]} set to ${release.version}\n`);
      }
      const image = opts.get('--image');
      const tag = image === undefined ? undefined : imageTag(image);
      if (image !== undefined && tag !== release.version)
        process.stderr.write(
          `bump: the image ${image} is tagged ${tag ?? '(none)'}: unset COSMOLET_IMAGE or tag it ${release.version}\n`,
        );
      process.stdout.write(`${release.version}\n`);
      return 0;
    }
  } catch (err) {
    if (err instanceof ChangelogError) {
      process.stderr.write(`${err.message}\n`);
      return 1;
    }
    throw err;
  }
  process.stderr.write(
    'usage: versions.ts check [--rev REV] [--image REF] | bump [--date YYYY-MM-DD] [--image REF]\n',
  );
  return 2;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = main(process.argv.slice(2));
}
