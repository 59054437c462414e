// `cosmolet render --snapshot FILE`: the plan for one node from a cluster snapshot, as JSON on
// stdout. No cluster, no FRR. Warnings go to stderr so stdout holds exactly one JSON document.
import { loadConfig } from '../config/load.js';
import { planSettings } from '../config/schema.js';
import { UsageError } from '../errors.js';
import { projectService } from '../plan/input.js';
import { computePlan, unknownRouteClasses } from '../plan/plan.js';
import { unknownClassMessage } from '../plan/route-class.js';
import { readSnapshot } from './snapshot.js';
import { helpText, parseFlags, type CommandIO, type FlagSpecs } from '../command-line.js';
import { COMMON_FLAGS, configOverrides } from './flags.js';

export const RENDER_FLAGS: FlagSpecs = {
  snapshot: {
    type: 'string',
    arg: 'FILE',
    help: 'Kubernetes List (kubectl get svc,endpointslices,nodes -A -o yaml), YAML or JSON',
  },
  ...COMMON_FLAGS,
};

export const RENDER_HELP = helpText(
  'cosmolet render --snapshot FILE [flags]',
  'Prints, as JSON, the routes this node would advertise and why every other Service IP is skipped.',
  RENDER_FLAGS,
);

export function renderCommand(argv: string[], io: CommandIO): number {
  const { values, positionals } = parseFlags(argv, RENDER_FLAGS, 'render');
  if (values.help) {
    io.stdout.write(RENDER_HELP);
    return 0;
  }
  if (positionals.length > 0)
    throw new UsageError(`cosmolet render: unexpected argument ${JSON.stringify(positionals[0])}`);
  const snapshotFile = values.snapshot;
  if (typeof snapshotFile !== 'string') throw new UsageError('cosmolet render: --snapshot FILE is required');
  const config = loadConfig({
    file: typeof values.config === 'string' ? values.config : undefined,
    overrides: configOverrides(values, RENDER_FLAGS),
    env: io.env,
  });
  if (config.nodeName === '') {
    throw new UsageError(
      'cosmolet render: no node name: pass --node-name, set nodeName in the config, or NODE_NAME',
    );
  }
  const snapshot = readSnapshot(snapshotFile);
  const useful = snapshot.services.length + snapshot.endpointSlices.length + snapshot.nodes.length;
  if (useful === 0) {
    io.stderr.write(
      `warning: ${snapshotFile} holds no Services, EndpointSlices or Nodes` +
        (snapshot.ignored > 0 ? ` (${snapshot.ignored} objects of other kinds ignored)` : '') +
        '; the plan is empty\n',
    );
  }
  const node = snapshot.nodes.find((n) => n.metadata?.name === config.nodeName);
  if (!node) {
    io.stderr.write(
      `warning: node "${config.nodeName}" is not in ${snapshotFile}; treating it as schedulable and unlabelled\n`,
    );
  }
  const settings = planSettings(config);
  const plan = computePlan({
    services: snapshot.services,
    endpointSlices: snapshot.endpointSlices,
    node,
    nodeName: config.nodeName,
    settings,
    missingNode: 'assume-schedulable',
  });
  const projected = snapshot.services.map((s) => projectService(s)).filter((s) => s !== undefined);
  for (const u of unknownRouteClasses(projected, settings))
    io.stderr.write(`warning: ${unknownClassMessage(u)}\n`);
  io.stdout.write(JSON.stringify(plan, null, 2) + '\n');
  return 0;
}
