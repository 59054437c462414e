// `cosmolet run`: parses the flags, loads the config, builds the real dependencies (API client,
// router, FRR client, logger), starts the daemon (src/controller/daemon.ts) and stops it on SIGTERM
// or SIGINT, within 10 s (docs/decisions.md "Signals and exit").
import { loadConfig, type ConfigOverrides } from '../config/load.js';
import { UsageError } from '../errors.js';
import { Daemon } from '../controller/daemon.js';
import { loadKubeClient } from '../kube/client.js';
import { createLogger } from '../observe/log.js';
import { createRouter } from '../router/create.js';
import { Vtysh } from '../router/frr/vtysh.js';
import { helpText, parseFlags, type CommandIO, type FlagSpecs } from '../command-line.js';
import { COMMON_FLAGS, configOverrides } from './flags.js';

export const RUN_FLAGS: FlagSpecs = {
  ...COMMON_FLAGS,
  kubeconfig: {
    type: 'string',
    arg: 'FILE',
    help: 'kubeconfig to use (default: $KUBECONFIG, else the in-cluster service account)',
  },
  'http-address': {
    type: 'string',
    arg: 'HOST:PORT',
    help: 'address for /healthz /readyz /metrics /version /status (default :8080)',
    configKey: 'http.address',
  },
  'withdraw-on-exit': {
    type: 'boolean',
    help: 'withdraw every route cosmolet owns before exiting (decommissioning)',
    configKey: 'withdrawOnExit',
  },
};

export const RUN_HELP = helpText(
  'cosmolet run [flags]',
  "Watches Services, EndpointSlices and this Node, and keeps this node's routes equal to the plan.",
  RUN_FLAGS,
);

/** Shutdown must finish within the contract's 10 s; past this, the process exits anyway. */
const SHUTDOWN_DEADLINE_MS = 9_000;

export async function runCommand(argv: string[], io: CommandIO): Promise<number> {
  // Listen for signals first: a SIGTERM during start-up must still end in a clean exit 0.
  const stopSignal = new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
  const { values, positionals } = parseFlags(argv, RUN_FLAGS, 'run');
  if (values.help) {
    io.stdout.write(RUN_HELP);
    return 0;
  }
  if (positionals.length > 0) throw new UsageError(`cosmolet run: unexpected argument "${positionals[0]}"`);
  const overrides: ConfigOverrides = configOverrides(values, RUN_FLAGS);
  const config = loadConfig({
    file: typeof values.config === 'string' ? values.config : undefined,
    overrides,
    env: io.env,
  });
  if (config.nodeName === '') {
    throw new UsageError(
      'cosmolet run: no node name: pass --node-name, set nodeName in the config, or NODE_NAME',
    );
  }
  const kubeconfig = typeof values.kubeconfig === 'string' ? values.kubeconfig : undefined;
  const client = await loadKubeClient({ ...(kubeconfig ? { kubeconfigPath: kubeconfig } : {}), env: io.env });
  const log = createLogger(config.logging.level, config.logging.format, io.stdout);
  for (const warning of client.warnings ?? []) log.warn(warning);
  const frr = config.frr;
  // One FRR client for the process: vtysh calls run one at a time, router and monitor alike.
  const vtysh = new Vtysh({
    vtyshPath: frr.vtyshPath,
    socketDir: frr.socketDir,
    timeoutMs: frr.commandTimeoutSeconds * 1000,
  });
  const router = createRouter(
    {
      ...frr,
      marks: Object.values(config.routeClasses).map((c) => c.mark),
      logger: log.child({ component: 'router' }),
    },
    vtysh,
  );
  const daemon = new Daemon({ config, client, router, vtysh, logger: log });
  await daemon.start();

  const signal = await stopSignal;
  log.info({ signal }, `${signal} received: shutting down`);
  const deadline = setTimeout(() => {
    log.error('shutdown took too long; exiting now');
    process.exit(0);
  }, SHUTDOWN_DEADLINE_MS);
  deadline.unref();
  await daemon.stop();
  log.flush();
  // Sockets kept alive by the API client must not hold the process open.
  process.exit(0);
}
