// The places that state the version (scripts/release/versions.ts): the release check names each one
// that disagrees with CHANGELOG.md, and the bump sets them all by editing only their lines.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import {
  bumpFiles,
  checkRelease,
  FILES,
  imageTag,
  type FileKey,
  type Files,
} from '../../../scripts/release/versions.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

function repoFiles(): Files {
  const files = {} as Files;
  for (const key of Object.keys(FILES) as FileKey[])
    files[key] = readFileSync(join(ROOT, FILES[key]), 'utf8');
  return files;
}

/** The repository's files with a changelog of our own (so the test does not follow the real one). */
function fixture(version: string, unreleased: string): Files {
  const files = repoFiles();
  const set = bumpFiles(
    { ...files, changelog: `# Changelog\n\n## [Unreleased]\n\n## [${version}]\n\n- x\n` },
    '2026-01-01',
  ).files;
  return { ...set, changelog: `# Changelog\n\n## [Unreleased]\n${unreleased}\n## [${version}]\n\n- x\n` };
}

test('the repository states one version everywhere (the Argo CD example pins its tag)', () => {
  const files = repoFiles();
  const pkg = (JSON.parse(files.packageJson) as { version: string }).version;
  const chart = parseYaml(files.chart) as { version: string; appVersion: string };
  const app = parseYaml(files.argocd) as { spec: { source: { targetRevision: string } } };
  assert.equal(chart.version, pkg);
  assert.equal(chart.appVersion, pkg);
  assert.equal(app.spec.source.targetRevision, `v${pkg}`);
  // Every problem the check finds is the changelog's pending release, or none at all.
  const { release, problems } = checkRelease(files, `localhost/cosmolet:${pkg}`);
  if (!release.pending) assert.deepEqual(problems, []);
  else
    assert.ok(
      problems.every((p) => p.includes(release.version)),
      problems.join('\n'),
    );
});

test('agreeing files pass the check; each disagreement is named', () => {
  const ok = fixture('1.2.3', '');
  assert.deepEqual(checkRelease(ok, 'registry.example:5000/x/cosmolet:1.2.3'), {
    release: { version: '1.2.3', pending: false, reason: 'the newest heading of CHANGELOG.md is [1.2.3]' },
    problems: [],
  });
  const bad = {
    ...ok,
    packageJson: ok.packageJson.replace('"version": "1.2.3"', '"version": "1.2.4"'),
    chart: ok.chart.replace('appVersion: "1.2.3"', 'appVersion: "latest"'),
    argocd: ok.argocd.replace('targetRevision: v1.2.3', 'targetRevision: main'),
  };
  assert.deepEqual(checkRelease(bad, 'localhost/cosmolet:dev').problems, [
    'package.json version is 1.2.4, the release needs 1.2.3',
    'charts/cosmolet/Chart.yaml appVersion is latest, the release needs 1.2.3',
    'deploy/argocd-application.yaml spec.source.targetRevision is main, the release needs v1.2.3',
    'the image tag (localhost/cosmolet:dev) is dev, the release needs 1.2.3',
  ]);
});

test('pending entries refuse the release until it is cut; the bump cuts it and sets every place', () => {
  const files = fixture('1.2.3', '\n### Fixed\n\n- a bug\n');
  const before = checkRelease(files);
  assert.equal(before.release.version, '1.2.4');
  assert.match(
    before.problems[0] ?? '',
    /\[Unreleased\] has entries, so the release is 1\.2\.4 .*cut it with --bump/,
  );
  assert.equal(before.problems.length, 7);

  const { release, files: after } = bumpFiles(files, '2026-12-01');
  assert.equal(release.version, '1.2.4');
  assert.deepEqual(checkRelease(after, 'localhost/cosmolet:1.2.4').problems, []);
  assert.match(
    after.changelog,
    /^## \[Unreleased\]\n\n## \[1\.2\.4\] - 2026-12-01\n\n### Fixed\n\n- a bug\n/m,
  );
  // Only the version lines changed: the rest of each file is as it was.
  const changed = (a: string, b: string) => a.split('\n').filter((l, i) => l !== b.split('\n')[i]);
  assert.deepEqual(changed(after.packageJson, files.packageJson), ['  "version": "1.2.4",']);
  assert.deepEqual(changed(after.chart, files.chart), ['version: 1.2.4', 'appVersion: "1.2.4"']);
  assert.deepEqual(changed(after.argocd, files.argocd), ['    targetRevision: v1.2.4']);
  assert.deepEqual(changed(after.packageLock, files.packageLock), [
    '  "version": "1.2.4",',
    '      "version": "1.2.4",',
  ]);
  // A second bump finds nothing to do.
  assert.deepEqual(bumpFiles(after, '2026-12-02').files, after);
});

test('the tag of an image reference', () => {
  assert.equal(imageTag('localhost/cosmolet:0.2.0'), '0.2.0');
  assert.equal(imageTag('registry.example:5000/cosmolet:0.2.0@sha256:abc'), '0.2.0');
  assert.equal(imageTag('registry.example:5000/cosmolet'), undefined);
});
