// What a fabric is asked to be: its options, the default addressing, the addressing that options
// make, and the options that rebuild a persistent fabric's handle from its state file.
import type { Logger } from 'cosmolet/logger';
import { LAB_ROUTE_CLASSES, type FabricAddressing } from './config.js';
import type { FabricState } from './state.js';

export interface FabricOptions {
  /** Namespace name prefix; default `cl` + 6 random hex digits. Namespaces are `<prefix>-node` etc. */
  prefix?: string;
  /** Working directory (configs, sockets, logs); default a fresh directory under the OS tmpdir. */
  dir?: string;
  /** How many nodes (1 to 8, default 1). */
  nodes?: number;
  nodeAsn?: number;
  leafAsn?: number;
  extAsn?: number;
  /** Service ranges the node's export prefix-lists admit (host routes inside them). */
  serviceRangesV4?: string[];
  serviceRangesV6?: string[];
  kernelProtocol?: number;
  staticTag?: number;
  /** Which cosmolet origination the node's config exports (default both). */
  exportKernel?: boolean;
  exportStatic?: boolean;
  /** BFD on the node-leaf session (bfdd on both): a dead peer is detected in about 1 s, not 10. */
  bfd?: boolean;
  /** false: the node's FRR is IPv4-only (no IPv6 unicast address family, no IPv6 peer). */
  ipv6Unicast?: boolean;
  /** Prefixes the leaf originates; prefixes each node originates (by index); default route to nodes. */
  leafNetworks?: string[];
  nodeNetworks?: string[][];
  defaultToNodes?: boolean;
  /** Keep the working directory after teardown (logs). */
  keepDir?: boolean;
  /**
   * For `cosmolet lab up`: the daemons outlive this process (detached, no exit/signal hooks), and
   * the state is written to `<dir>/fabric.json` so another process can `Fabric.attach(dir)` later.
   */
  persistent?: boolean;
  /** Deadline for daemons and sessions to come up (default 60 s). */
  startTimeoutMs?: number;
  /**
   * Called once the namespaces, links and configs exist, while FRR and GoBGP start: what runs in
   * the namespaces beside them (the lab's cluster and cosmolet) can start at the same time.
   */
  onTopology?: () => Promise<void>;
  logger?: Logger;
}

export const DEFAULT_ADDRESSING: FabricAddressing = {
  nodeAsn: 65001,
  leafAsn: 65101,
  extAsn: 65201,
  leafRouterId: '10.255.0.2',
  leafLoopbackV6: 'fd00:255::2',
  extRouterId: '10.255.0.3',
  serviceRangesV4: ['10.96.0.0/12', '192.0.2.0/24'],
  serviceRangesV6: ['fd00:10:96::/108', '2001:db8:96::/64'],
  kernelProtocol: 73,
  staticTag: 7300,
  exportKernel: true,
  exportStatic: true,
  bfd: false,
  ipv6Unicast: true,
  nodeCount: 1,
  routeClasses: LAB_ROUTE_CLASSES,
  leafNetworks: [],
  nodeNetworks: [],
  defaultToNodes: false,
};

/** The addressing of a fabric of `nodeCount` nodes: the defaults with what the options set. */
export function addressingFromOptions(opts: FabricOptions, nodeCount: number): FabricAddressing {
  return {
    ...DEFAULT_ADDRESSING,
    nodeCount,
    ...(opts.nodeAsn !== undefined ? { nodeAsn: opts.nodeAsn } : {}),
    ...(opts.leafAsn !== undefined ? { leafAsn: opts.leafAsn } : {}),
    ...(opts.extAsn !== undefined ? { extAsn: opts.extAsn } : {}),
    ...(opts.serviceRangesV4 ? { serviceRangesV4: opts.serviceRangesV4 } : {}),
    ...(opts.serviceRangesV6 ? { serviceRangesV6: opts.serviceRangesV6 } : {}),
    ...(opts.kernelProtocol !== undefined ? { kernelProtocol: opts.kernelProtocol } : {}),
    ...(opts.staticTag !== undefined ? { staticTag: opts.staticTag } : {}),
    ...(opts.exportKernel !== undefined ? { exportKernel: opts.exportKernel } : {}),
    ...(opts.exportStatic !== undefined ? { exportStatic: opts.exportStatic } : {}),
    ...(opts.bfd !== undefined ? { bfd: opts.bfd } : {}),
    ...(opts.ipv6Unicast !== undefined ? { ipv6Unicast: opts.ipv6Unicast } : {}),
    ...(opts.leafNetworks ? { leafNetworks: opts.leafNetworks } : {}),
    ...(opts.nodeNetworks ? { nodeNetworks: opts.nodeNetworks } : {}),
    ...(opts.defaultToNodes !== undefined ? { defaultToNodes: opts.defaultToNodes } : {}),
  };
}

/** The options of the persistent fabric another process started and described in `state`. */
export function optionsFromState(state: FabricState, logger?: Logger): FabricOptions {
  const a = state.addressing;
  return {
    prefix: state.prefix,
    dir: state.dir,
    persistent: true,
    nodes: a.nodeCount ?? 1,
    nodeAsn: a.nodeAsn,
    leafAsn: a.leafAsn,
    extAsn: a.extAsn,
    serviceRangesV4: a.serviceRangesV4,
    serviceRangesV6: a.serviceRangesV6,
    kernelProtocol: a.kernelProtocol,
    staticTag: a.staticTag,
    exportKernel: a.exportKernel,
    exportStatic: a.exportStatic,
    bfd: a.bfd,
    // State written before the option existed: a dual-stack node.
    ipv6Unicast: a.ipv6Unicast ?? true,
    leafNetworks: a.leafNetworks ?? [],
    nodeNetworks: a.nodeNetworks ?? [],
    defaultToNodes: a.defaultToNodes ?? false,
    ...(logger ? { logger } : {}),
  };
}
