// The Go programs scripts/go-tools.sh builds are pinned twice: tools/versions.env names the versions
// for people, tools/<name>/go.mod requires them for the go command. These tests keep the two equal,
// and keep the Kubernetes staging modules replaced at the release KUBERNETES_VERSION names.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const TOOLS = join(ROOT, 'tools');

/** Each pin of tools/versions.env: the tools/ folder whose go.mod requires it, and the module. */
const PINNED: Record<string, { dir: string; module: string }> = {
  KUBERNETES_VERSION: { dir: 'kube', module: 'k8s.io/kubernetes' },
  ETCD_VERSION: { dir: 'kube', module: 'go.etcd.io/etcd/server/v3' },
  HELM3_VERSION: { dir: 'helm3', module: 'helm.sh/helm/v3' },
  HELM4_VERSION: { dir: 'helm4', module: 'helm.sh/helm/v4' },
  COSIGN_VERSION: { dir: 'cosign', module: 'github.com/sigstore/cosign/v3' },
};

/** NAME=value lines of tools/versions.env (comments and blank lines aside). */
function versionsEnv(): Map<string, string> {
  const pins = new Map<string, string>();
  for (const line of readFileSync(join(TOOLS, 'versions.env'), 'utf8').split('\n')) {
    const l = line.trim();
    if (l === '' || l.startsWith('#')) continue;
    const m = /^([A-Z][A-Z0-9_]*)=(\S+)$/.exec(l);
    assert.ok(m, `tools/versions.env: not NAME=value: ${line}`);
    pins.set(m[1] ?? '', m[2] ?? '');
  }
  return pins;
}

interface Replacement {
  path: string;
  version: string | undefined;
}

interface GoMod {
  require: Map<string, string>;
  /** By the replaced module's path (a version on the left-hand side, if any, is dropped). */
  replace: Map<string, Replacement>;
}

/** The require and replace directives of a go.mod, in their one-line and block forms. */
function goMod(dir: string): GoMod {
  const text = readFileSync(join(TOOLS, dir, 'go.mod'), 'utf8');
  const mod: GoMod = { require: new Map(), replace: new Map() };
  let block: string | undefined;
  for (const raw of text.split('\n')) {
    const line = (raw.split('//')[0] ?? '').trim();
    if (line === '') continue;
    if (block !== undefined && line === ')') {
      block = undefined;
      continue;
    }
    let verb = block;
    let rest = line;
    if (verb === undefined) {
      const m = /^(\S+)\s*(.*)$/.exec(line);
      verb = m?.[1] ?? '';
      rest = m?.[2] ?? '';
      if (rest === '(') {
        block = verb;
        continue;
      }
    }
    const words = rest.split(/\s+/);
    if (verb === 'require') {
      const [path, version] = words;
      assert.ok(path && version, `tools/${dir}/go.mod: bad require: ${raw}`);
      mod.require.set(path, version);
    } else if (verb === 'replace') {
      const arrow = words.indexOf('=>');
      const left = words[0];
      const right = words[arrow + 1];
      assert.ok(arrow > 0 && left && right, `tools/${dir}/go.mod: bad replace: ${raw}`);
      mod.replace.set(left, { path: right, version: words[arrow + 2] });
    }
  }
  return mod;
}

test('tools/versions.env pins exactly the modules its tools/<name>/go.mod files require', () => {
  const pins = versionsEnv();
  assert.deepEqual([...pins.keys()].sort(), Object.keys(PINNED).sort(), 'a pin without a go.mod to check');
  for (const [name, { dir, module }] of Object.entries(PINNED)) {
    const pin = pins.get(name);
    const mod = goMod(dir);
    assert.equal(mod.require.get(module), pin, `${name}=${pin} but tools/${dir}/go.mod requires ${module}`);
    // A replace of the pinned module itself would build something else than the pin says.
    const r = mod.replace.get(module);
    if (r) {
      assert.deepEqual(r, { path: module, version: pin }, `tools/${dir}/go.mod replaces ${module}`);
    }
  }
});

test('every k8s.io/* replace in tools/kube/go.mod is the release KUBERNETES_VERSION names', () => {
  const kubernetes = versionsEnv().get('KUBERNETES_VERSION') ?? '';
  const m = /^v1\.(\d+\.\d+)$/.exec(kubernetes);
  assert.ok(m, `KUBERNETES_VERSION=${kubernetes} is not v1.<minor>.<patch>`);
  const staging = `v0.${m[1] ?? ''}`;
  const replaced = [...goMod('kube').replace].filter(([path]) => path.startsWith('k8s.io/'));
  assert.ok(replaced.length > 0, 'tools/kube/go.mod replaces no k8s.io/* module');
  for (const [path, r] of replaced) {
    assert.deepEqual(r, { path, version: staging }, `tools/kube/go.mod: replace ${path}`);
  }
});
