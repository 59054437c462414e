// Command-line flags: definitions for node:util.parseArgs, the help text generated from them, and
// the mapping of flags onto config keys (a flag overrides the config file).
import { parseArgs } from 'node:util';
import { UsageError } from '../errors.js';
import type { ConfigOverrides } from '../config/load.js';

export interface FlagSpec {
  type: 'string' | 'boolean';
  /** The value's placeholder in the help text, for string flags. */
  arg?: string;
  help: string;
  /** The config key this flag overrides, when it has one. */
  configKey?: string;
}

export type FlagSpecs = Record<string, FlagSpec>;

export const COMMON_FLAGS: FlagSpecs = {
  config: { type: 'string', arg: 'FILE', help: 'configuration file (YAML); defaults apply without it' },
  'node-name': {
    type: 'string',
    arg: 'NAME',
    help: 'the node this instance speaks for (default: nodeName from the config, else env NODE_NAME)',
    configKey: 'nodeName',
  },
  'log-level': {
    type: 'string',
    arg: 'LEVEL',
    help: 'debug | info | warn | error',
    configKey: 'logging.level',
  },
  'log-format': { type: 'string', arg: 'FORMAT', help: 'json | text', configKey: 'logging.format' },
  help: { type: 'boolean', help: 'show this help' },
};

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

/** The config overrides that the given flags carry. */
export function configOverrides(values: ParsedFlags['values'], specs: FlagSpecs): ConfigOverrides {
  const out: ConfigOverrides = {};
  for (const [name, spec] of Object.entries(specs)) {
    const v = values[name];
    if (spec.configKey && v !== undefined) out[spec.configKey] = v;
  }
  return out;
}

export function helpText(usage: string, summary: string, specs: FlagSpecs): string {
  const rows = Object.entries(specs).map(([name, spec]) => {
    const flag = name === 'help' ? '-h, --help' : `--${name}`;
    const left = `  ${flag}${spec.type === 'string' ? ` ${spec.arg ?? 'VALUE'}` : ''}`;
    return `${left.padEnd(30)} ${spec.help}`;
  });
  return `Usage: ${usage}\n\n${summary}\n\nFlags:\n${rows.join('\n')}\n`;
}
