// Configuration text for the fabric lab's routers: the node's "operator" FRR config (exports
// cosmolet's kernel routes and tagged static routes through prefix-lists for the service ranges),
// the leaf's FRR config and gobgpd's TOML. Pure functions so `cosmolet lab` can print them.
//
// Every node has the same ASN (BGP to the host as RFC 7938 section 5.2.1 reuses ASNs, and as
// Calico and MetalLB fabrics do): the leaf sees one AS path for a Service IP whichever node sends it,
// so plain `maximum-paths` makes them ECMP, and a node never accepts another node's Service routes
// back from the leaf (its own ASN is in the path), so each node only ever serves what it advertises.

export interface FabricAddressing {
  nodeAsn: number;
  leafAsn: number;
  extAsn: number;
  /** Also the leaf's loopback address, with leafLoopbackV6. */
  leafRouterId: string;
  leafLoopbackV6: string;
  extRouterId: string;
  serviceRangesV4: string[];
  serviceRangesV6: string[];
  kernelProtocol: number;
  staticTag: number;
  exportKernel: boolean;
  exportStatic: boolean;
  /** `neighbor swp1 bfd` on node and leaf (needs bfdd running). */
  bfd: boolean;
  /** false: an IPv4-only node, whose FRR has no IPv6 unicast address family and no IPv6 peer. */
  ipv6Unicast: boolean;
  /** How many nodes hang off the leaf (swp1..swpN at the leaf; each node's uplink is its swp1). */
  nodeCount: number;
  /**
   * Route classes the node's route-maps turn into communities (an entry per class and family,
   * before the entry that exports unclassed routes). Default: LAB_ROUTE_CLASSES.
   */
  routeClasses?: LabRouteClass[];
  /** Prefixes the leaf originates (`network`), e.g. its loopback. */
  leafNetworks: string[];
  /** Prefixes each node originates, by node index (its loopback, its pod block). */
  nodeNetworks: string[][];
  /** The leaf sends each node a default route (the way to other nodes' pods and loopbacks). */
  defaultToNodes: boolean;
}

/** A route class of the lab: the mark cosmolet puts on its routes and what the node's FRR sets for it. */
export interface LabRouteClass {
  name: string;
  mark: number;
  community: string;
  largeCommunity: string;
}

/** The lab's route classes (examples/lab/cosmolet.yaml configures the same names and marks). */
export const LAB_ROUTE_CLASSES: LabRouteClass[] = [
  { name: 'gold', mark: 1001, community: '65000:101', largeCommunity: '65001:1:101' },
  { name: 'silver', mark: 1002, community: '65000:102', largeCommunity: '65001:1:102' },
];

/**
 * The route-map entries for the route classes: per family, one entry per class that matches the
 * class's mark (kernel routes: `match metric`, static routes: `match tag`) and sets its communities,
 * numbered before `first` (the entry that exports the family's unclassed routes).
 */
export function routeClassEntries(
  routeMap: string,
  match: 'metric' | 'tag',
  classes: readonly LabRouteClass[],
  family: 'ip' | 'ipv6',
  first: number,
): string[] {
  return classes.flatMap((c, i) => [
    `route-map ${routeMap} permit ${first - classes.length + i}`,
    ` match ${family} address prefix-list ${family === 'ip' ? 'COSMOLET-V4' : 'COSMOLET-V6'}`,
    ` match ${match} ${c.mark}`,
    ` set community ${c.community}`,
    ` set large-community ${c.largeCommunity}`,
    'exit',
  ]);
}

/** The addresses of one node: its router id (= its loopback), and its link to the GoBGP peer. */
export interface NodeAddressing {
  index: number;
  routerId: string;
  loopbackV6: string;
  /** node <-> ext link, node side and ext side. */
  extV4: string;
  extPeerV4: string;
  extV6: string;
  extPeerV6: string;
}

/** Node i (0-based): loopback 10.255.1.(i+1), link to ext 10.254.2.(4i+1)/30, fd00:254:2:i::1/64. */
export function nodeAddressing(i: number): NodeAddressing {
  return {
    index: i,
    routerId: `10.255.1.${i + 1}`,
    loopbackV6: `fd00:255:1::${i + 1}`,
    extV4: `10.254.2.${4 * i + 1}`,
    extPeerV4: `10.254.2.${4 * i + 2}`,
    extV6: i === 0 ? 'fd00:254:2::1' : `fd00:254:2:${i.toString(16)}::1`,
    extPeerV6: i === 0 ? 'fd00:254:2::2' : `fd00:254:2:${i.toString(16)}::2`,
  };
}

function networks(list: string[]): { v4: string[]; v6: string[] } {
  return {
    v4: list.filter((p) => !p.includes(':')).map((p) => `  network ${p}`),
    v6: list.filter((p) => p.includes(':')).map((p) => `  network ${p}`),
  };
}

function neighborPolicy(name: string): string[] {
  // Debian's `traditional` profile sets `bgp ebgp-requires-policy`: no route-map, no routes.
  return [
    `  neighbor ${name} activate`,
    `  neighbor ${name} route-map PERMIT-ALL in`,
    `  neighbor ${name} route-map PERMIT-ALL out`,
  ];
}

export function nodeConfig(a: FabricAddressing, index = 0): string {
  const n = nodeAddressing(index);
  const own = networks(a.nodeNetworks[index] ?? []);
  const v4 = a.serviceRangesV4.map(
    (r, i) => `ip prefix-list COSMOLET-V4 seq ${(i + 1) * 5} permit ${r} ge 32`,
  );
  const v6 = a.serviceRangesV6.map(
    (r, i) => `ipv6 prefix-list COSMOLET-V6 seq ${(i + 1) * 5} permit ${r} ge 128`,
  );
  const redistribute = [
    ...(a.exportKernel ? ['  redistribute kernel route-map COSMOLET-KERNEL'] : []),
    ...(a.exportStatic ? ['  redistribute static route-map COSMOLET-STATIC'] : []),
  ];
  return [
    'frr defaults traditional',
    `hostname node${a.nodeCount > 1 ? index + 1 : ''}`,
    'service integrated-vtysh-config',
    // Apply route-map changes at once: with the default 5 s delay the route-maps loaded at start are
    // processed just as the sessions come up, which triggers a route refresh racing the initial
    // End-of-RIB; FRR 8.4 then keeps the peer's routes "stale" and ignores their withdrawal.
    'bgp route-map delay-timer 0',
    '!',
    ...v4,
    ...v6,
    '!',
    ...routeClassEntries('COSMOLET-KERNEL', 'metric', a.routeClasses ?? [], 'ip', 10),
    ...routeClassEntries('COSMOLET-KERNEL', 'metric', a.routeClasses ?? [], 'ipv6', 20),
    ...routeClassEntries('COSMOLET-STATIC', 'tag', a.routeClasses ?? [], 'ip', 10),
    ...routeClassEntries('COSMOLET-STATIC', 'tag', a.routeClasses ?? [], 'ipv6', 20),
    'route-map COSMOLET-KERNEL permit 10',
    ' match ip address prefix-list COSMOLET-V4',
    'exit',
    'route-map COSMOLET-KERNEL permit 20',
    ' match ipv6 address prefix-list COSMOLET-V6',
    'exit',
    'route-map COSMOLET-STATIC permit 10',
    ' match ip address prefix-list COSMOLET-V4',
    ` match tag ${a.staticTag}`,
    'exit',
    'route-map COSMOLET-STATIC permit 20',
    ' match ipv6 address prefix-list COSMOLET-V6',
    ` match tag ${a.staticTag}`,
    'exit',
    'route-map PERMIT-ALL permit 10',
    'exit',
    '!',
    `router bgp ${a.nodeAsn}`,
    ` bgp router-id ${n.routerId}`,
    ' no bgp default ipv4-unicast',
    ' neighbor swp1 interface remote-as external',
    ' neighbor swp1 timers connect 5',
    ...(a.bfd ? [' neighbor swp1 bfd'] : []),
    ` neighbor ${n.extPeerV4} remote-as ${a.extAsn}`,
    ` neighbor ${n.extPeerV4} timers connect 5`,
    ...(a.ipv6Unicast
      ? [` neighbor ${n.extPeerV6} remote-as ${a.extAsn}`, ` neighbor ${n.extPeerV6} timers connect 5`]
      : []),
    ' !',
    ' address-family ipv4 unicast',
    ...own.v4,
    ...redistribute,
    ...neighborPolicy('swp1'),
    ...neighborPolicy(n.extPeerV4),
    ' exit-address-family',
    ...(a.ipv6Unicast
      ? [
          ' !',
          ' address-family ipv6 unicast',
          ...own.v6,
          ...redistribute,
          ...neighborPolicy('swp1'),
          ...neighborPolicy(n.extPeerV6),
          ' exit-address-family',
        ]
      : []),
    'exit',
    '!',
    '',
  ].join('\n');
}

export function leafConfig(a: FabricAddressing): string {
  const ports = Array.from({ length: a.nodeCount }, (_, i) => `swp${i + 1}`);
  const own = networks(a.leafNetworks);
  const family = (nets: string[]): string[] => [
    ...nets,
    // One path per node: with one ASN on every node the paths tie, and all of them are installed.
    // Only with several nodes: with it, the one-node static e2e test of 10,000 routes timed out
    // twice (vtysh apply > 40 s under load) where it passes without.
    ...(a.nodeCount > 1 ? ['  maximum-paths 8'] : []),
    ...ports.flatMap((p) => [
      ...neighborPolicy(p),
      ...(a.defaultToNodes ? [`  neighbor ${p} default-originate`] : []),
    ]),
  ];
  return [
    'frr defaults traditional',
    'hostname leaf',
    'service integrated-vtysh-config',
    // Apply route-map changes at once: with the default 5 s delay the route-maps loaded at start are
    // processed just as the sessions come up, which triggers a route refresh racing the initial
    // End-of-RIB; FRR 8.4 then keeps the peer's routes "stale" and ignores their withdrawal.
    'bgp route-map delay-timer 0',
    '!',
    'route-map PERMIT-ALL permit 10',
    'exit',
    '!',
    `router bgp ${a.leafAsn}`,
    ` bgp router-id ${a.leafRouterId}`,
    ' no bgp default ipv4-unicast',
    ...ports.flatMap((p) => [
      ` neighbor ${p} interface remote-as external`,
      ` neighbor ${p} timers connect 5`,
      ...(a.bfd ? [` neighbor ${p} bfd`] : []),
    ]),
    ' !',
    ' address-family ipv4 unicast',
    ...family(own.v4),
    ' exit-address-family',
    ' !',
    ' address-family ipv6 unicast',
    ...family(own.v6),
    ' exit-address-family',
    'exit',
    '!',
    '',
  ].join('\n');
}

export function gobgpConfig(a: FabricAddressing): string {
  const nodes = Array.from({ length: a.nodeCount }, (_, i) => nodeAddressing(i));
  const neighbor = (addr: string, afi: string): string[] => [
    '[[neighbors]]',
    '  [neighbors.config]',
    `    neighbor-address = "${addr}"`,
    `    peer-as = ${a.nodeAsn}`,
    '  [neighbors.timers.config]',
    '    connect-retry = 5',
    '  [[neighbors.afi-safis]]',
    '    [neighbors.afi-safis.config]',
    `      afi-safi-name = "${afi}"`,
    '',
  ];
  const local = nodes.flatMap((n) => [`"${n.extPeerV4}"`, `"${n.extPeerV6}"`]).join(', ');
  return [
    '[global.config]',
    `  as = ${a.extAsn}`,
    `  router-id = "${a.extRouterId}"`,
    '  port = 179',
    `  local-address-list = [${local}]`,
    '',
    ...nodes.flatMap((n) => [...neighbor(n.extV4, 'ipv4-unicast'), ...neighbor(n.extV6, 'ipv6-unicast')]),
  ].join('\n');
}
