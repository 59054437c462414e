// The flags the cosmolet commands share and the mapping of flags onto config keys (a flag overrides
// the config file). Parsing and help text are src/command-line.ts, shared with the lab's command.
import type { ConfigOverrides } from '../config/load.js';
import type { FlagSpecs, ParsedFlags } from '../command-line.js';

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

/** The config overrides that the given flags carry. */
export function configOverrides(values: ParsedFlags['values'], specs: FlagSpecs): ConfigOverrides {
  const out: ConfigOverrides = {};
  for (const [name, spec] of Object.entries(specs)) {
    const v = values[name];
    if (spec.configKey && v !== undefined) out[spec.configKey] = v;
  }
  return out;
}
