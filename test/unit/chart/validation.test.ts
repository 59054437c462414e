// The chart refuses what cosmolet refuses, with cosmolet's words. Each invalid config below goes
// through the program's own validation (validateConfig, as `cosmolet run` loads the rendered file)
// and through `helm template` with Helm 3 and Helm 4: Helm must fail, and where the check lives in
// the templates (charts/cosmolet/templates/_validate.tpl) its error must hold every line cosmolet
// prints. Every refinement message in src/config/schema.ts must be produced by some case here, so a
// new program rule without a chart counterpart fails this file. The template helpers that mirror
// parseCIDR, parseLabelSelector and parseHttpAddress are also run on generated strings beside the
// program's functions.
import { strict as assert } from 'node:assert';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parse, parseAllDocuments, stringify } from 'yaml';
import { validateConfig } from '../../../src/config/load.js';
import { parseHttpAddress } from '../../../src/config/http-address.js';
import { parseLabelSelector } from '../../../src/model/selector.js';
import { parseCIDR } from '../../../src/net/ip.js';
import {
  CHART_DIR,
  HELM_MAJORS,
  REPO_ROOT,
  runHelm,
  type HelmMajor,
} from '../../../scripts/render-deploy.js';

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function deepMerge(base: unknown, over: unknown): unknown {
  if (!isObj(base) || !isObj(over)) return over === undefined ? base : over;
  const out: Obj = { ...base };
  for (const [k, v] of Object.entries(over)) out[k] = deepMerge(base[k], v);
  return out;
}

/** Keys sorted at every level, as the chart's toYaml writes the ConfigMap cosmolet reads. */
function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (!isObj(v)) return v;
  return Object.fromEntries(
    Object.keys(v)
      .sort()
      .map((k) => [k, sortKeys(v[k])]),
  );
}

const chartConfig = (parse(readFileSync(join(CHART_DIR, 'values.yaml'), 'utf8')) as Obj).config;

/** What cosmolet prints for the config the chart would render from these `config:` values. */
function programMessage(config: Obj): string {
  try {
    validateConfig(sortKeys(deepMerge(chartConfig, config)));
  } catch (err) {
    return (err as Error).message;
  }
  return '';
}

interface Case {
  name: string;
  config: Obj;
  /**
   * template: Helm prints cosmolet's lines. schema: values.schema.json refuses it, naming this key
   * (or, for a map's key, the pattern: Helm names the wrong path for propertyNames).
   */
  by: 'template' | { schemaPath: string };
}

const CASES: Case[] = [
  // The issue's list.
  {
    name: 'allowedCIDRs with host bits set',
    config: { advertise: { allowedCIDRs: ['10.0.0.1/24'] } },
    by: 'template',
  },
  {
    name: 'duplicate route-class marks',
    config: { routeClasses: { gold: { mark: 1001 }, silver: { mark: 1001 } } },
    by: 'template',
  },
  {
    name: 'mark 1024 under kernel origination',
    config: { routeClasses: { gold: { mark: 1024 } } },
    by: 'template',
  },
  {
    name: 'a defaultRouteClass that names no class',
    config: { routeClasses: { gold: { mark: 1001 } }, defaultRouteClass: 'silver' },
    by: 'template',
  },
  {
    name: 'an invalid labelSelector',
    config: { services: { labelSelector: 'app in (a b)' } },
    by: 'template',
  },
  { name: 'http.address port 70000', config: { http: { address: ':70000' } }, by: 'template' },
  { name: 'http.address port 0', config: { http: { address: ':0' } }, by: 'template' },
  // The other branches of the same rules.
  {
    name: 'an IPv6 CIDR with host bits',
    config: { advertise: { allowedCIDRs: ['fd00::1/64'] } },
    by: 'template',
  },
  { name: 'a CIDR without a length', config: { advertise: { allowedCIDRs: ['192.0.2.0'] } }, by: 'template' },
  {
    name: 'a CIDR that is no address',
    config: { advertise: { allowedCIDRs: ['10.0.0.256/32'] } },
    by: 'template',
  },
  {
    name: 'an IPv4-mapped CIDR',
    config: { advertise: { allowedCIDRs: ['::ffff:10.0.0.0/104'] } },
    by: 'template',
  },
  { name: 'a CIDR length past 32', config: { advertise: { allowedCIDRs: ['10.0.0.0/33'] } }, by: 'template' },
  {
    name: 'several bad CIDRs at once (every line)',
    config: { advertise: { allowedCIDRs: ['10.0.0.0/8', '10.0.0.1/8', 'fd00::/129', 'x/1'] } },
    by: 'template',
  },
  { name: 'an empty selector requirement', config: { services: { labelSelector: 'a,,b' } }, by: 'template' },
  { name: 'a selector key with a space', config: { services: { labelSelector: 'app web' } }, by: 'template' },
  {
    name: 'a selector value too long',
    config: { services: { labelSelector: `a=${'v'.repeat(64)}` } },
    by: 'template',
  },
  {
    name: 'a selector with characters JSON escapes',
    config: { services: { labelSelector: 'a<b&c>' } },
    by: 'template',
  },
  {
    name: 'a long selector (cut in the message)',
    config: { services: { labelSelector: `app in (${'x,'.repeat(40)}y z)` } },
    by: 'template',
  },
  { name: 'http.address [IPv6] that is not IPv6', config: { http: { address: '[1:2]:80' } }, by: 'template' },
  {
    name: 'a mark equal to frr.staticTag',
    config: { routeClasses: { gold: { mark: 7300 } } },
    by: 'template',
  },
  {
    name: 'three classes on one mark',
    config: { routeClasses: { c: { mark: 5 }, a: { mark: 5 }, b: { mark: 5 } } },
    by: 'template',
  },
  {
    name: 'a mark above 2^31',
    config: { routeClasses: { a: { mark: 4294967295 }, b: { mark: 4294967295 } } },
    by: 'template',
  },
  { name: 'http.probeAddress port 0', config: { http: { probeAddress: '127.0.0.1:0' } }, by: 'template' },
  {
    name: 'http.probeAddress without a port',
    config: { http: { probeAddress: 'localhost' } },
    by: { schemaPath: '/config/http/probeAddress' },
  },
  {
    name: 'http.tls.certFile without keyFile',
    config: { http: { tls: { certFile: '/tls/tls.crt' } } },
    by: 'template',
  },
  {
    name: 'http.tls.keyFile without certFile',
    config: { http: { tls: { keyFile: '/tls/tls.key' } } },
    by: 'template',
  },
  // Rules values.schema.json states (generated from the same zod schema).
  {
    name: 'a namespace that is no DNS label',
    config: { services: { namespaces: ['Prod'] } },
    by: { schemaPath: '/config/services/namespaces/0' },
  },
  {
    name: 'a route class name that is no DNS label',
    config: { routeClasses: { Gold: { mark: 1001 } } },
    by: { schemaPath: "'Gold' does not match pattern" },
  },
  {
    name: "zebra's own kernel protocol",
    config: { frr: { kernelProtocol: 11 } },
    by: { schemaPath: '/config/frr/kernelProtocol' },
  },
  {
    name: 'http.address without a port',
    config: { http: { address: 'localhost' } },
    by: { schemaPath: '/config/http/address' },
  },
  {
    name: 'a loop interval of 0',
    config: { loopIntervalSeconds: 0 },
    by: { schemaPath: '/config/loopIntervalSeconds' },
  },
  {
    name: 'an unknown origination',
    config: { frr: { origination: 'bgp' } },
    by: { schemaPath: '/config/frr/origination' },
  },
  {
    name: 'an unknown key',
    config: { advertise: { clusterIPs: true } },
    by: { schemaPath: '/config/advertise' },
  },
  {
    name: 'a mark of 0',
    config: { routeClasses: { gold: { mark: 0 } } },
    by: { schemaPath: '/config/routeClasses/gold/mark' },
  },
];

/** The fixed part of every refinement message in src/config/schema.ts (up to its first `${`). */
function schemaMessages(): string[] {
  const text = readFileSync(join(REPO_ROOT, 'src', 'config', 'schema.ts'), 'utf8');
  const out: string[] = [];
  for (const m of text.matchAll(/message:\s*(?:'((?:[^'\\]|\\.)*)'|"((?:[^"\\]|\\.)*)"|`([^`]*)`)/g)) {
    const raw = m[1] ?? m[2] ?? m[3] ?? '';
    out.push(raw.split('${')[0]?.replace(/\\(.)/g, '$1') ?? raw);
  }
  return out;
}

const tmp = mkdtempSync(join(tmpdir(), 'cosmolet-validation-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

function helmTemplate(major: HelmMajor, values: Obj, chart = CHART_DIR) {
  const file = join(tmp, `values-${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(file, stringify(values));
  return runHelm(['template', 'cosmolet', chart, '--namespace', 'cosmolet', '-f', file], major);
}

describe('the chart refuses what cosmolet refuses', () => {
  test('every refinement message of src/config/schema.ts is produced by a case here', () => {
    const produced = CASES.map((c) => programMessage(c.config));
    const messages = schemaMessages();
    assert.ok(messages.length >= 10, `found only ${messages.length} messages in schema.ts`);
    const missing = messages.filter((m) => !produced.some((p) => p.includes(m)));
    assert.deepEqual(missing, [], 'a rule of schema.ts has no case (and maybe no chart counterpart)');
  });

  for (const c of CASES) {
    const expected = programMessage(c.config);
    for (const major of HELM_MAJORS) {
      test(`Helm ${major}: ${c.name}`, () => {
        assert.notEqual(expected, '', 'cosmolet accepts this config: the case is wrong');
        const r = helmTemplate(major, { config: c.config });
        assert.notEqual(r.status, 0, `helm accepted a config cosmolet refuses with:\n${expected}`);
        if (c.by === 'template') {
          for (const line of expected.split('\n'))
            assert.ok(r.stderr.includes(line), `helm's error lacks\n  ${line}\nit said:\n${r.stderr}`);
        } else {
          assert.match(r.stderr, /values don't meet the specifications of the schema/);
          assert.ok(
            r.stderr.includes(c.by.schemaPath),
            `helm's schema error names no ${c.by.schemaPath}:\n${r.stderr}`,
          );
        }
      });
    }
  }

  test('values cosmolet accepts render (no false refusal)', () => {
    const good: Obj = {
      services: { labelSelector: 'app in (web, api),!legacy,tier!=db,x.io/y==z' },
      advertise: {
        loadBalancerIP: true,
        allowedCIDRs: ['192.0.2.0/24', '2001:db8::/32', '0.0.0.0/0', '::/0'],
      },
      routeClasses: { gold: { mark: 1001 }, silver: { mark: 1002 } },
      defaultRouteClass: 'gold',
      http: { address: '[::1]:9000' },
    };
    assert.equal(programMessage(good), '');
    for (const major of HELM_MAJORS) {
      const r = helmTemplate(major, { config: good });
      assert.equal(r.status, 0, r.stderr);
    }
  });
});

/** A small deterministic generator (mulberry32), so a failure reproduces. */
function rng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function pick<T>(r: () => number, xs: readonly T[]): T {
  return xs[Math.floor(r() * xs.length)] as T;
}

function generate(r: () => number, tokens: readonly string[], min: number, max: number): string {
  const n = min + Math.floor(r() * (max - min + 1));
  let s = '';
  for (let i = 0; i < n; i++) s += pick(r, tokens);
  return s;
}

const V4 = ['0', '1', '10', '192', '255', '256', '01', '00', '', '2'];
const V6 = ['0', '1', 'fd00', 'FFFF', 'ffff', 'db8', '2001', '10000', 'g', '', '0000', '8000'];
const LENGTHS = [
  '0',
  '1',
  '8',
  '24',
  '31',
  '32',
  '33',
  '48',
  '64',
  '96',
  '104',
  '120',
  '127',
  '128',
  '129',
  '08',
  '',
  'x',
];

function cidrSample(r: () => number): string {
  const roll = r();
  let addr: string;
  if (roll < 0.4) addr = Array.from({ length: pick(r, [3, 4, 4, 4, 5]) }, () => pick(r, V4)).join('.');
  else if (roll < 0.8) {
    const head = Array.from({ length: Math.floor(r() * 5) }, () => pick(r, V6)).join(':');
    const tail = Array.from({ length: Math.floor(r() * 5) }, () => pick(r, V6)).join(':');
    addr =
      r() < 0.6
        ? `${head}::${tail}`
        : Array.from({ length: pick(r, [7, 8, 8, 9]) }, () => pick(r, V6)).join(':');
    if (r() < 0.2) addr = `${addr}:${pick(r, ['1.2.3.4', '0.0.0.0', '1.2.3', '255.255.255.255'])}`;
  } else {
    addr = pick(r, [
      '::ffff:1.2.3.0',
      '::ffff:0:0',
      '64:ff9b::192.0.2.0',
      '::',
      '1::',
      '::1',
      ':::',
      '1:::2',
      'a::b::c',
    ]);
  }
  return r() < 0.05 ? addr : `${addr}/${pick(r, LENGTHS)}`;
}

const SELECTOR_TOKENS = [
  'app',
  'web',
  'a.b/c',
  'x',
  '-a',
  'a-',
  '_',
  'A',
  '!',
  '=',
  '==',
  '!=',
  ' in ',
  ' notin ',
  'in',
  '(',
  ')',
  ',',
  ' ',
  '\t',
  '\u00a0',
  'v'.repeat(30),
  'k8s.io/',
  '/',
  '.',
];

const ADDRESSES = [
  ':8080',
  ':0',
  ':1',
  ':65535',
  ':65536',
  ':99999',
  ':080',
  '127.0.0.1:9000',
  'localhost:1',
  'a:b:1',
  '[::1]:80',
  '[1:2]:80',
  '[::ffff:1.2.3.4]:80',
  '[fe80::1]:443',
  '[::]:1',
  '[1::2::3]:1',
  '[1:2:3:4:5:6:7:8]:1',
  '[1:2:3:4:5:6:7::]:1',
  '[::1.2.3.4]:1',
  '[1:2:3:4:5:6:1.2.3.4]:1',
  '[1:2:3:4:5:6:7:1.2.3.4]:1',
  '[12345::]:1',
  ':',
  '[]:1',
  '::1',
  '0.0.0.0:65535',
];

describe('the chart helpers compute what the program computes', () => {
  let chart = '';
  const r = rng(22);
  const cidrs = Array.from({ length: 400 }, () => cidrSample(r));
  const selectors = Array.from({ length: 400 }, () => generate(r, SELECTOR_TOKENS, 1, 7));
  const addresses = [
    ...ADDRESSES,
    ...Array.from(
      { length: 100 },
      () => `${cidrSample(r).split('/')[0] ?? ''}:${pick(r, ['1', '0', '65536', '8080'])}`,
    ).map((a) =>
      a.includes(':') && !a.startsWith('[') && a.split(':').length > 2
        ? `[${a.replace(/:(\d+)$/, ']:$1')}`
        : a,
    ),
  ];

  before(() => {
    // A copy of the chart with one template that runs the helpers on a list (no schema: the
    // lists are not chart values).
    chart = join(tmp, 'probe-chart');
    cpSync(CHART_DIR, chart, { recursive: true });
    rmSync(join(chart, 'values.schema.json'));
    writeFileSync(
      join(chart, 'templates', 'zz-probe.yaml'),
      [
        'apiVersion: v1',
        'kind: ConfigMap',
        'metadata: {name: probe}',
        'data:',
        '{{- $c := list }}{{ range .Values.probe.cidrs }}{{ $c = append $c (include "cosmolet.cidrProblem" .) }}{{ end }}',
        '{{- $s := list }}{{ range .Values.probe.selectors }}{{ $s = append $s (include "cosmolet.labelSelectorProblem" .) }}{{ end }}',
        '{{- $a := list }}{{ range .Values.probe.addresses }}{{ $a = append $a (include "cosmolet.httpAddressProblem" .) }}{{ end }}',
        '  cidrs: {{ toJson $c | quote }}',
        '  selectors: {{ toJson $s | quote }}',
        '  addresses: {{ toJson $a | quote }}',
      ].join('\n'),
    );
  });
  for (const major of HELM_MAJORS) {
    test(`Helm ${major}: parseCIDR, parseLabelSelector and parseHttpAddress on ${cidrs.length + selectors.length + addresses.length} generated strings`, () => {
      const out = helmTemplate(major, { probe: { cidrs, selectors, addresses } }, chart);
      assert.equal(out.status, 0, out.stderr);
      const probe = parseAllDocuments(out.stdout)
        .map((d) => d.toJS() as Obj | null)
        .find((o) => isObj(o) && isObj(o.metadata) && o.metadata.name === 'probe');
      assert.ok(probe && isObj(probe.data));
      const got = (k: string) => JSON.parse(String((probe.data as Obj)[k])) as string[];
      const want = {
        cidrs: cidrs.map((s) => {
          const c = parseCIDR(s);
          return typeof c === 'string' ? c : '';
        }),
        selectors: selectors.map((s) => {
          try {
            parseLabelSelector(s);
            return '';
          } catch (err) {
            return (err as Error).message;
          }
        }),
        addresses: addresses.map((s) => (typeof parseHttpAddress(s) === 'string' ? 'bad' : '')),
      };
      for (const [k, inputs] of [
        ['cidrs', cidrs],
        ['selectors', selectors],
        ['addresses', addresses],
      ] as const) {
        const g = got(k);
        const diffs = inputs
          .map((s, i) => ({ input: s, program: want[k][i], chart: g[i] }))
          .filter((d) => d.program !== d.chart);
        assert.deepEqual(diffs, [], `${k}: the chart and the program disagree`);
        // Both outcomes are exercised, not only refusals.
        assert.ok(want[k].some((w) => w === '') && want[k].some((w) => w !== ''), `${k}: one-sided sample`);
      }
    });
  }
});
