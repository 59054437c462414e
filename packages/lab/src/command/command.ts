// `cosmolet lab up | down | status | node stop|start NAME`: a simulated cluster and a real FRR
// fabric of N nodes on this machine.
// See up.ts for what runs where, and docs/lab.md for the walkthrough. Part of the lab:
// cli/main.ts loads it on demand, and the container image leaves it out with the rest of packages/lab.
import { relative } from 'node:path';
import { EXIT_USAGE, UsageError } from 'cosmolet/errors';
import { LabError, LabErrorCodes } from '../errors.js';
import { MAX_NODES } from '../fabric/topology.js';
import { labHints } from './hints.js';
import { startNode, stopNode } from './node.js';
import {
  DEFAULT_NODES,
  DEFAULT_PREFIX,
  DEFAULT_STATE_DIR,
  readState,
  type KubeKind,
  type LabState,
} from '../state/state.js';
import { parseKubeFlag } from '../real-cluster/kube.js';
import { labDown } from './down.js';
import { labHealthy } from './reuse.js';
import { labUp, type LabOptions } from './up.js';
import { fabricHandle, gatherView, renderView, type LabView } from './view.js';
import { helpText, parseFlags, type CommandIO, type FlagSpecs } from 'cosmolet/command-line';

const LAB_FLAGS: FlagSpecs = {
  manifests: {
    type: 'string',
    arg: 'DIR',
    help: 'up: Kubernetes YAML kept in the cluster, edits applied live (default examples/lab, or examples/lab-real with --kube real)',
  },
  kube: {
    type: 'string',
    arg: 'double|real',
    help:
      'up: the Kubernetes API: the embedded double, or a real etcd, kube-apiserver, kube-controller-manager and ' +
      'kube-scheduler (built from their Go modules the first time: minutes). Default: real when built, else double',
  },
  nodes: {
    type: 'string',
    arg: 'N',
    help: `up: how many nodes, 1 to ${MAX_NODES} (default ${DEFAULT_NODES}), each with FRR and cosmolet run`,
  },
  detach: { type: 'boolean', help: 'up: exit once the lab is ready instead of showing the live view' },
  bfd: {
    type: 'boolean',
    help: 'up: BFD on the node-leaf session (bfdd on both); a dead path is detected in about 1 s',
  },
  json: {
    type: 'boolean',
    help: 'status: the view as JSON (nodes, prefixes with advertising nodes and leaf next hops, services)',
  },
  watch: { type: 'boolean', help: 'status: keep the view on screen, redrawn when something changes' },
  'state-dir': {
    type: 'string',
    arg: 'DIR',
    help: `where the lab keeps its state, sockets, kubeconfig and logs (default ${DEFAULT_STATE_DIR}, env COSMOLET_LAB_DIR)`,
  },
  prefix: {
    type: 'string',
    arg: 'NAME',
    help: `network namespace prefix, [a-z0-9]{1,12} (default ${DEFAULT_PREFIX}): <prefix>-node, -leaf, -ext, -pod-*`,
  },
  force: {
    type: 'boolean',
    help: 'down: also delete <prefix>-* namespaces when the state directory is gone',
  },
  help: { type: 'boolean', help: 'show this help' },
};

const LAB_HELP = helpText(
  'cosmolet lab up | down | status | node stop|start NAME [flags]',
  'A data center on this machine (root): N nodes with FRR and cosmolet run, a leaf (FRR, IPv6\n' +
    'unnumbered eBGP to every node, ECMP), a GoBGP peer, a simulated Kubernetes cluster loaded from a\n' +
    'manifest directory, and pods on the nodes with nftables DNAT standing in for kube-proxy.\n\n' +
    '  up               start the lab (or reuse a running one) and show the live view; Ctrl-C leaves it running\n' +
    '  status           print the view once (exit 3 when no lab runs)\n' +
    "  node stop NAME   stop a node's FRR and cosmolet (a node that dies); node start NAME brings them back\n" +
    '  down             stop every process the lab started and delete its namespaces; idempotent',
  LAB_FLAGS,
);

/** How the user invoked cosmolet, so the printed commands can be pasted. */
function commandName(): string {
  const script = process.argv[1] ?? '';
  if (script.endsWith('dist/cli.js')) {
    const rel = relative(process.cwd(), script);
    return `node ${rel.startsWith('..') ? script : rel}`;
  }
  return 'cosmolet';
}

let outputClosed = false;

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

async function view(state: LabState): Promise<LabView> {
  const h = labHealthy(state);
  const v = await gatherView(state, fabricHandle(state));
  if (!h.ok) v.running = false;
  return v;
}

/** Redraws the view when it changes, until SIGINT/SIGTERM; the lab keeps running. */
async function liveView(state: LabState, io: CommandIO, command: string, flags: string): Promise<number> {
  const tty = (io.stdout as NodeJS.WriteStream).isTTY === true;
  let stop = false;
  const onSignal = (): void => {
    stop = true;
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const hints = labHints(state, command, flags);
  let last = '';
  try {
    while (!stop && !outputClosed) {
      let text: string;
      try {
        text = renderView(await view(state));
      } catch (err) {
        text = `cannot read the lab: ${err instanceof Error ? err.message : String(err)}\n`;
      }
      if (text !== last) {
        last = text;
        const stamp = new Date().toTimeString().slice(0, 8);
        if (tty) io.stdout.write('\x1b[H\x1b[2J');
        else io.stdout.write('\n');
        io.stdout.write(
          `cosmolet lab ${state.prefix}  (updated ${stamp}; Ctrl-C leaves the lab running)\n\n${text}\n${hints}\n`,
        );
      }
      for (let i = 0; i < 10 && !stop && !outputClosed; i++) await sleep(100);
    }
  } finally {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
  }
  io.stdout.write(`\nThe lab keeps running. Tear it down with: ${command} lab down${flags}\n`);
  return 0;
}

/** A prerequisite the machine lacks is the user's to fix: one line and exit 2, as for bad flags. */
export async function labCommand(argv: string[], io: CommandIO): Promise<number> {
  try {
    return await lab(argv, io);
  } catch (err) {
    if (!(err instanceof LabError) || err.code !== LabErrorCodes.LAB_PREREQUISITE) throw err;
    io.stderr.write(`${err.message}\n`);
    return EXIT_USAGE;
  }
}

async function lab(argv: string[], io: CommandIO): Promise<number> {
  const { values, positionals } = parseFlags(argv, LAB_FLAGS, 'lab');
  if (values.help) {
    io.stdout.write(LAB_HELP);
    return 0;
  }
  // A closed stdout (`| head`, a closed terminal) must not kill `up` half-way: finish, then stop.
  io.stdout.on('error', () => {
    outputClosed = true;
  });
  const [action, ...extra] = positionals;
  if (extra.length > 0 && action !== 'node')
    throw new UsageError(`cosmolet lab: unexpected argument "${extra[0]}"`);
  let nodes: number | undefined;
  if (typeof values.nodes === 'string') {
    nodes = Number(values.nodes);
    if (!/^\d+$/.test(values.nodes) || nodes < 1 || nodes > MAX_NODES)
      throw new UsageError(`cosmolet lab: --nodes must be 1 to ${MAX_NODES}: ${values.nodes}`);
  }
  const prefix = typeof values.prefix === 'string' ? values.prefix : DEFAULT_PREFIX;
  if (!/^[a-z0-9]{1,12}$/.test(prefix))
    throw new UsageError(`cosmolet lab: --prefix must be [a-z0-9]{1,12}: ${prefix}`);
  const stateDir =
    typeof values['state-dir'] === 'string'
      ? values['state-dir']
      : (io.env['COSMOLET_LAB_DIR'] ?? DEFAULT_STATE_DIR);
  let kube: KubeKind | undefined;
  if (typeof values.kube === 'string') {
    kube = parseKubeFlag(values.kube);
    if (kube === undefined)
      throw new UsageError(`cosmolet lab: --kube must be double or real: ${values.kube}`);
  }
  const command = commandName();
  const flags = typeof values['state-dir'] === 'string' ? ` --state-dir ${values['state-dir']}` : '';
  const opts: LabOptions = {
    stateDir,
    prefix,
    ...(typeof values.manifests === 'string' ? { manifests: values.manifests } : {}),
    ...(kube !== undefined ? { kube } : {}),
    progress: (line) => io.stdout.write(`${line.startsWith('  ') ? '' : '==> '}${line}\n`),
    command,
    labFlags: flags,
    bfd: values.bfd === true,
    ...(nodes !== undefined ? { nodes } : {}),
  };
  switch (action) {
    case 'up': {
      // Ctrl-C while it starts: what exists stays recorded; the next `down` or `up` cleans it up.
      const interrupted = (): void => {
        io.stderr.write(
          `\ninterrupted while starting: the lab is half made. Remove it with ${command} lab down${flags} ` +
            `(or run ${command} lab up${flags} again, which cleans up first)\n`,
        );
        process.exit(130);
      };
      process.once('SIGINT', interrupted);
      process.once('SIGTERM', interrupted);
      let r: Awaited<ReturnType<typeof labUp>>;
      try {
        r = await labUp(opts);
      } finally {
        process.removeListener('SIGINT', interrupted);
        process.removeListener('SIGTERM', interrupted);
      }
      io.stdout.write(
        r.reused
          ? `\nThe lab was already running.\n`
          : `\nThe lab is up (${r.seconds.toFixed(1)} s). It keeps running until: ${command} lab down${flags}\n`,
      );
      if (values.detach) {
        io.stdout.write(`\n${labHints(r.state, command, flags)}\n`);
        return 0;
      }
      return liveView(r.state, io, command, flags);
    }
    case 'status': {
      const state = readState(stateDir);
      if (!state) {
        if (values.json) io.stdout.write(JSON.stringify({ running: false }) + '\n');
        else io.stdout.write(`No lab in ${stateDir}. Start one with: ${command} lab up${flags}\n`);
        return 3;
      }
      if (values.watch) return liveView(state, io, command, flags);
      const v = await view(state);
      if (values.json) {
        io.stdout.write(JSON.stringify(v, null, 2) + '\n');
        return v.running ? 0 : 3;
      }
      if (!v.running) {
        const h = labHealthy(state);
        io.stdout.write(
          `The lab in ${stateDir} is not whole: ${h.problems.join('; ')}.\nRecover with: ${command} lab down${flags}, then ${command} lab up${flags}\n\n`,
        );
      }
      io.stdout.write(`${renderView(v)}\n${labHints(state, command, flags)}\n`);
      return v.running ? 0 : 3;
    }
    case 'down': {
      const r = await labDown({ ...opts, force: values.force === true });
      if (!r.found) io.stdout.write(`No lab in ${stateDir}; nothing to do.\n`);
      else
        io.stdout.write(
          `Lab down: stopped ${r.killed} processes, deleted ${r.namespaces.length} namespaces${r.namespaces.length ? ` (${r.namespaces.join(', ')})` : ''}.\n`,
        );
      return 0;
    }
    case 'node': {
      const [verb, name, more] = extra;
      if ((verb !== 'stop' && verb !== 'start') || !name || more !== undefined)
        throw new UsageError('cosmolet lab node: stop NAME or start NAME (e.g. lab node stop lab-node-3)');
      const state = readState(stateDir);
      if (!state) {
        io.stdout.write(`No lab in ${stateDir}. Start one with: ${command} lab up${flags}\n`);
        return 3;
      }
      if (verb === 'stop') {
        await stopNode(state, name);
        io.stdout.write(
          `${name}: FRR and cosmolet killed. Their BGP sessions close, so the leaf drops ${name}'s next hops at once\n` +
            '(a node that loses power sends nothing: the leaf then waits for the hold time, or BFD).\n',
        );
      } else {
        await startNode(state, name);
        io.stdout.write(`${name}: FRR and cosmolet running again; its sessions come up within seconds.\n`);
      }
      return 0;
    }
    case undefined:
      // Asked for nothing: the usage, as `cosmolet` alone prints its own (an error would go to stderr).
      io.stdout.write(LAB_HELP);
      return 0;
    default:
      throw new UsageError(`cosmolet lab: unknown action "${action}" (up, down, status or node)`);
  }
}
