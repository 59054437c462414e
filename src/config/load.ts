// Loads the configuration: defaults < the YAML file < flags, then validates everything with the
// schema. Every problem becomes one ConfigError line naming the key, the bad value and what is
// allowed; the CLI turns it into exit status 2.
import { readFileSync } from 'node:fs';
import { parseDocument } from 'yaml';
import type { z } from 'zod';
import { ConfigError, errorMessage } from '../errors.js';
import { configSchema, type Config } from './schema.js';

/** Values given on the command line, keyed by their dotted config path (e.g. `http.address`). */
export type ConfigOverrides = Record<string, string | boolean | number | undefined>;

/** Which flag sets which key, so an error can name the flag the user typed. */
export const FLAG_FOR_KEY: Record<string, string> = {
  nodeName: '--node-name',
  'http.address': '--http-address',
  withdrawOnExit: '--withdraw-on-exit',
  'logging.level': '--log-level',
  'logging.format': '--log-format',
};

export interface LoadOptions {
  /** Path of the YAML config file; optional, defaults apply without it. */
  file?: string | undefined;
  overrides?: ConfigOverrides;
  env?: NodeJS.ProcessEnv;
}

function readYaml(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError('--config', `--config: cannot read ${file}: ${errorMessage(err)}`);
  }
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  const first = doc.errors[0];
  if (first) {
    const pos = first.linePos?.[0];
    const where = pos ? `${file}:${pos.line}:${pos.col}` : file;
    throw new ConfigError(
      '--config',
      `--config: ${where} is not valid YAML: ${first.message.split('\n')[0]}`,
    );
  }
  let value: unknown;
  try {
    value = doc.toJS();
  } catch (err) {
    // e.g. an alias bomb ("Excessive alias count"): the user's file, exit 2 naming it.
    throw new ConfigError('--config', `--config: ${file} is not usable YAML: ${errorMessage(err)}`);
  }
  if (value === null || value === undefined) return {};
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw new ConfigError(
      '--config',
      `--config: ${file} must hold a YAML mapping of config keys, got ${describe(value)}`,
    );
  }
  return value;
}

/** YAML writes an empty section (`services:`) as null: treat it as absent so defaults apply. */
function dropNulls(v: unknown): unknown {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return v;
  const out: Record<string, unknown> = {};
  for (const [k, val] of Object.entries(v)) {
    // defineProperty: a `__proto__:` key stays a key (and is reported unknown), never a prototype.
    if (val !== null)
      Object.defineProperty(out, k, {
        value: dropNulls(val),
        enumerable: true,
        writable: true,
        configurable: true,
      });
  }
  return out;
}

function setPath(target: Record<string, unknown>, path: string, value: unknown): void {
  const keys = path.split('.');
  let cur = target;
  for (const k of keys.slice(0, -1)) {
    const next = cur[k];
    if (typeof next !== 'object' || next === null || Array.isArray(next)) cur[k] = {};
    cur = cur[k] as Record<string, unknown>;
  }
  cur[keys[keys.length - 1] ?? ''] = value;
}

function getPath(obj: unknown, path: readonly PropertyKey[]): unknown {
  let cur = obj;
  for (const k of path) {
    if (typeof cur !== 'object' || cur === null) return undefined;
    cur = (cur as Record<PropertyKey, unknown>)[k];
  }
  return cur;
}

/** A value for an error line: short (a 133 KB garbage file is not echoed whole), numbers as written. */
function describe(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  if (typeof v === 'number' && !Number.isFinite(v)) return `number ${String(v)} (out of range)`;
  return `${typeof v} ${shortJson(v)}`;
}

function shortJson(v: unknown): string {
  const s = JSON.stringify(v) ?? String(v);
  return s.length <= 80 ? s : `${s.slice(0, 60)}..." (${s.length} characters)`;
}

function keyName(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : `${out === '' ? '' : '.'}${String(p)}`;
  return out === '' ? '(top level)' : out;
}

function issueMessage(issue: z.core.$ZodIssue, input: unknown, flagKeys: Set<string>): ConfigError {
  const key = keyName(issue.path);
  const dotted = issue.path.filter((p) => typeof p === 'string').join('.');
  const label = flagKeys.has(dotted) ? `${FLAG_FOR_KEY[dotted]} (${key})` : key;
  const got = describe(getPath(input, issue.path));
  switch (issue.code) {
    case 'unrecognized_keys': {
      const unknown = issue.keys.map((k) => (key === '(top level)' ? k : `${key}.${k}`));
      return new ConfigError(
        unknown[0] ?? key,
        `config: unknown key ${unknown.map((k) => JSON.stringify(k)).join(', ')}`,
      );
    }
    case 'invalid_type':
      return new ConfigError(dotted, `config: ${label}: expected ${issue.expected}, got ${got}`);
    case 'invalid_value':
      return new ConfigError(
        dotted,
        `config: ${label}: got ${got}; allowed: ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`,
      );
    case 'too_small':
    case 'too_big': {
      const bound =
        issue.code === 'too_small' ? `at least ${String(issue.minimum)}` : `at most ${String(issue.maximum)}`;
      const what = issue.origin === 'string' ? 'must not be empty' : `must be ${bound}`;
      return new ConfigError(dotted, `config: ${label}: ${what}, got ${got}`);
    }
    case 'invalid_key': {
      // A map's key (a route class name): the issue's path ends with the key itself.
      const name = issue.path[issue.path.length - 1];
      const map = keyName(issue.path.slice(0, -1));
      const why = issue.issues[0]?.message ?? issue.message;
      return new ConfigError(dotted, `config: ${map}: key ${JSON.stringify(String(name))} ${why}`);
    }
    default:
      return new ConfigError(
        dotted,
        `config: ${label}: ${shortJson(getPath(input, issue.path))} ${issue.message}`,
      );
  }
}

/** A file that is not a config at all (random YAML) is not answered with a thousand lines. */
const MAX_REPORTED = 20;

/**
 * Validates a config object (already merged). Throws one ConfigError for every problem found, one
 * line each, so a file with several mistakes is fixed in one round; its `key` names the first.
 */
export function validateConfig(input: unknown, flagKeys: Set<string> = new Set()): Config {
  const result = configSchema.safeParse(input);
  if (result.success) return result.data;
  const errors = result.error.issues.map((issue) => issueMessage(issue, input, flagKeys));
  const first = errors[0];
  if (!first) throw new ConfigError('', 'config: invalid');
  if (errors.length === 1) throw first;
  const lines = [...new Set(errors.map((e) => e.message))];
  const shown = lines.slice(0, MAX_REPORTED);
  if (lines.length > shown.length) shown.push(`config: and ${lines.length - shown.length} more problems`);
  throw new ConfigError(first.key, shown.join('\n'));
}

export function loadConfig(opts: LoadOptions = {}): Config {
  const env = opts.env ?? process.env;
  const raw = opts.file === undefined ? {} : dropNulls(readYaml(opts.file));
  const merged = structuredClone(raw) as Record<string, unknown>;
  const flagKeys = new Set<string>();
  for (const [path, value] of Object.entries(opts.overrides ?? {})) {
    if (value === undefined) continue;
    setPath(merged, path, value);
    flagKeys.add(path);
  }
  const config = validateConfig(merged, flagKeys);
  if (config.nodeName === '' && env.NODE_NAME) config.nodeName = env.NODE_NAME;
  return config;
}
