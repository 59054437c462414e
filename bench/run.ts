// `npm run bench`: every benchmark in its own process (so memory figures are not mixed), each
// printing its figures and writing bench/results/<name>.json. The lab benchmarks need root, FRR
// and GoBGP (scripts/setup.sh installs them); they are skipped with a note otherwise.
//
//   npm run bench                      every benchmark
//   npm run bench -- scale router      only those whose file name starts with these
//   npm run bench -- scale --sizes 1000,10000   flags (from the first one on) go to each selected one
//   SCALE_SIZES=1000 npm run bench -- scale      the same through the environment
//   npm run bench -- scale --kube real --sizes 10000   the scale bench against the real kube-apiserver
//                                      (--kube both: the API double and then the real server, per size)
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const BENCHES: { file: string; needsLab: boolean; what: string }[] = [
  { file: 'plan.ts', needsLab: false, what: 'the pure plan: 10,000 Services, 50,000 endpoints' },
  { file: 'kube-store-memory.ts', needsLab: false, what: 'reflector stores: memory for 10,000 Services' },
  { file: 'router.ts', needsLab: true, what: 'both backends: 10,000 prefixes to the leaf and GoBGP' },
  { file: 'controller.ts', needsLab: true, what: 'cosmolet run: event-to-leaf latency, 10,000 Services' },
  { file: 'api-load.ts', needsLab: true, what: 'what one node asks of the API server, per kind of change' },
  {
    file: 'http-load.ts',
    needsLab: true,
    what: '/healthz and a new Service while 20 clients read /status, cosmolet at 200m CPU, 5,000 Services',
  },
  {
    file: 'scale.ts',
    needsLab: true,
    what: 'cosmolet run at 1k, 10k and 50k dual-stack Services: flips, updates, memory, cold start',
  },
];

const argv = process.argv.slice(2);
const firstFlag = argv.findIndex((a) => a.startsWith('-'));
const only = firstFlag < 0 ? argv : argv.slice(0, firstFlag);
const flags = firstFlag < 0 ? [] : argv.slice(firstFlag);
const labReady = process.getuid?.() === 0 && existsSync('/usr/lib/frr/bgpd') && existsSync('/usr/bin/gobgpd');
let failed = 0;
for (const b of BENCHES) {
  if (only.length > 0 && !only.some((o) => b.file.startsWith(o))) continue;
  console.log(`\n== ${b.file}: ${b.what}`);
  if (b.needsLab && !labReady) {
    console.log('   skipped: needs root, FRR and GoBGP (run scripts/setup.sh as root)');
    continue;
  }
  const r = spawnSync(
    process.execPath,
    ['--expose-gc', '--conditions=source', '--import', 'tsx', `bench/${b.file}`, ...flags],
    {
      stdio: 'inherit',
    },
  );
  if (r.status !== 0) {
    failed++;
    console.log(`   ${b.file} failed (exit ${r.status})`);
  }
}
console.log('\nfigures written to bench/results/');
process.exit(failed > 0 ? 1 : 0);
