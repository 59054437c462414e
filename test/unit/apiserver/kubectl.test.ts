// The API double against an independent client: kubectl (skipped when it is not installed).
import assert from 'node:assert/strict';
import { execFile, spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import type { KubeObject, Service } from '../../../src/model/objects.js';
import { startDouble, svc, tempDir, waitFor } from '../kube/helpers.js';

const run = promisify(execFile);
const kubectl = spawnSync('kubectl', ['version', '--client'], { stdio: 'ignore' }).status === 0;
const skip = kubectl ? false : 'kubectl is not installed';

async function k(kubeconfig: string, ...args: string[]): Promise<string> {
  const { stdout } = await run('kubectl', ['--kubeconfig', kubeconfig, ...args], { timeout: 20_000 });
  return stdout;
}

void test('kubectl get, get --raw (list and watch), create/label/delete', { skip }, async (t) => {
  const { server, kubeconfig } = await startDouble(t);
  server.create('services', svc('a', 'web', { app: 'web' }));
  server.create('services', svc('b', 'db'));
  server.create('nodes', { metadata: { name: 'node-a' } });

  const table = await k(kubeconfig, 'get', 'svc', '-A');
  assert.match(table, /^NAMESPACE\s+NAME\s+TYPE\s+CLUSTER-IP\s+EXTERNAL-IP\s+PORT\(S\)\s+AGE/);
  assert.match(table, /\ba\s+web\s+ClusterIP\s+10\.96\.0\.10\s+<none>/);
  assert.match(table, /\bb\s+db\b/);
  const json = JSON.parse(await k(kubeconfig, 'get', 'svc', '-n', 'a', '-l', 'app=web', '-o', 'json')) as {
    items: KubeObject[];
  };
  assert.deepEqual(
    json.items.map((o) => o.metadata?.name),
    ['web'],
  );
  assert.match(await k(kubeconfig, 'get', 'nodes', '-o', 'name'), /^node\/node-a$/m);

  const raw = JSON.parse(await k(kubeconfig, 'get', '--raw', '/api/v1/namespaces/a/services/web')) as Service;
  assert.equal(raw.metadata?.uid, server.get('services', 'a', 'web')?.metadata?.uid);
  const watched = await k(kubeconfig, 'get', '--raw', '/api/v1/services?watch=1&timeoutSeconds=1');
  const lines = watched
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { type: string; object: KubeObject });
  assert.deepEqual(lines.map((l) => `${l.type} ${l.object.metadata?.name ?? ''}`).sort(), [
    'ADDED db',
    'ADDED web',
  ]);

  // kubectl create/apply validate against OpenAPI, which the double does not serve.
  const file = join(tempDir(t), 'svc.json');
  writeFileSync(file, JSON.stringify(svc('a', 'made')));
  await k(kubeconfig, 'create', '--validate=false', '-f', file);
  await k(kubeconfig, 'label', 'svc', '-n', 'a', 'made', 'x=y');
  assert.deepEqual(server.get('services', 'a', 'made')?.metadata?.labels, { x: 'y' });
  await k(kubeconfig, 'delete', 'svc', '-n', 'a', 'made');
  assert.equal(server.get('services', 'a', 'made'), undefined);
});

void test('kubectl get -w follows changes', { skip }, async (t) => {
  const { server, kubeconfig } = await startDouble(t);
  server.create('services', svc('a', 'first'));
  const child = spawn('kubectl', ['--kubeconfig', kubeconfig, 'get', 'svc', '-A', '-w', '-o', 'name'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.after(() => {
    child.kill('SIGKILL');
  });
  let out = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (c: string) => (out += c));
  await waitFor('initial list', () => out.includes('service/first'), 15_000);
  await waitFor('watch open', () => server.activeWatches === 1, 15_000);
  server.create('services', svc('a', 'second'));
  await waitFor('watched add', () => out.includes('service/second'), 15_000);
});
