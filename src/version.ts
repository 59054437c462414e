// Build information: the version from package.json, commit and date stamped into
// dist/build-info.json at build time; "unknown" when not stamped (running from source).
import { readFileSync } from 'node:fs';

export interface BuildInfo {
  version: string;
  commit: string;
  buildDate: string;
  nodejs: string;
}

function readJson(relative: string): Record<string, unknown> {
  try {
    const parsed: unknown = JSON.parse(readFileSync(new URL(relative, import.meta.url), 'utf8'));
    return typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

function str(v: unknown): string {
  return typeof v === 'string' && v !== '' ? v : 'unknown';
}

let cached: BuildInfo | undefined;

export function buildInfo(): BuildInfo {
  if (!cached) {
    const pkg = readJson('../package.json');
    const stamp = readJson('./build-info.json');
    cached = {
      version: str(pkg.version),
      commit: str(stamp.commit),
      buildDate: str(stamp.buildDate),
      nodejs: process.version,
    };
  }
  return cached;
}

/** cosmolet's licence (SPDX) and where its source is: package.json's `license` and `repository`. */
export interface SourceInfo {
  license: string;
  /** The repository, at the built commit when it is known. */
  source: string;
}

export function sourceInfo(info: BuildInfo = buildInfo()): SourceInfo {
  const pkg = readJson('../package.json');
  const repo = pkg.repository;
  const url = str(typeof repo === 'object' && repo !== null ? (repo as { url?: unknown }).url : repo).replace(
    /\.git$/,
    '',
  );
  return {
    license: str(pkg.license),
    source: info.commit !== 'unknown' && url !== 'unknown' ? `${url}/tree/${info.commit}` : url,
  };
}

export function versionLine(info: BuildInfo = buildInfo()): string {
  return `cosmolet ${info.version} (commit ${info.commit}, built ${info.buildDate}, node ${info.nodejs})`;
}
