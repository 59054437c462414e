// What the FRR monitor costs cosmolet per loop interval at idle (issue 23 item 3): bgpd answers from
// files of N routes in FRR 8.4's shape through a stand-in vtysh (a shell script that prints them), so
// the figure is cosmolet's own CPU (spawn, pipe read, parse, checks), not bgpd's. No FRR needed.
// "full read" is a round that reads bgpd's whole table (every round before issue 23; now only when
// the summary's stamps moved, cosmolet changed routes, or every FULL_READ_MAX_AGE_MS); "idle" is a
// round at idle now; "average" is idle plus the periodic full read, over 10 minutes at 15 s.
//
//   node --import tsx bench/frr-monitor.ts [--sizes 10000,20000] [--intervals 20]
// Prints a table and writes bench/results/frr-monitor.json.
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { FrrMonitor, RANGE_ROUTES } from '../src/controller/frr-monitor.js';
import { cidrContains, parseCIDR, parseIP } from '../src/net/ip.js';
import { RouteLedger } from '../src/controller/route-ledger.js';
import { silentLogger } from '../src/observe/log.js';
import { Metrics } from '../src/observe/metrics.js';
import { FULL_READ_MAX_AGE_MS } from '../src/router/frr/checks.js';
import { coveringRanges } from '../src/router/frr/ranges.js';
import { Vtysh } from '../src/router/frr/vtysh.js';
import { buildInfo } from '../src/version.js';
import { benchPrefixes } from './router.js';

const { values: args } = parseArgs({
  options: {
    sizes: { type: 'string', default: '10000,20000' },
    intervals: { type: 'string', default: '20' },
    out: { type: 'string' },
  },
});

/** One locally redistributed path, as FRR 8.4 prints it in `show bgp <afi> unicast json`. */
function routeJson(prefix: string, version: number): string {
  const [addr = '', len = ''] = prefix.split('/');
  const v6 = prefix.includes(':');
  return `"${prefix}": [
  {
    "valid":true,
    "bestpath":true,
    "selectionReason":"First path received",
    "pathFrom":"external",
    "prefix":"${addr}",
    "prefixLen":${len},
    "network":"${prefix}",
    "version":${version},
    "metric":0,
    "weight":32768,
    "peerId":"(unspec)",
    "path":"",
    "origin":"incomplete",
    "nexthops":[
      {
        "ip":"${v6 ? '::' : '0.0.0.0'}",
        "hostname":"node",
        "afi":"${v6 ? 'ipv6' : 'ipv4'}",
        "used":true
      }
    ]
  }
]`;
}

function table(prefixes: string[], version: number): string {
  const routes = prefixes.map((p, i) => routeJson(p, i + 1)).join(',');
  return `{\n "vrfId": 0,\n "vrfName": "default",\n "tableVersion": ${version},\n "routerId": "10.0.0.1",\n "defaultLocPrf": 100,\n "localAS": 65001,\n "routes": { ${routes} } }\n`;
}

/** `stamped` false: without table versions and RIB counts, so every round reads the whole table. */
function summary(v4: number, v6: number, stamped: boolean): string {
  const stamp = (count: number) => (stamped ? `"tableVersion":${count},"ribCount":${count},` : '');
  const af = (count: number) =>
    `{"routerId":"10.0.0.1","as":65001,"vrfId":0,"vrfName":"default",${stamp(count)}"ribMemory":${count * 200},"peerCount":1,"peerMemory":1000,"peers":{"10.0.1.1":{"remoteAs":65000,"version":4,"msgRcvd":10,"msgSent":10,"tableVersion":0,"outq":0,"inq":0,"peerUptime":"00:10:00","peerUptimeMsec":600000,"peerUptimeEstablishedEpoch":1,"pfxRcd":0,"pfxSnt":${count},"state":"Established","peerState":"OK","connectionsEstablished":1,"connectionsDropped":0,"idType":"ipv4"}},"failedPeers":0,"displayedPeers":1,"totalPeers":1,"dynamicPeers":0,"bestPath":{"multiPathRelax":"false"}}`;
  return `{"ipv4Unicast":${af(v4)},"ipv6Unicast":${af(v6)}}\n`;
}

// As vtysh prints it: a header, and a bare `end` line last (where the summary's answer follows).
const RUNNING_CONFIG = `Building configuration...

Current configuration:
!
frr version 8.4.4
frr defaults traditional
hostname node
!
router bgp 65001
 neighbor 10.0.1.1 remote-as 65000
 !
 address-family ipv4 unicast
  redistribute kernel route-map COSMOLET-EXPORT
 exit-address-family
 !
 address-family ipv6 unicast
  redistribute kernel route-map COSMOLET-EXPORT
 exit-address-family
exit
!
route-map COSMOLET-EXPORT permit 10
exit
!
end
`;

/** A stand-in vtysh that prints the file for each `-c` command (the way vtysh prints bgpd's answers). */
function fakeVtysh(dir: string): string {
  const script = join(dir, 'vtysh');
  writeFileSync(
    script,
    `#!/bin/sh
d=${dir}
while [ $# -gt 0 ]; do
  case "$1" in
    -c) shift
        case "$1" in
          "show running-config") cat $d/running-config ;;
          "show bgp summary json") cat $d/summary.json ;;
          "show bgp ipv4 unicast json") cat $d/ipv4.json ;;
          "show bgp ipv6 unicast json") cat $d/ipv6.json ;;
          *" longer-prefixes json") cat "$d/ranges/$(printf %s "$1" | cut -d' ' -f5 | tr '/:' '__')" ;;
          *) echo '{}' ;;
        esac ;;
  esac
  shift
done
`,
  );
  chmodSync(script, 0o755);
  return script;
}

interface Rounds {
  /** cosmolet's CPU per round, milliseconds (user + system). */
  cpuMs: number;
  wallMs: number;
}

interface Figure {
  prefixes: number;
  intervals: number;
  fullRead: Rounds;
  idle: Rounds;
  /** Idle rounds with the periodic full read, per 15 s interval, as a share of one core. */
  averagePercentOfCoreAt15s: number;
  /** Every round a full read (before), as a share of one core at 15 s. */
  fullReadPercentOfCoreAt15s: number;
}

async function measure(n: number, intervals: number, stamped: boolean): Promise<Rounds> {
  const dir = mkdtempSync(join(tmpdir(), 'cosmolet-frr-monitor-bench-'));
  try {
    const prefixes = benchPrefixes(n);
    const v4 = prefixes.filter((p) => !p.includes(':'));
    const v6 = prefixes.filter((p) => p.includes(':'));
    writeFileSync(join(dir, 'ipv4.json'), table(v4, v4.length));
    writeFileSync(join(dir, 'ipv6.json'), table(v6, v6.length));
    writeFileSync(join(dir, 'summary.json'), summary(v4.length, v6.length, stamped));
    writeFileSync(join(dir, 'running-config'), RUNNING_CONFIG);
    // A full read asks for ranges of the installed routes: each answered with the routes in it.
    mkdirSync(join(dir, 'ranges'));
    for (const range of await coveringRanges(prefixes, RANGE_ROUTES)) {
      const cidr = parseCIDR(range);
      if (typeof cidr === 'string') throw new Error(cidr);
      const inside = prefixes.filter((p) => {
        const ip = parseIP(p.split('/')[0] ?? '');
        return ip !== undefined && cidrContains(cidr, ip);
      });
      writeFileSync(join(dir, 'ranges', range.replace(/[/:]/g, '_')), table(inside, inside.length));
    }
    const socketDir = join(dir, 'frr');
    mkdirSync(socketDir);
    const metrics = new Metrics(buildInfo());
    const vtysh = new Vtysh({ vtyshPath: fakeVtysh(dir), socketDir, timeoutMs: 30_000 });
    const ledger = new RouteLedger(metrics);
    ledger.reset(new Map(prefixes.map((p) => [p, 0])));
    const monitor = new FrrMonitor({
      vtysh,
      origination: 'kernel',
      socketDir,
      asn: 65001,
      intervalSeconds: 15,
      logger: silentLogger(),
      metrics,
      onRestart: () => undefined,
      advertises: (p) => ledger.routes.has(p),
      installed: ledger,
    });
    // The first check reads the whole table whatever the monitor does at idle.
    await monitor.check();
    // A stand-in that answered nothing would measure nothing: the view must hold every route.
    const read = monitor.bgp().view?.size ?? 0;
    if (read !== prefixes.length)
      throw new Error(`the stand-in answered ${read} of ${prefixes.length} routes`);
    const cpu0 = process.cpuUsage();
    const wall0 = performance.now();
    for (let i = 0; i < intervals; i++) await monitor.check();
    const cpu = process.cpuUsage(cpu0);
    const wall = performance.now() - wall0;
    await monitor.stop();
    const round1 = (x: number) => Math.round(x * 10) / 10;
    return { cpuMs: round1((cpu.user + cpu.system) / 1000 / intervals), wallMs: round1(wall / intervals) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const INTERVAL_MS = 15_000;
const percent = (ms: number) => Math.round((ms / INTERVAL_MS) * 100 * 1000) / 1000;
const figures: Figure[] = [];
for (const n of (args.sizes ?? '').split(',').map(Number)) {
  const intervals = Number(args.intervals);
  const fullRead = await measure(n, intervals, false);
  const idle = await measure(n, intervals, true);
  const perInterval = idle.cpuMs + fullRead.cpuMs * (INTERVAL_MS / FULL_READ_MAX_AGE_MS);
  figures.push({
    prefixes: n,
    intervals,
    fullRead,
    idle,
    averagePercentOfCoreAt15s: percent(perInterval),
    fullReadPercentOfCoreAt15s: percent(fullRead.cpuMs),
  });
}
console.log(
  '| prefixes | full read: CPU (wall) | idle round: CPU (wall) | every round a full read | idle, average at 15 s |',
);
console.log('| --- | --- | --- | --- | --- |');
for (const f of figures) {
  console.log(
    `| ${f.prefixes} | ${f.fullRead.cpuMs} ms (${f.fullRead.wallMs} ms) | ${f.idle.cpuMs} ms (${f.idle.wallMs} ms) | ` +
      `${f.fullReadPercentOfCoreAt15s} % of a core | ${f.averagePercentOfCoreAt15s} % of a core |`,
  );
}
const out = args.out ?? join(dirname(fileURLToPath(import.meta.url)), 'results', 'frr-monitor.json');
writeFileSync(out, JSON.stringify({ date: new Date().toISOString(), figures }, null, 2) + '\n');
