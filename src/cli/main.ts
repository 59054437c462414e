// Command dispatch and the one place that turns errors into exit statuses: input the user must fix
// (flags, config, snapshot, kubeconfig) exits 2 with one line; anything else exits 1.
import { CosmoletError, ErrorCodes, EXIT_USAGE, UsageError, errorMessage } from '../errors.js';
import { buildInfo, sourceInfo, versionLine } from '../version.js';
import { parseFlags, type CommandIO } from '../command-line.js';
import { renderCommand } from './render.js';

const USAGE = `Usage: cosmolet <command> [flags]

Commands:
  run       watch the cluster and keep this node's routes equal to the plan
  render    print the plan for one node from a cluster snapshot (no cluster, no FRR)
  status    one view across the cluster: what every node advertises, read from each node's /status
  lab       up | down | status | node: a simulated cluster and a real FRR fabric on this machine
  version   print version, commit, build date, Node.js version, licence and source (--json)

Run 'cosmolet <command> --help' for the flags of a command.
`;

const USER_ERRORS: ReadonlySet<string> = new Set([
  ErrorCodes.CONFIG_INVALID,
  ErrorCodes.USAGE,
  ErrorCodes.SNAPSHOT_INVALID,
  ErrorCodes.KUBECONFIG_MISSING,
]);

type Command = (argv: string[], io: CommandIO) => number | Promise<number>;

async function loadCommand(name: string): Promise<Command | undefined> {
  switch (name) {
    case 'render':
      return renderCommand;
    case 'version':
      return versionCommand;
    case 'run':
      return (await import('./run.js')).runCommand;
    case 'lab':
      return loadLabCommand();
    case 'status':
      return (await import('./status.js')).statusCommand;
    default:
      return undefined;
  }
}

const VERSION_HELP = `Usage: cosmolet version [--json]

Prints the version, commit, build date and Node.js version; --json prints them as /version serves
them, with the licence and where the source is.

Flags:
  --json                         one JSON document
  -h, --help                     show this help
`;

function versionCommand(argv: string[], io: CommandIO): number {
  const { values, positionals } = parseFlags(
    argv,
    { json: { type: 'boolean', help: '' }, help: { type: 'boolean', help: '' } },
    'version',
  );
  if (values.help) {
    io.stdout.write(VERSION_HELP);
    return 0;
  }
  if (positionals.length > 0)
    throw new CosmoletError(ErrorCodes.USAGE, 'cosmolet version takes no arguments');
  io.stdout.write(
    values.json ? `${JSON.stringify({ ...buildInfo(), ...sourceInfo() })}\n` : `${versionLine()}\n`,
  );
  return 0;
}

/**
 * The lab is a package of the source checkout (packages/lab), not of the product: the image and
 * `npm pack` leave it out. Its name is in a variable so that neither the compiler nor the import
 * rules see a dependency of the product on it; `cosmolet lab` finds it through the checkout's
 * node_modules, and says so where it is not installed instead of failing with a module error.
 */
const LAB_COMMAND_MODULE = '@cosmolet/lab/command/command';

async function loadLabCommand(): Promise<Command> {
  // packages/lab/src/command/command.ts exports labCommand of this signature (the lab e2e tests run it).
  const lab = (await import(LAB_COMMAND_MODULE).catch(labMissing)) as { labCommand: Command };
  return lab.labCommand;
}

function labMissing(err: unknown): never {
  if ((err as { code?: unknown }).code === 'ERR_MODULE_NOT_FOUND') {
    throw new UsageError(
      'cosmolet lab is not part of this build (the container image leaves the lab out): run it from a source checkout',
    );
  }
  throw err;
}

export async function main(argv: string[], io: CommandIO): Promise<number> {
  const [name, ...rest] = argv;
  // Asking for the usage (no command at all, or --help) is not an error: stdout, exit 0. Usage
  // printed because of an error (an unknown command) goes to stderr with exit 2.
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    io.stdout.write(USAGE);
    return 0;
  }
  if (name === '--version') {
    io.stdout.write(versionLine() + '\n');
    return 0;
  }
  try {
    const command = await loadCommand(name);
    if (!command) {
      io.stderr.write(`cosmolet: unknown command "${name}"\n\n${USAGE}`);
      return EXIT_USAGE;
    }
    return await command(rest, io);
  } catch (err) {
    if (err instanceof CosmoletError && USER_ERRORS.has(err.code)) {
      io.stderr.write(`${err.message}\n`);
      return EXIT_USAGE;
    }
    io.stderr.write(`cosmolet ${name}: ${errorMessage(err)}\n`);
    return 1;
  }
}
