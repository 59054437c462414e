// `cosmolet lab up | down | status`: a simulated cluster and a real FRR fabric on this machine.
// See src/lab/lab-up.ts for what runs where, and docs/lab.md for the walkthrough.
import { relative } from 'node:path';
import { UsageError } from '../errors.js';
import { DEFAULT_PREFIX, DEFAULT_STATE_DIR, readState, type LabState } from '../lab/lab-state.js';
import { DEFAULT_MANIFESTS, labDown, labHealthy, labHints, labUp, type LabOptions } from '../lab/lab-up.js';
import { fabricHandle, gatherView, renderView, type LabView } from '../lab/lab-view.js';
import { helpText, parseFlags, type FlagSpecs } from './flags.js';
import type { CommandIO } from './render.js';

const LAB_FLAGS: FlagSpecs = {
  manifests: {
    type: 'string',
    arg: 'DIR',
    help: 'up: Kubernetes YAML kept in the simulated cluster, edits applied live (default examples/lab)',
  },
  detach: { type: 'boolean', help: 'up: exit once the lab is ready instead of showing the live view' },
  bfd: {
    type: 'boolean',
    help: 'up: BFD on the node-leaf session (bfdd on both); a dead path is detected in about 1 s',
  },
  json: {
    type: 'boolean',
    help: 'status: the view as JSON (services, IPs, state/reason, installed, leaf, gobgp)',
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
  'cosmolet lab up | down | status [flags]',
  'A data center on this machine (root): FRR node and leaf (IPv6 unnumbered eBGP), a GoBGP peer, a\n' +
    'simulated Kubernetes cluster loaded from a manifest directory, pods behind the node with nftables\n' +
    'DNAT standing in for kube-proxy, and cosmolet run on the node.\n\n' +
    '  up      start the lab (or reuse a running one) and show the live view; Ctrl-C leaves it running\n' +
    '  status  print the view once (exit 3 when no lab runs)\n' +
    '  down    stop every process the lab started and delete its namespaces; idempotent',
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

export async function labCommand(argv: string[], io: CommandIO): Promise<number> {
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
  if (extra.length > 0) throw new UsageError(`cosmolet lab: unexpected argument "${extra[0]}"`);
  const prefix = typeof values.prefix === 'string' ? values.prefix : DEFAULT_PREFIX;
  if (!/^[a-z0-9]{1,12}$/.test(prefix))
    throw new UsageError(`cosmolet lab: --prefix must be [a-z0-9]{1,12}: ${prefix}`);
  const stateDir =
    typeof values['state-dir'] === 'string'
      ? values['state-dir']
      : (io.env['COSMOLET_LAB_DIR'] ?? DEFAULT_STATE_DIR);
  const command = commandName();
  const flags = typeof values['state-dir'] === 'string' ? ` --state-dir ${values['state-dir']}` : '';
  const opts: LabOptions = {
    stateDir,
    prefix,
    manifests: typeof values.manifests === 'string' ? values.manifests : DEFAULT_MANIFESTS,
    progress: (line) => io.stdout.write(`${line.startsWith('  ') ? '' : '==> '}${line}\n`),
    command,
    labFlags: flags,
    bfd: values.bfd === true,
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
    case undefined:
      // Asked for nothing: the usage, as `cosmolet` alone prints its own (an error would go to stderr).
      io.stdout.write(LAB_HELP);
      return 0;
    default:
      throw new UsageError(`cosmolet lab: unknown action "${action}" (up, down or status)`);
  }
}
