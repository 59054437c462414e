// The configuration: defaults, the YAML file, flags and NODE_NAME merged as docs/decisions.md says,
// and every error (one line naming the key) and every limit of "Limits of the config values".
import { describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '../../../src/errors.js';
import { loadConfig, validateConfig, type ConfigOverrides } from '../../../src/config/load.js';
import { defaultConfig, planSettings } from '../../../src/config/schema.js';
import { ZEBRA_PROTOCOLS } from '../../../src/router/kernel-routes.js';
import { parseHttpAddress } from '../../../src/config/http-address.js';

function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'cosmolet-config-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function writeConfig(t: TestContext, text: string, name = 'config.yaml'): string {
  const file = join(tempDir(t), name);
  writeFileSync(file, text);
  return file;
}

/** The ConfigError that loading throws; fails when loading succeeds. */
function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
    assert.ok(!err.message.includes('\n'), `one line: ${err.message}`);
    return err;
  }
  assert.fail('expected a ConfigError');
}

/** Validates one config object (as if read from the file) and returns the error message. */
function invalid(input: unknown): string {
  return configError(() => validateConfig(input)).message;
}

function valid(input: unknown): void {
  assert.doesNotThrow(() => validateConfig(input), JSON.stringify(input));
}

const NO_ENV: NodeJS.ProcessEnv = {};

describe('defaults', () => {
  test('an absent config gives the documented defaults', () => {
    const c = loadConfig({ env: NO_ENV });
    assert.deepEqual(c, {
      nodeName: '',
      services: { namespaces: [], labelSelector: '' },
      advertise: {
        clusterIP: true,
        loadBalancerIP: false,
        externalIPs: false,
        allowedCIDRs: [],
        loadBalancerClass: '',
        withdrawOnCordon: true,
      },
      loopIntervalSeconds: 30,
      routeClasses: {},
      defaultRouteClass: '',
      withdrawOnExit: false,
      bgp: { enabled: true, asn: 0 },
      frr: {
        origination: 'kernel',
        socketDir: '/var/run/frr',
        vtyshPath: 'vtysh',
        kernelProtocol: 73,
        staticTag: 7300,
        commandTimeoutSeconds: 10,
      },
      http: { address: ':8080', probeAddress: '127.0.0.1:8081', tls: {}, tokenAudiences: ['cosmolet'] },
      logging: { level: 'info', format: 'json' },
    });
    assert.deepEqual(c, defaultConfig());
  });

  test('an empty file, a comment-only file and null sections mean defaults', (t) => {
    for (const text of [
      '',
      '# nothing\n',
      'services:\nadvertise:\nfrr:\nhttp:\nlogging:\nbgp:\n',
      'loopIntervalSeconds: ~\n',
    ]) {
      assert.deepEqual(
        loadConfig({ file: writeConfig(t, text), env: NO_ENV }),
        defaultConfig(),
        JSON.stringify(text),
      );
    }
  });

  test('a partial section keeps the defaults of its other keys', (t) => {
    const c = loadConfig({
      file: writeConfig(t, 'advertise:\n  externalIPs: true\nfrr: {staticTag: 9}\n'),
      env: NO_ENV,
    });
    assert.deepEqual(c.advertise, {
      clusterIP: true,
      loadBalancerIP: false,
      externalIPs: true,
      allowedCIDRs: [],
      loadBalancerClass: '',
      withdrawOnCordon: true,
    });
    assert.equal(c.frr.staticTag, 9);
    assert.equal(c.frr.kernelProtocol, 73);
  });

  test('the documented example file loads as written', (t) => {
    const text = `nodeName: ""
services:
  namespaces: []
  labelSelector: ""
advertise:
  clusterIP: true
  loadBalancerIP: false
  externalIPs: false
  allowedCIDRs: []
  withdrawOnCordon: true
loopIntervalSeconds: 30
bgp:
  enabled: true
  asn: 0
frr:
  origination: kernel
  socketDir: /var/run/frr
  vtyshPath: vtysh
  kernelProtocol: 73
  staticTag: 7300
  commandTimeoutSeconds: 10
http:
  address: ":8080"
logging:
  level: info
  format: json
`;
    assert.deepEqual(loadConfig({ file: writeConfig(t, text), env: NO_ENV }), defaultConfig());
  });

  test('planSettings takes the plan keys', () => {
    const c = validateConfig({
      services: { namespaces: ['a'], labelSelector: 'x=y' },
      advertise: {
        loadBalancerIP: true,
        allowedCIDRs: ['10.0.0.0/8'],
        loadBalancerClass: 'cosmolet.io/bgp',
        withdrawOnCordon: false,
      },
      routeClasses: { gold: { mark: 1001 }, bronze: { mark: 1003 } },
      defaultRouteClass: 'bronze',
    });
    assert.deepEqual(planSettings(c), {
      namespaces: ['a'],
      labelSelector: 'x=y',
      clusterIP: true,
      loadBalancerIP: true,
      externalIPs: false,
      allowedCIDRs: ['10.0.0.0/8'],
      loadBalancerClass: 'cosmolet.io/bgp',
      withdrawOnCordon: false,
      routeClasses: ['gold', 'bronze'],
      defaultRouteClass: 'bronze',
    });
  });
});

describe('precedence: flag > file > default, env NODE_NAME last', () => {
  const file = (t: TestContext) =>
    writeConfig(t, 'nodeName: from-file\nlogging:\n  level: warn\n  format: text\n');

  test('a flag overrides the file', (t) => {
    const overrides: ConfigOverrides = { nodeName: 'from-flag', 'logging.level': 'debug' };
    const c = loadConfig({ file: file(t), overrides, env: { NODE_NAME: 'from-env' } });
    assert.equal(c.nodeName, 'from-flag');
    assert.equal(c.logging.level, 'debug');
    assert.equal(c.logging.format, 'text');
  });

  test('the file overrides the default and the env', (t) => {
    const c = loadConfig({ file: file(t), env: { NODE_NAME: 'from-env' } });
    assert.equal(c.nodeName, 'from-file');
    assert.equal(c.logging.level, 'warn');
  });

  test('env NODE_NAME applies only when neither flag nor file name the node', (t) => {
    assert.equal(loadConfig({ env: { NODE_NAME: 'from-env' } }).nodeName, 'from-env');
    const empty = writeConfig(t, 'nodeName: ""\n');
    assert.equal(loadConfig({ file: empty, env: { NODE_NAME: 'from-env' } }).nodeName, 'from-env');
    assert.equal(loadConfig({ env: NO_ENV }).nodeName, '');
    assert.equal(loadConfig({ overrides: { nodeName: 'f' }, env: { NODE_NAME: 'e' } }).nodeName, 'f');
  });

  test('undefined overrides are ignored; a flag creates a missing section', (t) => {
    const c = loadConfig({
      file: file(t),
      overrides: { nodeName: undefined, 'http.address': '[::1]:9000' },
      env: NO_ENV,
    });
    assert.equal(c.nodeName, 'from-file');
    assert.equal(c.http.address, '[::1]:9000');
  });

  test('a bad flag value names the flag and the key', (t) => {
    const e = configError(() =>
      loadConfig({ file: file(t), overrides: { 'logging.level': 'verbose' }, env: NO_ENV }),
    );
    assert.match(e.message, /--log-level \(logging\.level\)/);
    assert.match(e.message, /verbose/);
    const h = configError(() => loadConfig({ overrides: { 'http.address': ':0' }, env: NO_ENV }));
    assert.match(h.message, /--http-address \(http\.address\)/);
    const w = configError(() => loadConfig({ overrides: { withdrawOnExit: 'yes' }, env: NO_ENV }));
    assert.match(w.message, /--withdraw-on-exit \(withdrawOnExit\)/);
  });

  test('a bad file value set by no flag names only the key', (t) => {
    const e = configError(() =>
      loadConfig({ file: writeConfig(t, 'logging: {level: verbose}\n'), env: NO_ENV }),
    );
    assert.equal(
      e.message,
      'config: logging.level: got string "verbose"; allowed: "debug", "info", "warn", "error"',
    );
    assert.equal(e.key, 'logging.level');
  });

  test('a flag fixes a bad file value', (t) => {
    const c = loadConfig({
      file: writeConfig(t, 'logging: {level: verbose}\n'),
      overrides: { 'logging.level': 'error' },
      env: NO_ENV,
    });
    assert.equal(c.logging.level, 'error');
  });
});

describe('errors of the issue: one line naming the key', () => {
  test('unknown keys at the top level and nested', () => {
    assert.equal(invalid({ foo: 1 }), 'config: unknown key "foo"');
    assert.equal(invalid({ services: { namespace: ['a'] } }), 'config: unknown key "services.namespace"');
    assert.equal(invalid({ advertise: { clusterIPs: true } }), 'config: unknown key "advertise.clusterIPs"');
    assert.match(invalid({ frr: { socket: '/x' } }), /"frr\.socket"/);
    assert.match(invalid({ http: { port: 1 } }), /"http\.port"/);
    assert.match(invalid({ logging: { lvl: 'info' } }), /"logging\.lvl"/);
    assert.match(invalid({ bgp: { as: 1 } }), /"bgp\.as"/);
    assert.match(invalid({ loopinterval: 1 }), /"loopinterval"/);
  });

  test('regression: a key or selector with a newline made a two-line message', () => {
    assert.equal(invalid({ 'bad\nkey': 1 }), 'config: unknown key "bad\\nkey"');
    assert.match(invalid({ advertise: { 'x\ny': 1 } }), /^config: unknown key "advertise\.x\\ny"$/);
    assert.match(
      invalid({ services: { labelSelector: 'a\nb=c' } }),
      /^config: services\.labelSelector: "a\\nb=c" is not a label selector: invalid label key "a\\nb=c"$/,
    );
    assert.match(invalid({ services: { labelSelector: 'a=b\nc' } }), /^config: services\.labelSelector: /);
  });

  test('wrong types name the key, the value and the expected type', () => {
    assert.equal(
      invalid({ loopIntervalSeconds: '30' }),
      'config: loopIntervalSeconds: expected number, got string "30"',
    );
    assert.equal(
      invalid({ advertise: { clusterIP: 'yes' } }),
      'config: advertise.clusterIP: expected boolean, got string "yes"',
    );
    assert.match(
      invalid({ advertise: { allowedCIDRs: '10.0.0.0/8' } }),
      /^config: advertise\.allowedCIDRs: expected array/,
    );
    assert.match(
      invalid({ services: { namespaces: [1] } }),
      /^config: services\.namespaces\[0\]: expected string, got number 1/,
    );
    assert.match(invalid({ services: 'all' }), /^config: services: expected object/);
    assert.match(invalid({ frr: [] }), /^config: frr: expected object, got a list/);
    assert.match(invalid({ nodeName: 5 }), /^config: nodeName: expected string/);
    assert.match(invalid({ loopIntervalSeconds: 1.5 }), /^config: loopIntervalSeconds: .*1\.5/);
    assert.match(invalid({ bgp: { enabled: 'false' } }), /^config: bgp\.enabled: expected boolean/);
  });

  test('logging.level verbose and other enum values', () => {
    assert.match(
      invalid({ logging: { level: 'verbose' } }),
      /^config: logging\.level: got string "verbose"; allowed: "debug", "info", "warn", "error"$/,
    );
    assert.match(invalid({ logging: { format: 'yaml' } }), /^config: logging\.format: .*"json", "text"/);
    assert.match(invalid({ frr: { origination: 'bgp' } }), /^config: frr\.origination: .*"kernel", "static"/);
  });

  test('zero and negative loopIntervalSeconds', () => {
    assert.equal(
      invalid({ loopIntervalSeconds: 0 }),
      'config: loopIntervalSeconds: must be at least 1, got number 0',
    );
    assert.equal(
      invalid({ loopIntervalSeconds: -5 }),
      'config: loopIntervalSeconds: must be at least 1, got number -5',
    );
  });

  test('malformed CIDRs and CIDRs with host bits', () => {
    assert.match(
      invalid({ advertise: { allowedCIDRs: ['10.0.0.1/24'] } }),
      /^config: advertise\.allowedCIDRs\[0\]: "10\.0\.0\.1\/24" .*host bits/,
    );
    assert.match(
      invalid({ advertise: { allowedCIDRs: ['10.0.0.0/8', 'fd00::1/64'] } }),
      /allowedCIDRs\[1\]: "fd00::1\/64".*host bits/,
    );
    for (const bad of ['nope', '10.0.0.0', '10.0.0.0/33', '300.0.0.0/8', 'fd00::/129', '']) {
      assert.match(
        invalid({ advertise: { allowedCIDRs: [bad] } }),
        /^config: advertise\.allowedCIDRs\[0\]: /,
        bad,
      );
    }
    valid({ advertise: { allowedCIDRs: ['10.0.0.0/8', '192.0.2.1/32', 'fd00::/8', '::/0', '0.0.0.0/0'] } });
  });

  test('invalid namespace names and label selectors', () => {
    assert.match(
      invalid({ services: { namespaces: ['Kube_System'] } }),
      /^config: services\.namespaces\[0\]: "Kube_System"/,
    );
    assert.match(
      invalid({ services: { labelSelector: 'a b' } }),
      /^config: services\.labelSelector: .*label selector/,
    );
    valid({ services: { namespaces: ['kube-system', 'a1'], labelSelector: 'app in (a,b),!c' } });
  });

  test('unreadable file: missing, a directory', (t) => {
    const dir = tempDir(t);
    const missing = join(dir, 'missing.yaml');
    const e = configError(() => loadConfig({ file: missing, env: NO_ENV }));
    assert.match(e.message, /^--config: cannot read .*missing\.yaml: .*ENOENT/);
    assert.equal(e.key, '--config');
    assert.match(
      configError(() => loadConfig({ file: dir, env: NO_ENV })).message,
      /^--config: cannot read .*EISDIR/,
    );
  });

  test('unreadable file: no read permission', (t) => {
    if (process.getuid?.() === 0) {
      t.skip('root reads any file');
      return;
    }
    const file = writeConfig(t, 'nodeName: x\n');
    chmodSync(file, 0o000);
    assert.match(
      configError(() => loadConfig({ file, env: NO_ENV })).message,
      /^--config: cannot read .*EACCES/,
    );
  });

  test('non-YAML file: the message carries file:line:col', (t) => {
    const file = writeConfig(t, 'services:\n  namespaces: [a, b\nlogging: {}\n');
    const e = configError(() => loadConfig({ file, env: NO_ENV }));
    assert.match(e.message, /^--config: .*config\.yaml:\d+:\d+ is not valid YAML: /);
    const dup = writeConfig(t, 'nodeName: a\nnodeName: b\n');
    assert.match(
      configError(() => loadConfig({ file: dup, env: NO_ENV })).message,
      /config\.yaml:2:1 is not valid YAML/,
    );
    const tabs = writeConfig(t, 'services:\n\tnamespaces: []\n');
    assert.match(configError(() => loadConfig({ file: tabs, env: NO_ENV })).message, /is not valid YAML/);
    const docs = writeConfig(t, 'nodeName: a\n---\nnodeName: b\n');
    assert.match(configError(() => loadConfig({ file: docs, env: NO_ENV })).message, /is not valid YAML/);
  });

  test('YAML that is not a mapping', (t) => {
    for (const [text, got] of [
      ['- a\n- b\n', 'a list'],
      ['hello\n', 'string "hello"'],
      ['42\n', 'number 42'],
      ['true\n', 'boolean true'],
    ] as const) {
      const e = configError(() => loadConfig({ file: writeConfig(t, text), env: NO_ENV }));
      assert.match(e.message, /^--config: .*config\.yaml must hold a YAML mapping of config keys, got /);
      assert.ok(e.message.endsWith(got), e.message);
    }
  });
});

describe('limits of the config values', () => {
  test('loopIntervalSeconds 1 to 86400', () => {
    valid({ loopIntervalSeconds: 1 });
    valid({ loopIntervalSeconds: 86400 });
    assert.match(
      invalid({ loopIntervalSeconds: 86401 }),
      /^config: loopIntervalSeconds: must be at most 86400/,
    );
  });

  test("frr.kernelProtocol 5 to 255 except zebra's own (11, 42, 186-198)", () => {
    for (const n of [5, 73, 185, 199, 255, 12, 41, 43]) valid({ frr: { kernelProtocol: n } });
    for (const n of [11, 42, 186, 190, 198]) {
      assert.match(
        invalid({ frr: { kernelProtocol: n } }),
        new RegExp(`^config: frr\\.kernelProtocol: ${n} .*zebra`),
        String(n),
      );
    }
    for (let n = 186; n <= 198; n++) assert.ok(ZEBRA_PROTOCOLS.has(n), String(n));
    assert.match(
      invalid({ frr: { kernelProtocol: 4 } }),
      /^config: frr\.kernelProtocol: must be at least 5, got number 4$/,
    );
    assert.match(
      invalid({ frr: { kernelProtocol: 256 } }),
      /^config: frr\.kernelProtocol: must be at most 255/,
    );
    assert.match(invalid({ frr: { kernelProtocol: 0 } }), /frr\.kernelProtocol/);
  });

  test('frr.staticTag 1 to 4294967295', () => {
    valid({ frr: { staticTag: 1 } });
    valid({ frr: { staticTag: 4294967295 } });
    assert.match(invalid({ frr: { staticTag: 0 } }), /^config: frr\.staticTag: must be at least 1/);
    assert.match(
      invalid({ frr: { staticTag: 4294967296 } }),
      /^config: frr\.staticTag: must be at most 4294967295/,
    );
  });

  test('frr.commandTimeoutSeconds 1 to 300', () => {
    valid({ frr: { commandTimeoutSeconds: 1 } });
    valid({ frr: { commandTimeoutSeconds: 300 } });
    assert.match(
      invalid({ frr: { commandTimeoutSeconds: 0 } }),
      /^config: frr\.commandTimeoutSeconds: must be at least 1/,
    );
    assert.match(
      invalid({ frr: { commandTimeoutSeconds: 301 } }),
      /^config: frr\.commandTimeoutSeconds: must be at most 300/,
    );
  });

  test('http.address HOST:PORT, [IPv6]:PORT or :PORT with PORT 1 to 65535', () => {
    for (const a of [
      ':8080',
      '0.0.0.0:8080',
      'localhost:1',
      '[::1]:8080',
      '[::]:65535',
      '[fd00::1]:443',
      'node-a.example:9090',
    ]) {
      valid({ http: { address: a } });
    }
    for (const a of [
      ':0',
      ':65536',
      '[::1]:0',
      '[::1]:65536',
      'localhost:99999',
      '8080',
      '::1:8080',
      '[::1]',
      'host:',
      '',
      ':',
      ':80x',
      'a:b:80',
    ]) {
      assert.match(
        invalid({ http: { address: a } }),
        /^config: http\.address: .*HOST:PORT/,
        JSON.stringify(a),
      );
    }
  });

  test('regression: a bracketed host that is not IPv6 ([1.2.3.4]:80, [:]:80) was accepted', () => {
    for (const a of ['[1.2.3.4]:80', '[:]:80', '[::1::2]:80', '[12345::1]:80']) {
      assert.match(invalid({ http: { address: a } }), /^config: http\.address: .*\[IPv6\]:PORT/, a);
    }
    valid({ http: { address: '[::ffff:127.0.0.1]:8080' } });
  });

  test('parseHttpAddress returns host and port', () => {
    assert.deepEqual(parseHttpAddress(':8080'), { host: undefined, port: 8080 });
    assert.deepEqual(parseHttpAddress('[::1]:8080'), { host: '::1', port: 8080 });
    assert.deepEqual(parseHttpAddress('127.0.0.1:1'), { host: '127.0.0.1', port: 1 });
    assert.deepEqual(parseHttpAddress('h:65535'), { host: 'h', port: 65535 });
    assert.equal(typeof parseHttpAddress(':0'), 'string');
    assert.equal(typeof parseHttpAddress(':65536'), 'string');
  });

  test('bgp.asn 0 to 4294967295; withdrawOnExit boolean', () => {
    valid({ bgp: { asn: 4294967295 }, withdrawOnExit: true });
    assert.match(invalid({ bgp: { asn: -1 } }), /^config: bgp\.asn: must be at least 0/);
    assert.match(invalid({ bgp: { asn: 4294967296 } }), /^config: bgp\.asn: must be at most/);
    assert.match(invalid({ withdrawOnExit: 'yes' }), /^config: withdrawOnExit: expected boolean/);
  });

  test('empty strings where a path is needed', () => {
    assert.match(invalid({ frr: { socketDir: '' } }), /^config: frr\.socketDir: must not be empty/);
    assert.match(invalid({ frr: { vtyshPath: '' } }), /^config: frr\.vtyshPath: must not be empty/);
  });

  test('values read from a file get the same checks', (t) => {
    const file = writeConfig(t, 'frr:\n  kernelProtocol: 186\n');
    const e = configError(() => loadConfig({ file, env: NO_ENV }));
    assert.match(e.message, /^config: frr\.kernelProtocol: 186/);
    assert.equal(e.key, 'frr.kernelProtocol');
  });
});

describe('route classes (rule 7): every validation error exits 2 naming the key', () => {
  const classes = (routeClasses: unknown, more: Record<string, unknown> = {}) => ({ routeClasses, ...more });

  test('valid classes and a default', () => {
    valid(classes({}));
    valid(classes({ gold: { mark: 1 }, 'tenant-a': { mark: 4294967295 }, ['a'.repeat(63)]: { mark: 7 } }));
    valid(classes({ gold: { mark: 1001 } }, { defaultRouteClass: 'gold' }));
    valid(classes({ gold: { mark: 1001 } }, { defaultRouteClass: '' }));
    // staticTag is the unclassed routes' mark: a class may take 7300 once staticTag moves away.
    valid(classes({ gold: { mark: 7300 } }, { frr: { staticTag: 7301 } }));
    const c = validateConfig(classes({ gold: { mark: 1001 } }, { defaultRouteClass: 'gold' }));
    assert.deepEqual(c.routeClasses, { gold: { mark: 1001 } });
    assert.equal(c.defaultRouteClass, 'gold');
  });

  test('class names must be DNS labels of at most 63 characters', () => {
    for (const name of ['Gold', 'gold_1', '-gold', 'gold-', 'a.b', 'a'.repeat(64), '']) {
      const msg = invalid(classes({ [name]: { mark: 5 } }));
      assert.ok(
        msg.startsWith(`config: routeClasses: key ${JSON.stringify(name)} is not a route class name`),
        msg,
      );
      assert.equal(
        configError(() => validateConfig(classes({ [name]: { mark: 5 } }))).key,
        `routeClasses.${name}`,
      );
    }
  });

  test('marks are integers 1 to 4294967295', () => {
    for (const mark of [0, -1, 4294967296]) {
      assert.match(
        invalid(classes({ gold: { mark } })),
        /^config: routeClasses\.gold\.mark: must be at (least 1|most 4294967295), got number/,
      );
    }
    assert.match(
      invalid(classes({ gold: { mark: 1.5 } })),
      /^config: routeClasses\.gold\.mark: expected int/,
    );
    assert.match(
      invalid(classes({ gold: { mark: '1001' } })),
      /^config: routeClasses\.gold\.mark: expected number, got string "1001"/,
    );
    assert.match(
      invalid(classes({ gold: {} })),
      /^config: routeClasses\.gold\.mark: expected number, got nothing/,
    );
    assert.match(
      invalid(classes({ gold: 1001 })),
      /^config: routeClasses\.gold: expected object, got number 1001/,
    );
    assert.match(invalid(classes({ gold: { mark: 1, tag: 2 } })), /unknown key "routeClasses\.gold\.tag"/);
    assert.match(invalid(classes(['gold'])), /^config: routeClasses: expected record, got a list/);
  });

  test('marks are distinct', () => {
    const err = configError(() => validateConfig(classes({ gold: { mark: 1001 }, silver: { mark: 1001 } })));
    assert.equal(err.key, 'routeClasses.silver.mark');
    assert.equal(
      err.message,
      'config: routeClasses.silver.mark: 1001 is also the mark of route class "gold"',
    );
  });

  test('no mark equals frr.staticTag', () => {
    assert.equal(
      invalid(classes({ gold: { mark: 7300 } })),
      'config: routeClasses.gold.mark: 7300 equals frr.staticTag (the mark of unclassed routes)',
    );
    assert.match(
      invalid(classes({ gold: { mark: 42 } }, { frr: { staticTag: 42 } })),
      /routeClasses\.gold\.mark: 42 equals frr\.staticTag/,
    );
  });

  test('under kernel origination no mark is 1024, the metric of IPv6 routes without one', () => {
    assert.match(
      invalid(classes({ gold: { mark: 1024 } })),
      /^config: routeClasses\.gold\.mark: 1024 is the metric the kernel gives IPv6 routes without one/,
    );
    valid(classes({ gold: { mark: 1024 } }, { frr: { origination: 'static' } }));
  });

  test('defaultRouteClass is "" or a configured name', () => {
    assert.equal(
      invalid({ defaultRouteClass: 'gold' }),
      'config: defaultRouteClass: "gold" names no class in routeClasses (use "" for none)',
    );
    assert.match(
      invalid(classes({ gold: { mark: 1 } }, { defaultRouteClass: 'Gold' })),
      /^config: defaultRouteClass: "Gold" names no class/,
    );
    assert.match(
      invalid({ defaultRouteClass: 5 }),
      /^config: defaultRouteClass: expected string, got number 5/,
    );
  });

  test('the same checks on a file, through loadConfig', (t) => {
    const file = writeConfig(t, 'routeClasses:\n  gold:\n    mark: 1001\ndefaultRouteClass: silver\n');
    const err = configError(() => loadConfig({ file, env: NO_ENV }));
    assert.equal(err.key, 'defaultRouteClass');
  });
});

describe('hostile config files (issue: reliability)', () => {
  test('regression: a YAML alias bomb exited 1; now a ConfigError naming the file', (t) => {
    const levels = ['a: &a [x, x, x, x, x, x, x, x, x]'];
    for (let i = 1; i < 9; i++) {
      const prev = String.fromCharCode(96 + i);
      const cur = String.fromCharCode(97 + i);
      levels.push(`${cur}: &${cur} [${Array(9).fill(`*${prev}`).join(', ')}]`);
    }
    const file = writeConfig(t, levels.join('\n') + '\n');
    const err = configError(() => loadConfig({ file }));
    assert.equal(err.key, '--config');
    assert.match(err.message, /config\.yaml is not usable YAML: .*alias/i);
  });

  test('regression: a top-level __proto__ key was accepted silently; now an unknown key', (t) => {
    const file = writeConfig(t, '__proto__:\n  loopIntervalSeconds: 5\n');
    assert.match(configError(() => loadConfig({ file })).message, /unknown key "__proto__"/);
    const nested = writeConfig(t, 'bgp:\n  __proto__: {enabled: false}\n', 'nested.yaml');
    assert.match(configError(() => loadConfig({ file: nested })).message, /unknown key "bgp\.__proto__"/);
    assert.equal(({} as Record<string, unknown>).loopIntervalSeconds, undefined, 'no prototype pollution');
  });

  test('regression: loopIntervalSeconds: 1e400 said "got number null"', (t) => {
    const file = writeConfig(t, 'loopIntervalSeconds: 1e400\n');
    const msg = configError(() => loadConfig({ file })).message;
    assert.match(msg, /loopIntervalSeconds: .*Infinity \(out of range\)/);
    assert.doesNotMatch(msg, /null/);
  });

  test('regression: a 133 KB garbage file was echoed whole on the error line', (t) => {
    const file = writeConfig(t, 'x'.repeat(133_000) + '\n');
    const msg = configError(() => loadConfig({ file })).message;
    assert.ok(msg.length < 300, `${msg.length} characters`);
    assert.match(msg, /\(133002 characters\)/);
  });
});

void test('regression: a config file with several errors reported only the first; now every one, a line each', (t) => {
  const file = writeConfig(
    t,
    'loopIntervalSeconds: 0\nfrr:\n  origination: bgp\nhttp:\n  address: ":70000"\nlogging:\n  colour: yes\n',
  );
  let err: ConfigError | undefined;
  try {
    loadConfig({ file });
  } catch (e) {
    if (e instanceof ConfigError) err = e;
  }
  assert.ok(err, 'a ConfigError');
  const lines = err.message.split('\n');
  assert.equal(lines.length, 4, err.message);
  for (const key of ['loopIntervalSeconds', 'frr.origination', 'http.address', 'logging'])
    assert.ok(
      lines.some((l) => l.includes(key)),
      `a line names ${key}: ${err.message}`,
    );
  assert.equal(err.key, 'loopIntervalSeconds');
});
