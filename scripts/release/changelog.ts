// The release version, read from CHANGELOG.md (Keep a Changelog 1.1.0, Semantic Versioning 2.0.0).
// Pure functions: scripts/release/versions.ts reads and writes the files, test/unit/release tests these.
//
// The rule (docs/release.md):
//   - the released versions are the `## [x.y.z]` headings (optionally `- YYYY-MM-DD` after them),
//     newest first;
//   - when `## [Unreleased]` has no entries, the release is the newest released version;
//   - when it has entries, the release is the next version after the newest released one (0.1.0 when
//     there is none), by the kinds of its `### ...` sections:
//       major: `### Removed`, or an entry starting with `**Breaking**`;
//       minor: `### Added`, `### Changed`, `### Deprecated`;
//       patch: `### Fixed`, `### Security` only;
//     while the major version is 0 (SemVer: anything may change) a major change is a minor bump, so
//     0.x releases only ever bump the minor or the patch;
//   - entries under [Unreleased] outside a section, a section Keep a Changelog does not name, or a
//     heading in brackets that is not x.y.z are refused (the version would be a guess).
// Cutting a release (`--bump`) moves the [Unreleased] entries under `## [x.y.z] - YYYY-MM-DD` and
// leaves an empty `## [Unreleased]` above it.

export const SECTIONS = ['Added', 'Changed', 'Deprecated', 'Removed', 'Fixed', 'Security'] as const;
export type Section = (typeof SECTIONS)[number];
export type Level = 'major' | 'minor' | 'patch';

export class ChangelogError extends Error {
  override name = 'ChangelogError';
}

export interface Changelog {
  /** Entries (top-level list items) of [Unreleased] per section; empty when it has none. */
  unreleased: Map<Section, number>;
  /** Entries of [Unreleased] marked `**Breaking**`. */
  breaking: number;
  /** The released versions, newest first. */
  released: string[];
}

const VERSION = /^(\d+)\.(\d+)\.(\d+)$/;
const HEADING = /^## \[([^\]]+)\](?:\s+-\s+(\d{4}-\d{2}-\d{2}))?\s*$/;

function parts(version: string): [number, number, number] {
  const m = VERSION.exec(version);
  if (!m) throw new ChangelogError(`not a version x.y.z: ${version}`);
  return [Number(m[1]), Number(m[2]), Number(m[3])];
}

/** Negative, zero or positive as a is older than, equal to or newer than b. */
export function compareVersions(a: string, b: string): number {
  const [x, y] = [parts(a), parts(b)];
  for (let i = 0; i < 3; i++) {
    const d = (x[i] ?? 0) - (y[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

export function parseChangelog(text: string): Changelog {
  const unreleased = new Map<Section, number>();
  let breaking = 0;
  const released: string[] = [];
  // Where the lines are: in [Unreleased] (and which section), in a release, or before both.
  let where: 'top' | 'unreleased' | 'release' = 'top';
  let section: Section | undefined;
  let seenUnreleased = false;
  let fenced = false;
  text.split('\n').forEach((line, i) => {
    const at = `CHANGELOG.md:${i + 1}`;
    if (line.startsWith('```')) fenced = !fenced;
    if (fenced) return;
    if (line.startsWith('## ')) {
      const m = HEADING.exec(line);
      if (!m)
        throw new ChangelogError(`${at}: a version heading is "## [x.y.z]" or "## [Unreleased]": ${line}`);
      const name = m[1] ?? '';
      section = undefined;
      if (name === 'Unreleased') {
        if (seenUnreleased || released.length > 0)
          throw new ChangelogError(`${at}: [Unreleased] must come once, above every release`);
        seenUnreleased = true;
        where = 'unreleased';
        return;
      }
      if (!VERSION.test(name)) throw new ChangelogError(`${at}: [${name}] is not a version x.y.z`);
      const previous = released[released.length - 1];
      if (previous !== undefined && compareVersions(name, previous) >= 0)
        throw new ChangelogError(`${at}: [${name}] is listed below [${previous}]: newest first`);
      released.push(name);
      where = 'release';
      return;
    }
    if (where !== 'unreleased') return;
    if (line.startsWith('### ')) {
      const name = line.slice(4).trim();
      if (!(SECTIONS as readonly string[]).includes(name))
        throw new ChangelogError(
          `${at}: [Unreleased] has a section "${name}"; Keep a Changelog's are ${SECTIONS.join(', ')}`,
        );
      section = name as Section;
      return;
    }
    if (/^[-*] /.test(line)) {
      if (section === undefined)
        throw new ChangelogError(
          `${at}: an [Unreleased] entry outside a ### section (${SECTIONS.join(', ')})`,
        );
      unreleased.set(section, (unreleased.get(section) ?? 0) + 1);
      if (/^[-*] \*\*Breaking\b/i.test(line)) breaking += 1;
    }
  });
  return { unreleased, breaking, released };
}

/** The level of change the [Unreleased] entries make, before the 0.x rule; undefined when none. */
export function changeLevel(log: Changelog): Level | undefined {
  const has = (s: Section) => (log.unreleased.get(s) ?? 0) > 0;
  if (log.breaking > 0 || has('Removed')) return 'major';
  if (has('Added') || has('Changed') || has('Deprecated')) return 'minor';
  if (has('Fixed') || has('Security')) return 'patch';
  return undefined;
}

export function bumpVersion(version: string, level: Level): string {
  const [major, minor, patch] = parts(version);
  // SemVer 4: major version zero is for initial development, anything may change at any time.
  const effective = major === 0 && level === 'major' ? 'minor' : level;
  if (effective === 'major') return `${major + 1}.0.0`;
  if (effective === 'minor') return `${major}.${minor + 1}.0`;
  return `${major}.${minor}.${patch + 1}`;
}

export interface Release {
  /** The version the release has. */
  version: string;
  /** True when [Unreleased] has entries: the release is still to be cut (--bump). */
  pending: boolean;
  /** How the version was found, for messages. */
  reason: string;
}

export function releaseVersion(text: string): Release {
  const log = parseChangelog(text);
  const newest = log.released[0];
  const level = changeLevel(log);
  if (level === undefined) {
    if (newest === undefined)
      throw new ChangelogError('CHANGELOG.md has no release and no [Unreleased] entry');
    return { version: newest, pending: false, reason: `the newest heading of CHANGELOG.md is [${newest}]` };
  }
  const counts = [...log.unreleased].map(([s, n]) => `${s} ${n}`).join(', ');
  const breaking = log.breaking > 0 ? `, ${log.breaking} marked **Breaking**` : '';
  if (newest === undefined)
    return { version: '0.1.0', pending: true, reason: `the first release ([Unreleased]: ${counts})` };
  const version = bumpVersion(newest, level);
  const zero = newest.startsWith('0.') && level === 'major' ? ' (a major change is minor while 0.x)' : '';
  return {
    version,
    pending: true,
    reason: `[Unreleased] has ${counts}${breaking}: a ${level} change${zero} after [${newest}]`,
  };
}

/**
 * The changelog with the [Unreleased] entries moved under `## [version] - date`, and an empty
 * [Unreleased] left above it. Unchanged when [Unreleased] has no entries.
 */
export function cutRelease(text: string, version: string, date: string): string {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(date)) throw new ChangelogError(`not a date YYYY-MM-DD: ${date}`);
  parts(version);
  if (!releaseVersion(text).pending) return text;
  const lines = text.split('\n');
  const at = lines.findIndex((l) => /^## \[Unreleased\]\s*$/.test(l));
  if (at === -1) throw new ChangelogError('CHANGELOG.md has no "## [Unreleased]" heading');
  return [...lines.slice(0, at + 1), '', `## [${version}] - ${date}`, ...lines.slice(at + 1)].join('\n');
}
