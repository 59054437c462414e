// Faults a real control plane produces, against the built `cosmolet run` in-cluster (kernel
// origination; RealClusterLab: real FRR leaf and GoBGP, etcd + kube-apiserver + controllers from
// Kubernetes' Go modules, the node agent playing the kubelet):
// - bookmarks: kube-apiserver's watch cache sends a BOOKMARK about every minute on each watch that
//   asked for them (and 2 s before its timeoutSeconds, 300-600 s for cosmolet), once it has seen a
//   version newer than the watch's; cosmolet's metrics count them on all three watches;
// - kube-apiserver SIGKILLed and restarted after about 10 s: the leaf loses nothing while it is down
//   (its FIB sampled every 100 ms), /healthz stays 200, cosmolet keeps running, and changes made
//   after the restart reach the leaf within a measured bound;
// - 410 from the real server: cosmolet is frozen (SIGSTOP) while Services change, etcd is compacted
//   and kube-apiserver restarts (its watch cache then starts at the compacted revision); resumed, its
//   watches get 410 Expired, it relists, and the leaf ends with exactly the plan.
// The figures (outage, time to converge, relists) are printed as test diagnostics.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { waitFor } from '@cosmolet/lab/wait';
import { sampleLeafWhile, sameSet, type CosmoletProcess } from '../controller/harness.js';
import { RealClusterLab } from './real-cluster.js';
import { pod, service } from './objects.js';

const lab = new RealClusterLab({ origination: 'kernel' });
let cosmolet: CosmoletProcess | undefined;
let cosmoletStartedAt = 0;
const RESOURCES = ['services', 'endpointslices', 'nodes'] as const;

/**
 * The bound for a change made after kube-apiserver comes back to reach the leaf. cosmolet's reflectors
 * retry with a jittered exponential backoff (0.8 s doubling to 30 s, src/kube/reflector.ts): after
 * 10 s down plus kube-apiserver's own start (about 10 s on a loaded 2-core machine), the retry in
 * progress may wait up to 25.6 s. Then a relist (410: the restarted watch cache starts at a newer
 * version), one reconcile and BGP take about a second. Measured in four runs: the changes reached the
 * leaf 8-26 s after the restart, 0.3-6 s after the API server itself showed them (the scheduler and
 * the EndpointSlice controller reconnect with backoffs of their own).
 */
const CONVERGE_AFTER_RESTART_MS = 40_000;
/**
 * Once cosmolet's watches are back, a change reaches the leaf within this of the API server showing
 * it. The bound on a change is the later of the two: the control plane's own recovery is not
 * cosmolet's (kube-controller-manager's EndpointSlice controller once marked the new Service's slice
 * ready 41.2 s after the restart; cosmolet had it at the leaf 140 ms later).
 */
const AFTER_SHOWN_IN_API_MS = 5_000;

before(async () => {
  await lab.start();
  lab.apply([service('web'), pod('web-1', 'web', 'node-a'), service('db'), pod('db-1', 'db', 'node-a')]);
  cosmolet = lab.startCosmolet();
  cosmoletStartedAt = Date.now();
  await lab.waitPeersHold([...prefixes('web'), ...prefixes('db')], 60_000).catch((err: unknown) => {
    throw new Error(`${(err as Error).message}\ncosmolet log:\n${cosmolet?.log().slice(-4000) ?? ''}`);
  });
});

after(async () => {
  if (cosmolet?.child.pid !== undefined && cosmolet.running) {
    process.kill(cosmolet.child.pid, 'SIGCONT');
    cosmolet.kill('SIGKILL');
    await cosmolet.exited;
  }
  await lab.teardown();
});

function hostPrefix(ip: string): string {
  return ip.includes(':') ? `${ip}/128` : `${ip}/32`;
}

/** The Service's allocated ClusterIPs as host prefixes. */
function prefixes(name: string): string[] {
  const svc = JSON.parse(lab.kubectl(['get', 'service', name, '-o', 'json'])) as {
    spec: { clusterIPs: string[] };
  };
  return svc.spec.clusterIPs.map(hostPrefix);
}

/** cosmolet's /metrics, one scrape. */
async function scrape(): Promise<string> {
  return (await lab.get('/metrics')).body;
}

/** The sum of a metric's samples whose labels include `labels`, in one scrape (default: a new one). */
async function metric(name: string, labels: Record<string, string> = {}, body?: string): Promise<number> {
  const text = body ?? (await scrape());
  let sum = 0;
  for (const m of text.matchAll(/^(\w+)(?:\{([^}]*)\})? ([0-9.e+-]+)$/gm)) {
    if (m[1] !== name) continue;
    const have = new Map<string, string>();
    for (const l of (m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)) have.set(l[1] ?? '', l[2] ?? '');
    if (Object.entries(labels).every(([k, v]) => have.get(k) === v)) sum += Number(m[3]);
  }
  return sum;
}

/** A metric per reflector resource, all from one scrape. */
async function perResource(
  name: string,
  labels: Record<string, string> = {},
  body?: string,
): Promise<Record<string, number>> {
  const text = body ?? (await scrape());
  const out: Record<string, number> = {};
  for (const r of RESOURCES) out[r] = await metric(name, { ...labels, resource: r }, text);
  return out;
}

function running(): CosmoletProcess {
  assert.ok(cosmolet?.running, `cosmolet exited; its log:\n${cosmolet?.log().slice(-4000) ?? ''}`);
  return cosmolet;
}

test('bookmarks: cosmolet counts BOOKMARK events from the real kube-apiserver on its Service, EndpointSlice and Node watches', async (t) => {
  running();
  // A bookmark carries the watch cache's newest version of the resource and is sent only once that
  // is newer than the watch's: writes to each resource after cosmolet's watches opened (the other
  // node, an annotation cosmolet does not read) make sure of it, as a live cluster's writes do.
  lab.kubectl(['label', 'node', 'node-b', `cosmolet-test/touched=${Date.now()}`, '--overwrite']);
  lab.kubectl(['annotate', 'service', 'db', `cosmolet-test/touched=${Date.now()}`, '--overwrite']);
  lab.kubectl([
    'annotate',
    'endpointslices',
    '-l',
    'kubernetes.io/service-name=db',
    `cosmolet-test/touched=${Date.now()}`,
    '--overwrite',
  ]);
  const relists = await perResource('cosmolet_reflector_relists_total');
  const seenAt: Record<string, number> = {};
  // kube-apiserver's watch cache sends one about a minute after a watch opened (bookmarkFrequency):
  // 120 s leaves room for its 1 s buckets and a slow start.
  await waitFor(
    'a BOOKMARK on each of the three watches',
    async () => {
      for (const r of RESOURCES) {
        if (
          seenAt[r] === undefined &&
          (await metric('cosmolet_reflector_events_total', { resource: r, type: 'BOOKMARK' })) > 0
        )
          seenAt[r] = Date.now() - cosmoletStartedAt;
      }
      return Object.keys(seenAt).length === RESOURCES.length;
    },
    Math.max(5_000, cosmoletStartedAt + 120_000 - Date.now()),
    1000,
  ).catch((err: unknown) => {
    throw new Error(`${(err as Error).message}; seen: ${JSON.stringify(seenAt)}`);
  });
  t.diagnostic(`first BOOKMARK after cosmolet started (ms): ${JSON.stringify(seenAt)}`);
  // They came on the watches opened after the first list: no relist, no watch restart meanwhile.
  assert.deepEqual(await perResource('cosmolet_reflector_relists_total'), relists);
  assert.equal(await metric('cosmolet_reflector_watch_restarts_total'), 0);
});

test('kube-apiserver SIGKILLed for 10 s and restarted: nothing is withdrawn, /healthz stays 200, cosmolet keeps running; changes after the restart reach the leaf in time', async (t) => {
  const c = running();
  const web = prefixes('web');
  const db = prefixes('db');
  const scrapedBefore = await scrape();
  const relistsBefore = await metric('cosmolet_reflector_relists_total', {}, scrapedBefore);
  const goneBefore = await metric(
    'cosmolet_reflector_watch_restarts_total',
    { reason: 'gone' },
    scrapedBefore,
  );
  const healthz: number[] = [];
  const exitedDuringOutage: boolean[] = [];
  let killedAt = 0;
  let restartedAt = 0;
  const outage = await sampleLeafWhile(lab, [...web, ...db], async () => {
    killedAt = Date.now();
    await lab.cp.kill('kube-apiserver');
    await waitFor(
      '10 s of outage',
      async () => {
        healthz.push((await lab.get('/healthz')).status);
        exitedDuringOutage.push(!c.running);
        return Date.now() - killedAt >= 10_000;
      },
      30_000,
      250,
    );
    await lab.cp.startComponent('kube-apiserver');
    restartedAt = Date.now();
  });
  const downMs = restartedAt - killedAt;
  t.diagnostic(
    `kube-apiserver down (SIGKILL to /readyz 200 again): ${downMs} ms; leaf FIB samples: ${outage.samples}`,
  );
  assert.deepEqual([...outage.missing], [], 'no prefix missing at the leaf during the outage');
  assert.ok(outage.samples >= 50, `the leaf was sampled throughout (${outage.samples} samples)`);
  assert.ok(
    healthz.length >= 20 && healthz.every((s) => s === 200),
    `/healthz during the outage: ${healthz.join(' ')}`,
  );
  assert.ok(!exitedDuringOutage.includes(true));
  running();

  // After the restart: a new Service with a Ready pod, and a pod made NotReady.
  lab.apply([service('api'), pod('api-1', 'api', 'node-a')]);
  await lab.agent.setReady('default', 'db-1', false);
  const api = prefixes('api');
  let apiAt = 0;
  let dbGoneAt = 0;
  // When the API server itself showed the changes (the scheduler, the node agent and the
  // EndpointSlice controller reconnect after the restart too): the rest is cosmolet's share.
  let apiReadyInApi = 0;
  let dbNotReadyInApi = 0;
  const converging = await sampleLeafWhile(lab, web, async () => {
    await waitFor(
      'the leaf to hold the new Service and drop the NotReady one',
      async () => {
        const ready = await readyServices().catch(() => undefined);
        if (ready && !apiReadyInApi && ready.has('default/api')) apiReadyInApi = Date.now();
        if (ready && !dbNotReadyInApi && !ready.has('default/db')) dbNotReadyInApi = Date.now();
        const fib = await lab.leafFib();
        if (!apiAt && api.every((p) => fib.has(p))) apiAt = Date.now();
        if (!dbGoneAt && db.every((p) => !fib.has(p))) dbGoneAt = Date.now();
        return apiAt > 0 && dbGoneAt > 0;
      },
      CONVERGE_AFTER_RESTART_MS + 40_000,
      100,
    ).catch((err: unknown) => {
      throw new Error(`${(err as Error).message}\ncosmolet log:\n${c.log().slice(-4000)}`);
    });
  });
  await lab.waitPeersHold([...web, ...api], 15_000);
  const convergedMs = Math.max(apiAt, dbGoneAt) - restartedAt;
  const boundOf = (shownInApi: number): number =>
    shownInApi > 0
      ? Math.max(CONVERGE_AFTER_RESTART_MS, shownInApi - restartedAt + AFTER_SHOWN_IN_API_MS)
      : CONVERGE_AFTER_RESTART_MS;
  const bound = Math.max(boundOf(apiReadyInApi), boundOf(dbNotReadyInApi));
  const scrapedAfter = await scrape();
  const relists = (await metric('cosmolet_reflector_relists_total', {}, scrapedAfter)) - relistsBefore;
  const gone =
    (await metric('cosmolet_reflector_watch_restarts_total', { reason: 'gone' }, scrapedAfter)) - goneBefore;
  t.diagnostic(
    `after the restart: new Service at the leaf in ${apiAt - restartedAt} ms (its EndpointSlice ready in the API at ${apiReadyInApi - restartedAt} ms), ` +
      `NotReady withdrawn in ${dbGoneAt - restartedAt} ms (not ready in the API at ${dbNotReadyInApi - restartedAt} ms); relists ${relists}, 410s ${gone}`,
  );
  assert.deepEqual([...converging.missing], [], 'web stayed at the leaf while cosmolet caught up');
  assert.ok(
    apiAt - restartedAt <= boundOf(apiReadyInApi) && dbGoneAt - restartedAt <= boundOf(dbNotReadyInApi),
    `converged ${convergedMs} ms after the restart (bound ${bound} ms: ${CONVERGE_AFTER_RESTART_MS} ms, or ${AFTER_SHOWN_IN_API_MS} ms after the API server showed the change)`,
  );
  running();
});

test('410 from the real server: cosmolet frozen while Services change, etcd is compacted and kube-apiserver restarts; resumed, it relists and the leaf holds exactly the plan', async (t) => {
  const c = running();
  const pid = c.child.pid;
  assert.ok(pid !== undefined);
  const web = prefixes('web');
  const api = prefixes('api');
  const db = prefixes('db');
  await lab.waitPeersHold([...web, ...api], 15_000);
  const scrapedBefore = await scrape();
  const relistsBefore = await perResource('cosmolet_reflector_relists_total', {}, scrapedBefore);
  const goneBefore = await perResource(
    'cosmolet_reflector_watch_restarts_total',
    { reason: 'gone' },
    scrapedBefore,
  );
  let compactedAt = 0;
  let resumedAt = 0;
  let cache: string[] = [];
  const frozen = await sampleLeafWhile(lab, [...web, ...api], async () => {
    process.kill(pid, 'SIGSTOP');
    try {
      // What cosmolet cannot see: a Service deleted, a new one with a Ready pod, a pod NotReady, one
      // Ready again.
      lab.kubectl(['delete', 'service', 'web', '--wait=false']);
      lab.apply([service('cache'), pod('cache-1', 'cache', 'node-a')]);
      cache = prefixes('cache');
      await lab.agent.setReady('default', 'api-1', false);
      await lab.agent.setReady('default', 'db-1', true);
      await waitFor(
        'the EndpointSlice controller to write the changes',
        async () => {
          const ready = await readyServices();
          return ready.has('default/cache') && ready.has('default/db') && !ready.has('default/api');
        },
        60_000,
        200,
      );
      // The server may have written events into cosmolet's (frozen) sockets already, which it reads
      // when it resumes: writes to a resource cosmolet does not watch, before and after the
      // compaction, put every version it can have seen below the restarted watch cache's first.
      lab.kubectl(['create', 'configmap', `faults-before-compaction-${Date.now()}`]);
      compactedAt = await lab.cp.compactEtcd();
      lab.kubectl(['create', 'configmap', `faults-after-compaction-${Date.now()}`]);
      await lab.cp.kill('kube-apiserver');
      await lab.cp.startComponent('kube-apiserver');
    } finally {
      process.kill(pid, 'SIGCONT');
      resumedAt = Date.now();
    }
  });
  assert.deepEqual([...frozen.missing], [], 'nothing withdrawn while cosmolet could not see');
  const plan = [...db, ...cache];
  await lab.waitPeersHold(plan, 60_000).catch((err: unknown) => {
    throw new Error(`${(err as Error).message}\ncosmolet log:\n${c.log().slice(-4000)}`);
  });
  const convergedMs = Date.now() - resumedAt;
  // Events the server had already written into the frozen sockets arrive first, so the leaf can be
  // right before every reflector has had its 410: wait for a 410 and a relist on each watch.
  let relists: Record<string, number> = {};
  let gone: Record<string, number> = {};
  await waitFor(
    'a 410 and a relist on every watch',
    async () => {
      const body = await scrape();
      relists = await perResource('cosmolet_reflector_relists_total', {}, body);
      gone = await perResource('cosmolet_reflector_watch_restarts_total', { reason: 'gone' }, body);
      return RESOURCES.every(
        (r) => (gone[r] ?? 0) > (goneBefore[r] ?? 0) && (relists[r] ?? 0) > (relistsBefore[r] ?? 0),
      );
    },
    30_000,
    200,
  ).catch((err: unknown) => {
    throw new Error(
      `${(err as Error).message}: 410s ${JSON.stringify(gone)} (before ${JSON.stringify(goneBefore)}), ` +
        `relists ${JSON.stringify(relists)} (before ${JSON.stringify(relistsBefore)})`,
    );
  });
  const relistedMs = Date.now() - resumedAt;
  t.diagnostic(
    `etcd compacted at revision ${compactedAt}; after SIGCONT the leaf held exactly the plan in ${convergedMs} ms, ` +
      `every reflector had had its 410 and relisted by ${relistedMs} ms; ` +
      `410s ${JSON.stringify(gone)} (before ${JSON.stringify(goneBefore)}), relists ${JSON.stringify(relists)} (before ${JSON.stringify(relistsBefore)})`,
  );
  // After the relists the leaf still holds exactly the plan.
  await lab.waitPeersHold(plan, 15_000);
  assert.ok(sameSet(await lab.leafFib(), plan), 'the leaf FIB holds exactly the plan');
  assert.match(c.log(), /resourceVersion expired, relisting/);
  assert.match(c.log(), /too old resource version/);
  running();
});

/** Services (namespace/name) with a ready endpoint in their EndpointSlices, as the API server has them. */
async function readyServices(): Promise<Set<string>> {
  const r = await lab.admin.request('GET', '/apis/discovery.k8s.io/v1/endpointslices');
  const out = new Set<string>();
  const list = JSON.parse(r.body) as {
    items: {
      metadata: { namespace: string; labels?: Record<string, string> };
      endpoints?: { conditions?: { ready?: boolean } }[] | null;
    }[];
  };
  for (const s of list.items) {
    const svc = s.metadata.labels?.['kubernetes.io/service-name'];
    if (svc && (s.endpoints ?? []).some((e) => e.conditions?.ready === true))
      out.add(`${s.metadata.namespace}/${svc}`);
  }
  return out;
}
