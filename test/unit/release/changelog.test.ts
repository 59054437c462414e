// The release version from CHANGELOG.md (scripts/release/changelog.ts): the newest heading when
// [Unreleased] is empty, else the next version by the kinds of its sections (0.x: minor at most).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  bumpVersion,
  ChangelogError,
  compareVersions,
  cutRelease,
  parseChangelog,
  releaseVersion,
} from '../../../scripts/release/changelog.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

const HEAD = '# Changelog\n\nAll notable changes.\n\n';
const log = (unreleased: string, released = '## [0.1.0]\n\n- The first version.\n') =>
  `${HEAD}## [Unreleased]\n${unreleased}\n${released}`;

test('an empty [Unreleased]: the release is the newest heading', () => {
  const r = releaseVersion(log('', '## [1.2.3] - 2026-01-02\n\n### Fixed\n\n- x\n\n## [1.2.2]\n\n- y\n'));
  assert.deepEqual({ version: r.version, pending: r.pending }, { version: '1.2.3', pending: false });
  // No [Unreleased] heading at all is the same.
  assert.equal(releaseVersion(`${HEAD}## [0.3.0]\n\n- z\n`).version, '0.3.0');
});

test('entries under [Unreleased]: the next version by the kinds of change', () => {
  const next = (sections: string, from: string) =>
    releaseVersion(log(`\n${sections}\n`, `## [${from}]\n\n- x\n`)).version;
  // 1.x: Removed or **Breaking** are major, Added/Changed/Deprecated minor, Fixed/Security patch.
  assert.equal(next('### Fixed\n\n- a\n', '1.4.2'), '1.4.3');
  assert.equal(next('### Security\n\n- a\n', '1.4.2'), '1.4.3');
  assert.equal(next('### Fixed\n\n- a\n\n### Added\n\n- b\n', '1.4.2'), '1.5.0');
  assert.equal(next('### Changed\n\n- a\n', '1.4.2'), '1.5.0');
  assert.equal(next('### Deprecated\n\n- a\n', '1.4.2'), '1.5.0');
  assert.equal(next('### Removed\n\n- a\n', '1.4.2'), '2.0.0');
  assert.equal(next('### Changed\n\n- **Breaking**: the flag is gone\n', '1.4.2'), '2.0.0');
  // 0.x: a major change is a minor bump; minor stays minor, patch stays patch.
  assert.equal(next('### Removed\n\n- a\n', '0.4.2'), '0.5.0');
  assert.equal(next('### Added\n\n- a\n', '0.4.2'), '0.5.0');
  assert.equal(next('### Fixed\n\n- a\n', '0.4.2'), '0.4.3');
  // Sections without entries do not count.
  assert.equal(next('### Added\n\n### Fixed\n\n- a\n', '0.4.2'), '0.4.3');
  const first = releaseVersion(`${HEAD}## [Unreleased]\n\n### Added\n\n- everything\n`);
  assert.equal(first.version, '0.1.0');
  assert.ok(first.pending);
});

test('continuation lines and nested items are one entry; fenced blocks are not read', () => {
  const c = parseChangelog(
    log(
      '\n### Added\n\n- one\n  more of one\n  - nested\n- two\n\n```\n## [9.9.9]\n```\n### Fixed\n\n* three\n',
    ),
  );
  assert.deepEqual(
    [...c.unreleased],
    [
      ['Added', 2],
      ['Fixed', 1],
    ],
  );
  assert.deepEqual(c.released, ['0.1.0']);
});

test('what would make the version a guess is refused, naming the line', () => {
  const refused = (text: string, re: RegExp) =>
    assert.throws(
      () => releaseVersion(text),
      (e: unknown) => {
        assert.ok(e instanceof ChangelogError);
        assert.match(e.message, re);
        return true;
      },
    );
  refused(log('\n### Improved\n\n- a\n'), /CHANGELOG\.md:\d+: \[Unreleased\] has a section "Improved"/);
  refused(log('\n- a loose entry\n'), /outside a ### section/);
  refused(log('', '## [1.0.0-rc.1]\n\n- a\n'), /\[1\.0\.0-rc\.1\] is not a version x\.y\.z/);
  refused(
    log('', '## [0.1.0]\n\n- a\n\n## [0.2.0]\n\n- b\n'),
    /\[0\.2\.0\] is listed below \[0\.1\.0\]: newest first/,
  );
  refused(
    `${HEAD}## [0.1.0]\n\n- a\n\n## [Unreleased]\n`,
    /\[Unreleased\] must come once, above every release/,
  );
  refused(`${HEAD}## 0.2.0\n`, /a version heading is/);
  refused(`${HEAD}Nothing yet.\n`, /no release and no \[Unreleased\] entry/);
});

test('cutting the release moves the entries under the new heading and leaves [Unreleased] empty', () => {
  const before = log('\n### Added\n\n- a\n');
  const after = cutRelease(before, '0.2.0', '2026-12-01');
  assert.equal(after, log('\n## [0.2.0] - 2026-12-01\n\n### Added\n\n- a\n'));
  const r = releaseVersion(after);
  assert.deepEqual({ version: r.version, pending: r.pending }, { version: '0.2.0', pending: false });
  // Again: nothing to move, nothing changes.
  assert.equal(cutRelease(after, '0.2.0', '2026-12-02'), after);
  assert.throws(() => cutRelease(before, '0.2.0', '1 Dec 2026'), /not a date/);
});

test('versions compare numerically and bump by SemVer', () => {
  assert.ok(compareVersions('0.10.0', '0.9.9') > 0);
  assert.equal(compareVersions('1.2.3', '1.2.3'), 0);
  assert.equal(bumpVersion('1.9.9', 'minor'), '1.10.0');
  assert.equal(bumpVersion('1.9.9', 'major'), '2.0.0');
  assert.equal(bumpVersion('0.9.9', 'major'), '0.10.0');
});

test("the repository's CHANGELOG.md gives a version", () => {
  const r = releaseVersion(readFileSync(join(ROOT, 'CHANGELOG.md'), 'utf8'));
  assert.match(r.version, /^\d+\.\d+\.\d+$/);
});
