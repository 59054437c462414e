// Configuration text for the fabric lab's routers: the node's "operator" FRR config (exports
// cosmolet's kernel routes and tagged static routes through prefix-lists for the service ranges),
// the leaf's FRR config and gobgpd's TOML. Pure functions so `cosmolet lab` can print them.

export interface FabricAddressing {
  nodeAsn: number;
  leafAsn: number;
  extAsn: number;
  nodeRouterId: string;
  leafRouterId: string;
  extRouterId: string;
  /** node <-> ext link addresses. */
  nodeExtV4: string;
  extNodeV4: string;
  nodeExtV6: string;
  extNodeV6: string;
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
}

function neighborPolicy(name: string): string[] {
  // Debian's `traditional` profile sets `bgp ebgp-requires-policy`: no route-map, no routes.
  return [
    `  neighbor ${name} activate`,
    `  neighbor ${name} route-map PERMIT-ALL in`,
    `  neighbor ${name} route-map PERMIT-ALL out`,
  ];
}

export function nodeConfig(a: FabricAddressing): string {
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
    'hostname node',
    'service integrated-vtysh-config',
    // Apply route-map changes at once: with the default 5 s delay the route-maps loaded at start are
    // processed just as the sessions come up, which triggers a route refresh racing the initial
    // End-of-RIB; FRR 8.4 then keeps the peer's routes "stale" and ignores their withdrawal.
    'bgp route-map delay-timer 0',
    '!',
    ...v4,
    ...v6,
    '!',
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
    ` bgp router-id ${a.nodeRouterId}`,
    ' no bgp default ipv4-unicast',
    ' neighbor swp1 interface remote-as external',
    ' neighbor swp1 timers connect 5',
    ...(a.bfd ? [' neighbor swp1 bfd'] : []),
    ` neighbor ${a.extNodeV4} remote-as ${a.extAsn}`,
    ` neighbor ${a.extNodeV4} timers connect 5`,
    ...(a.ipv6Unicast
      ? [` neighbor ${a.extNodeV6} remote-as ${a.extAsn}`, ` neighbor ${a.extNodeV6} timers connect 5`]
      : []),
    ' !',
    ' address-family ipv4 unicast',
    ...redistribute,
    ...neighborPolicy('swp1'),
    ...neighborPolicy(a.extNodeV4),
    ' exit-address-family',
    ...(a.ipv6Unicast
      ? [
          ' !',
          ' address-family ipv6 unicast',
          ...redistribute,
          ...neighborPolicy('swp1'),
          ...neighborPolicy(a.extNodeV6),
          ' exit-address-family',
        ]
      : []),
    'exit',
    '!',
    '',
  ].join('\n');
}

export function leafConfig(a: FabricAddressing): string {
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
    ' neighbor swp1 interface remote-as external',
    ' neighbor swp1 timers connect 5',
    ...(a.bfd ? [' neighbor swp1 bfd'] : []),
    ' !',
    ' address-family ipv4 unicast',
    ...neighborPolicy('swp1'),
    ' exit-address-family',
    ' !',
    ' address-family ipv6 unicast',
    ...neighborPolicy('swp1'),
    ' exit-address-family',
    'exit',
    '!',
    '',
  ].join('\n');
}

export function gobgpConfig(a: FabricAddressing): string {
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
  return [
    '[global.config]',
    `  as = ${a.extAsn}`,
    `  router-id = "${a.extRouterId}"`,
    '  port = 179',
    `  local-address-list = ["${a.extNodeV4}", "${a.extNodeV6}"]`,
    '',
    ...neighbor(a.nodeExtV4, 'ipv4-unicast'),
    ...neighbor(a.nodeExtV6, 'ipv6-unicast'),
  ].join('\n');
}
