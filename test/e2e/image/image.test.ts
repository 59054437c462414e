// The container image, run as the Helm chart runs it (see container.ts), against the fabric lab and
// the API double: the leaf receives the planned routes, /readyz turns 200, and SIGTERM (what kubelet
// sends) ends the container with exit 0 and the routes still installed on the node and at the leaf.
// Skipped only when the image is absent and COSMOLET_IMAGE_BUILD=0; otherwise an absent image is
// built first with scripts/build-image.sh.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { expectedRoutes, node, services, slices } from '../controller/cluster.js';
import { join } from 'node:path';
import {
  IMAGE,
  ensureImage,
  runImage,
  startChartContainer,
  vtyGroupOf,
  type CosmoletContainer,
} from './container.js';
import { ControllerLab, ROOT } from '../controller/harness.js';
import { waitFor } from '@cosmolet/lab/wait';

const skip = ensureImage();
if (skip) console.log(`# skipping the image tests: ${skip}`);

test(`${IMAGE}: cosmolet version reports Node.js 24`, { skip }, () => {
  const r = runImage(['version']);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^cosmolet \S+ \(commit \S+, built \S+, node v24\.\d+\.\d+\)$/m);
});

test(`${IMAGE}: cosmolet lab says the lab is not in this build (dist/lab is left out)`, { skip }, () => {
  const r = runImage(['lab', 'status']);
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, /cosmolet lab is not part of this build/);
  assert.doesNotMatch(r.stderr, /ERR_MODULE_NOT_FOUND|at .*\.js:\d+/, 'one line, no stack trace');
});

test(`${IMAGE}: the SBOM is in the image, production dependencies only`, { skip }, () => {
  // Read through node, which the image has anyway (the entrypoint is cosmolet).
  const r = runImage(
    [
      '-e',
      'const fs = require("fs"); const d = "/usr/share/cosmolet/sbom/";' +
        'const n = JSON.parse(fs.readFileSync(d + "npm.cdx.json", "utf8"));' +
        'console.log(n.bomFormat, n.components.map((c) => c.name).join(","));' +
        'for (const f of ["debian-packages.tsv", "vtysh-from-debian-package.txt", "node.txt"])' +
        '  process.stdout.write(fs.readFileSync(d + f, "utf8"));' +
        'console.log(fs.existsSync("/app/dist/lab") ? "dist/lab present" : "no dist/lab");',
    ],
    'node',
  );
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^CycloneDX .*@kubernetes\/client-node/m);
  assert.doesNotMatch(r.stdout, /typescript|eslint|prettier|tsx/, 'no dev dependency in the SBOM');
  const debArch = process.arch === 'arm64' ? 'arm64' : 'amd64';
  assert.match(r.stdout, new RegExp(`^iproute2\t\\S+\t${debArch}$`, 'm'));
  assert.match(r.stdout, /^libyang2\t/m);
  assert.match(r.stdout, /^Package: frr$/m);
  assert.match(r.stdout, /^node\tv24\./m);
  assert.match(r.stdout, /^no dist\/lab$/m);
});

const CAP_NET_ADMIN = 1n << 12n;
const STATUS_TOKEN = 'image-e2e-status-token';
const PUBLISHED_VALUES = join(ROOT, 'charts', 'cosmolet', 'ci', 'published-values.yaml');

// Kernel with frrVtyGroupId given (supplementalGroups, the image's entrypoint); static with it null
// (the chart's default: cosmolet-join-vty-group joins the sockets' group, then runs as 10001).
const RUNS = [
  { origination: 'kernel', joinsItself: false },
  { origination: 'static', joinsItself: true },
] as const;

for (const { origination, joinsItself } of RUNS) {
  const how = joinsItself ? 'frrVtyGroupId null' : 'frrVtyGroupId set';
  describe(`${IMAGE} as the chart runs it: ${origination} origination, ${how}`, { skip }, () => {
    const lab = new ControllerLab({ origination });
    let container: CosmoletContainer | undefined;

    before(async () => {
      await lab.start();
      lab.api.create('nodes', node());
      for (const s of services) lab.api.create('services', structuredClone(s));
      for (const s of slices) lab.api.create('endpointslices', structuredClone(s));
      // The chart listens on every address, so cosmolet checks callers: a scraper's token, bound to
      // cosmolet's audience (http.tokenAudiences), that may read /status.
      lab.api.addToken(STATUS_TOKEN, { username: 'scraper', audiences: ['cosmolet'], resources: 'none' });
      lab.api.allow('scraper', 'get', '/status');
    });
    after(async () => {
      await container?.remove();
      await lab.teardown();
    });

    test('the leaf receives the planned routes, /readyz turns 200, SIGTERM leaves the routes', async () => {
      const vtyGroup = vtyGroupOf(lab);
      // Plain HTTP on :8080, which the lab bridges for /status; the published run keeps TLS.
      const c = startChartContainer(lab, {
        origination,
        frrVtyGroupId: joinsItself ? null : vtyGroup,
        values: { tls: { enabled: false } },
      });
      container = c;
      const withLog = (err: unknown): never => {
        throw new Error(`${(err as Error).message}\ncontainer log:\n${c.log().slice(-4000)}`);
      };
      await lab.waitPeersHold(expectedRoutes, 60_000).catch(withLog);
      await lab.waitReady(30_000).catch(withLog);
      const reply = await lab.get('/status', STATUS_TOKEN);
      assert.equal(reply.status, 200, reply.body);
      const status = JSON.parse(reply.body) as {
        routes: { prefix: string; installed: boolean }[];
      };
      assert.deepEqual(status.routes.map((r) => r.prefix).sort(), expectedRoutes);
      assert.ok(status.routes.every((r) => r.installed));
      // The container really ran with the chart's settings...
      const facts = c.inspect();
      const containerCaps = {
        kernel: joinsItself ? ['CAP_NET_ADMIN', 'CAP_SETGID', 'CAP_SETPCAP'] : ['CAP_NET_ADMIN'],
        static: joinsItself ? ['CAP_SETGID', 'CAP_SETUID'] : [],
      }[origination];
      assert.deepEqual(facts.caps, containerCaps);
      assert.equal(facts.user, origination === 'kernel' || joinsItself ? '0:0' : '10001:10001');
      assert.ok(facts.readOnlyRoot, 'read-only root filesystem');
      assert.deepEqual(facts.groups, joinsItself ? [] : [String(vtyGroup)]);
      assert.ok(facts.securityOpt.includes('no-new-privileges'), facts.securityOpt.join(' '));
      // ...and cosmolet itself runs in the vty group with NET_ADMIN alone (kernel) or nothing.
      const id = c.processIdentity();
      assert.equal(id.uid, origination === 'kernel' ? 0 : 10001);
      assert.ok(id.groups.includes(vtyGroup), `groups ${id.groups.join(',')} lack ${vtyGroup}`);
      assert.equal(id.capEff, origination === 'kernel' ? CAP_NET_ADMIN : 0n);

      c.signal('TERM');
      const { code } = await c.exited;
      assert.equal(code, 0, `container exit ${code}; log:\n${c.log().slice(-3000)}`);
      // Still on the node (where the next pod adopts them) and still at the leaf.
      assert.deepEqual(await nodeRoutes(lab, origination), expectedRoutes);
      await lab.waitPeersHold(expectedRoutes);
    });
  });
}

describe(`${IMAGE}: the published values file, as written, becomes ready`, { skip }, () => {
  const lab = new ControllerLab({ origination: 'kernel' });
  let container: CosmoletContainer | undefined;

  before(async () => {
    await lab.start();
    lab.api.create('nodes', node());
  });
  after(async () => {
    await container?.remove();
    await lab.teardown();
  });

  test("no frrVtyGroupId: the pod joins the lab node's vty group at start and /readyz turns 200", async (t) => {
    const vtyGroup = vtyGroupOf(lab);
    // Only the lab node's socket directory is added to the file (its ASN is the file's 65001).
    const c = startChartContainer(lab, { origination: 'kernel', valuesFiles: [PUBLISHED_VALUES] });
    container = c;
    const withLog = (err: unknown): never => {
      throw new Error(`${(err as Error).message}\ncontainer log:\n${c.log().slice(-4000)}`);
    };
    // As kubelet sees it: the chart's readiness probe.
    await waitFor(
      'the readiness probe to answer 200',
      async () => (await c.readinessProbe(lab)).status === 200,
      60_000,
      500,
    ).catch(withLog);
    t.diagnostic(`the lab node's vty sockets have gid ${vtyGroup}; the pod was given no group`);
    assert.deepEqual(c.inspect().groups, [], 'the pod spec gives no supplementary group');
    assert.match(
      c.log(),
      new RegExp(`cosmolet-join-vty-group: joining group ${vtyGroup} of FRR's vty sockets`),
    );
    const id = c.processIdentity();
    assert.equal(id.uid, 0);
    assert.ok(id.groups.includes(vtyGroup), `groups ${id.groups.join(',')} lack ${vtyGroup}`);
    assert.equal(id.capEff, CAP_NET_ADMIN, 'SETGID and SETPCAP were dropped before cosmolet started');
    c.signal('TERM');
    await c.exited;
  });

  test('where joining cannot work (a policy strips SETGID): the log and /readyz name the frrVtyGroupId to set', async () => {
    await container?.remove();
    const vtyGroup = vtyGroupOf(lab);
    const c = startChartContainer(lab, {
      origination: 'kernel',
      valuesFiles: [PUBLISHED_VALUES],
      withoutCaps: ['SETGID'],
    });
    container = c;
    const want = `frrVtyGroupId: ${vtyGroup}`;
    await waitFor(
      'the entrypoint to say what to set',
      () => c.log().includes(`(set the chart's ${want})`),
      30_000,
      100,
    );
    // The readiness probe stays 503, its message (the probe listener is on loopback) naming the gid.
    let last = '';
    await waitFor(
      '/readyz to name the gid',
      async () => {
        const r = await c.readinessProbe(lab);
        last = `${r.status} ${r.body}`;
        return r.status === 503 && r.body.includes(want);
      },
      60_000,
      500,
    ).catch((err: Error) => {
      throw new Error(`${err.message}\nlast /readyz: ${last}\ncontainer log:\n${c.log().slice(-3000)}`);
    });
  });
});

/** The routes cosmolet owns on the node, read straight from the kernel or from FRR's config. */
async function nodeRoutes(lab: ControllerLab, origination: 'kernel' | 'static'): Promise<string[]> {
  const out: string[] = [];
  if (origination === 'kernel') {
    for (const family of ['-4', '-6']) {
      const r = await lab.fabric.exec('node', ['ip', family, '-json', 'route', 'show', 'proto', '73']);
      for (const route of JSON.parse(r.stdout || '[]') as { dst: string }[]) {
        out.push(route.dst.includes('/') ? route.dst : `${route.dst}/${family === '-4' ? 32 : 128}`);
      }
    }
  } else {
    const config = await lab.fabric.vtysh('node').show('show running-config', 'staticd');
    for (const m of config.matchAll(/^(?:ip|ipv6) route (\S+) blackhole tag 7300$/gm))
      out.push(m[1] as string);
  }
  return out.sort();
}
