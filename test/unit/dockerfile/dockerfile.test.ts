// The Dockerfile, checked by parsing it (test/e2e/image builds and runs it): multi-stage on base
// arguments defaulting to pinned Node.js 24 LTS slim images, production dependencies only in the
// final image, iproute2 and FRR's vtysh alone, an SBOM, a non-root default user, exec-form
// ENTRYPOINT/CMD, OCI labels, no HEALTHCHECK.
import { strict as assert } from 'node:assert';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

interface Instruction {
  keyword: string;
  args: string;
  line: number;
}

interface Stage {
  image: string;
  name: string | undefined;
  instructions: Instruction[];
}

/** Splits a Dockerfile into instructions: comments dropped, continuation lines joined. */
function parseDockerfile(text: string): Instruction[] {
  const out: Instruction[] = [];
  let buf = '';
  let start = 0;
  const lines = text.split('\n');
  for (const [i, raw] of lines.entries()) {
    const line = raw.replace(/\r$/, '');
    if (/^\s*#/.test(line)) continue; // comments, also between continuation lines
    if (buf === '' && line.trim() === '') continue;
    if (buf === '') start = i + 1;
    if (line.endsWith('\\')) {
      buf += `${line.slice(0, -1)} `;
      continue;
    }
    buf += line;
    const m = /^\s*([A-Za-z]+)\s+([\s\S]*)$/.exec(buf);
    assert.ok(m, `line ${start}: cannot parse "${buf}"`);
    out.push({ keyword: (m[1] ?? '').toUpperCase(), args: (m[2] ?? '').trim(), line: start });
    buf = '';
  }
  assert.equal(buf, '', 'the Dockerfile ends inside a continuation line');
  return out;
}

function stages(instructions: Instruction[]): Stage[] {
  const out: Stage[] = [];
  for (const ins of instructions) {
    if (ins.keyword === 'FROM') {
      const m = /^(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?$/i.exec(ins.args);
      assert.ok(m, `line ${ins.line}: FROM ${ins.args}`);
      out.push({ image: m[1] ?? '', name: m[2]?.toLowerCase(), instructions: [] });
    } else {
      const cur = out[out.length - 1];
      if (!cur) {
        assert.ok(ins.keyword === 'ARG', `line ${ins.line}: ${ins.keyword} before the first FROM`);
        continue;
      }
      cur.instructions.push(ins);
    }
  }
  return out;
}

function execForm(args: string): unknown {
  try {
    return JSON.parse(args) as unknown;
  } catch {
    return assert.fail(`not the exec (JSON) form: ${args}`);
  }
}

const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
const all = parseDockerfile(dockerfile);
const byStage = stages(all);
const final = byStage[byStage.length - 1];
const runs = (s: Stage | undefined): string[] =>
  (s?.instructions ?? []).filter((i) => i.keyword === 'RUN').map((i) => i.args);

describe('Dockerfile', () => {
  test('is multi-stage on two base arguments, both defaulting to a pinned Node.js 24 slim on Debian', () => {
    assert.ok(byStage.length >= 2, 'multi-stage');
    const args = new Map<string, string>();
    for (const ins of all) {
      if (ins.keyword === 'FROM') break;
      const m = /^(\w+)=(\S+)$/.exec(ins.args);
      if (m) args.set(m[1] ?? '', m[2] ?? '');
    }
    for (const name of ['BUILD_IMAGE', 'RUNTIME_IMAGE']) {
      const image = args.get(name) ?? '';
      assert.match(
        image,
        /^(docker\.io\/(library\/)?)?node:24\.\d+\.\d+-(bookworm|trixie)-slim(@sha256:[0-9a-f]{64})?$/,
        `ARG ${name} defaults to node:24.X.Y-<bookworm|trixie>-slim, not ${image}`,
      );
    }
    // The same Node.js release as the image scripts/build-image.sh makes (scripts/node24.env).
    const pinned = /^NODE24_VERSION=(\S+)$/m.exec(
      readFileSync(join(ROOT, 'scripts', 'node24.env'), 'utf8'),
    )?.[1];
    for (const name of ['BUILD_IMAGE', 'RUNTIME_IMAGE']) {
      assert.match(args.get(name) ?? '', new RegExp(`node:${String(pinned).replace(/\./g, '\\.')}-`));
    }
    const names = new Set<string>();
    for (const s of byStage) {
      if (!names.has(s.image.toLowerCase())) {
        assert.match(s.image, /^\$\{(BUILD_IMAGE|RUNTIME_IMAGE)\}$/, `FROM ${s.image}: a base argument`);
      }
      if (s.name) names.add(s.name);
    }
    assert.equal(final?.image, '${RUNTIME_IMAGE}', 'the image is the runtime base');
    assert.equal(final?.name, undefined, 'the last stage is the image');
  });

  test('has no HEALTHCHECK (Kubernetes probes are used) and no ADD from URLs', () => {
    assert.ok(!all.some((i) => i.keyword === 'HEALTHCHECK'));
    assert.ok(!all.some((i) => i.keyword === 'ADD'));
  });

  test('ENTRYPOINT ["cosmolet"] and CMD ["run"] in exec form, once, in the final stage', () => {
    const ep = all.filter((i) => i.keyword === 'ENTRYPOINT');
    const cmd = all.filter((i) => i.keyword === 'CMD');
    assert.equal(ep.length, 1);
    assert.equal(cmd.length, 1);
    assert.deepEqual(execForm(ep[0]?.args ?? ''), ['cosmolet']);
    assert.deepEqual(execForm(cmd[0]?.args ?? ''), ['run']);
    assert.ok(final?.instructions.includes(ep[0] as Instruction));
    // `cosmolet` must be on PATH: linked to the compiled CLI (which has a node shebang).
    assert.ok(runs(final).some((r) => /ln -s \/app\/dist\/cli\.js \/usr\/local\/bin\/cosmolet/.test(r)));
    assert.match(readFileSync(join(ROOT, 'src', 'cli.ts'), 'utf8'), /^#!\/usr\/bin\/env node\n/);
  });

  test('carries the OCI labels', () => {
    const labels = (final?.instructions ?? [])
      .filter((i) => i.keyword === 'LABEL')
      .map((i) => i.args)
      .join(' ');
    for (const key of ['title', 'description', 'source', 'licenses', 'version', 'revision', 'created']) {
      assert.match(labels, new RegExp(`org\\.opencontainers\\.image\\.${key}=`), `label ${key}`);
    }
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
      license: string;
      version: string;
    };
    assert.match(labels, new RegExp(`org\\.opencontainers\\.image\\.licenses="${pkg.license}"`));
    const version = /ARG VERSION=(\S+)/.exec(dockerfile)?.[1];
    assert.equal(version, pkg.version, 'the default VERSION build arg is the package version');
  });

  test('the final image installs iproute2 and only vtysh of FRR (no daemons), checked to run', () => {
    const install = runs(final).find((r) => /apt-get install/.test(r));
    assert.ok(install, 'an apt-get install in the final stage');
    assert.match(install, /--no-install-recommends/);
    assert.match(install, /\biproute2\b/);
    assert.doesNotMatch(install, /\bfrr\b/, 'not the frr package: its daemons never run here');
    assert.match(install, /rm -rf \/var\/lib\/apt\/lists/);
    // vtysh and libfrr come out of Debian's frr package in their own stage.
    const copy = (final?.instructions ?? []).find((i) => i.keyword === 'COPY' && /\/usr\/$/.test(i.args));
    const from = /--from=(\S+)/.exec(copy?.args ?? '')?.[1]?.toLowerCase();
    const stage = byStage.find((s) => s.name === from);
    assert.ok(
      runs(stage).some(
        (r) => /apt-get download frr/.test(r) && /usr\/bin\/vtysh/.test(r) && /libfrr/.test(r),
      ),
      'a stage takes usr/bin/vtysh and libfrr out of the frr package',
    );
    // Debian's vtysh authenticates through PAM service frr: without /etc/pam.d/frr every command
    // fails with "vtysh_pam: Authentication failure" (found by running the image, test/e2e/image).
    assert.ok(runs(stage).some((r) => /etc\/pam\.d\/frr/.test(r)));
    assert.ok(
      (final?.instructions ?? []).some(
        (i) => i.keyword === 'COPY' && /--from=\S+ \S*etc\/pam\.d\/frr \/etc\/pam\.d\/frr$/.test(i.args),
      ),
      'the final image has /etc/pam.d/frr',
    );
    assert.ok(
      runs(final).some((r) => /ldd \/usr\/bin\/vtysh \| grep 'not found'/.test(r) && /vtysh --help/.test(r)),
      'the build fails when vtysh misses a library',
    );
  });

  test('ships an SBOM: npm sbom (CycloneDX, production only) and the Debian package list', () => {
    const deps = byStage.find((s) => s.name === 'deps');
    assert.ok(
      runs(deps).some((r) => /npm sbom --omit=dev --sbom-format cyclonedx/.test(r)),
      'npm sbom in the deps stage',
    );
    const copies = (final?.instructions ?? []).filter((i) => i.keyword === 'COPY').map((i) => i.args);
    assert.ok(copies.some((c) => /--from=deps \S+\.cdx\.json \/usr\/share\/cosmolet\/sbom\//.test(c)));
    assert.ok(runs(final).some((r) => /dpkg-query -W .*> \/usr\/share\/cosmolet\/sbom\//.test(r)));
  });

  test('the test lab and the API double (packages/) stay out of the image', () => {
    const build = byStage.find((s) => s.name === 'build');
    assert.ok(
      runs(build).some((r) => /npm run build:product\b/.test(r)),
      'the build stage builds the product only',
    );
    assert.doesNotMatch(
      readFileSync(join(ROOT, '.dockerignore'), 'utf8'),
      /^!packages/m,
      'packages/ is not sent',
    );
  });

  test('cosmolet in the image never loads a lab module (only `cosmolet lab`, which says it is missing)', () => {
    // The runtime import graph of the bin entry point (import type is erased; dynamic imports count),
    // except the one import that is guarded by labMissing in src/cli/main.ts.
    const entry = join(ROOT, 'src', 'cli.ts');
    const guarded: string[] = [];
    const seen = new Set<string>();
    const queue = [entry];
    while (queue.length > 0) {
      const file = queue.pop() as string;
      if (seen.has(file)) continue;
      seen.add(file);
      const text = readFileSync(file, 'utf8');
      const specs: string[] = [];
      for (const m of text.matchAll(/^\s*(?:import|export)(?!\s+type\b)[^;'"]*?from\s*'(\.[^']+)'/gm))
        specs.push(m[1] ?? '');
      for (const m of text.matchAll(/^\s*import\s*'(\.[^']+)'/gm)) specs.push(m[1] ?? '');
      for (const m of text.matchAll(/import\(\s*'(\.[^']+)'\s*\)(\.catch\(labMissing\))?/g)) {
        const target = resolve(dirname(file), (m[1] ?? '').replace(/\.js$/, '.ts'));
        if (m[2] !== undefined) guarded.push(target);
        else specs.push(m[1] ?? '');
      }
      for (const spec of specs) queue.push(resolve(dirname(file), spec.replace(/\.js$/, '.ts')));
    }
    assert.ok(seen.size > 20, `the walk found the program (${seen.size} files)`);
    assert.deepEqual(
      [...seen]
        .filter((f) => /from\s*'@cosmolet\//.test(readFileSync(f, 'utf8')))
        .map((f) => f.slice(ROOT.length + 1)),
      [],
      'no lab or API double module on the runtime path',
    );
    // The lab command is loaded by a name in a variable (packages/lab), guarded by labMissing.
    assert.deepEqual(guarded, [], 'no relative import is guarded');
    assert.match(
      readFileSync(join(ROOT, 'src', 'cli', 'main.ts'), 'utf8'),
      /import\(LAB_COMMAND_MODULE\)\.catch\(labMissing\)/,
    );
    for (const f of seen) assert.ok(existsSync(f), `${f} exists`);
  });

  test('only production dependencies reach the final image', () => {
    const fin = final as Stage;
    // No dependency install in the final stage itself.
    assert.ok(!runs(fin).some((r) => /\bnpm (ci|install|i)\b/.test(r)), 'no npm install in the final stage');
    const copies = fin.instructions.filter((i) => i.keyword === 'COPY');
    const nodeModules = copies.filter((c) => /node_modules/.test(c.args));
    assert.equal(nodeModules.length, 1, 'node_modules copied once');
    const from = /--from=(\S+)/.exec(nodeModules[0]?.args ?? '')?.[1]?.toLowerCase();
    const src = byStage.find((s) => s.name === from);
    assert.ok(src, `node_modules come from stage ${String(from)}`);
    const installs = runs(src).filter((r) => /\bnpm (ci|install)\b/.test(r));
    assert.ok(
      installs.length > 0 && installs.every((r) => /--omit=dev/.test(r)),
      'that stage installs with --omit=dev',
    );
    // The compiled program comes from the build stage, which builds it.
    const dist = copies.find((c) => /\/dist\b/.test(c.args));
    const buildName = /--from=(\S+)/.exec(dist?.args ?? '')?.[1]?.toLowerCase();
    const build = byStage.find((s) => s.name === buildName);
    assert.ok(
      runs(build).some((r) => /npm run build/.test(r)),
      'dist comes from the stage that runs npm run build',
    );
    assert.ok(
      copies.some((c) => /^package\.json\s/.test(c.args)),
      'package.json (read for the version)',
    );
  });

  test('runs as a numeric non-root user by default, the one the chart uses for static origination', () => {
    const users = (final?.instructions ?? []).filter((i) => i.keyword === 'USER');
    assert.equal(users.length, 1);
    assert.match(users[0]?.args ?? '', /^10001(:10001)?$/);
    const ds = readFileSync(join(ROOT, 'charts', 'cosmolet', 'templates', 'daemonset.yaml'), 'utf8');
    assert.match(ds, /runAsUser: 10001/);
    assert.ok(runs(final).some((r) => /useradd .*--uid 10001/.test(r)));
  });

  test('every file the build copies from the context exists and passes .dockerignore', () => {
    const ignore = readFileSync(join(ROOT, '.dockerignore'), 'utf8')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l !== '' && !l.startsWith('#'));
    assert.equal(ignore[0], '*', '.dockerignore is an allowlist');
    const allowed = ignore.filter((l) => l.startsWith('!')).map((l) => l.slice(1).replace(/\/$/, ''));
    for (const s of byStage) {
      for (const c of s.instructions.filter((i) => i.keyword === 'COPY' && !/--from=/.test(i.args))) {
        const parts = c.args.split(/\s+/).filter((p) => !p.startsWith('--'));
        for (const source of parts.slice(0, -1)) {
          const p = source.replace(/^\.\//, '').replace(/\/$/, '');
          assert.ok(existsSync(join(ROOT, p)), `line ${c.line}: ${p} does not exist`);
          assert.ok(allowed.includes(p), `line ${c.line}: ${p} is excluded by .dockerignore`);
        }
      }
    }
    assert.ok(
      !allowed.some((a) => /node_modules|dist|\.git/.test(a)),
      'no node_modules, dist or .git in the context',
    );
  });
});
