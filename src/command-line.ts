// The plumbing every `cosmolet` command shares: flag definitions for node:util.parseArgs, the help
// text generated from them, and the streams a command writes to. A leaf under both the CLI and the
// lab's command, so the lab need not import the CLI (the CLI loads the lab).
import { parseArgs } from 'node:util';
import { UsageError } from './errors.js';

/** What a command reads and writes instead of the process's own streams (tests pass their own). */
export interface CommandIO {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  env: NodeJS.ProcessEnv;
}

export interface FlagSpec {
  type: 'string' | 'boolean';
  /** The value's placeholder in the help text, for string flags. */
  arg?: string;
  help: string;
  /** The config key this flag overrides, when it has one. */
  configKey?: string;
}

export type FlagSpecs = Record<string, FlagSpec>;

export interface ParsedFlags {
  values: Record<string, string | boolean | undefined>;
  positionals: string[];
}

export function parseFlags(argv: string[], specs: FlagSpecs, command: string): ParsedFlags {
  const options: Record<string, { type: 'string' | 'boolean'; short?: string }> = {};
  for (const [name, spec] of Object.entries(specs)) options[name] = { type: spec.type };
  // -h is --help on every command, as users expect of a CLI.
  if (options.help) options.help.short = 'h';
  try {
    const { values, positionals } = parseArgs({ args: argv, options, strict: true, allowPositionals: true });
    return { values: values, positionals };
  } catch (err) {
    const msg = err instanceof Error ? err.message.split('\n')[0] : String(err);
    throw new UsageError(`cosmolet ${command}: ${msg} (see cosmolet ${command} --help)`);
  }
}

export function helpText(usage: string, summary: string, specs: FlagSpecs): string {
  const rows = Object.entries(specs).map(([name, spec]) => {
    const flag = name === 'help' ? '-h, --help' : `--${name}`;
    const left = `  ${flag}${spec.type === 'string' ? ` ${spec.arg ?? 'VALUE'}` : ''}`;
    return `${left.padEnd(30)} ${spec.help}`;
  });
  return `Usage: ${usage}\n\n${summary}\n\nFlags:\n${rows.join('\n')}\n`;
}
