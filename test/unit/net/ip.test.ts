// Strict IP parsing, RFC 5952 canonical form, ordering and CIDRs (src/net/ip.ts).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  cidrContains,
  compareIP,
  familyOf,
  formatIPv6,
  hostPrefix,
  isSpecialPurpose,
  parseCIDR,
  parseIP,
  parseIPv4,
  parseIPv6,
  parseServiceIP,
  type CIDR,
  type IP,
} from '../../../src/net/ip.js';
import { hostPrefixOf } from '../../../src/net/prefix.js';

function ip(s: string): IP {
  const r = parseIP(s);
  assert.ok(r, `${s} should parse`);
  return r;
}

function cidr(s: string): CIDR {
  const r = parseCIDR(s);
  if (typeof r === 'string') assert.fail(`${s} should parse: ${r}`);
  return r;
}

describe('parseIP: IPv4', () => {
  test('plain dotted quads parse, with their numeric value', () => {
    for (const [s, v] of [
      ['0.0.0.0', 0],
      ['10.96.0.10', 0x0a60000a],
      ['255.255.255.255', 0xffffffff],
      ['192.0.2.1', 0xc0000201],
    ] as const) {
      const r = parseIPv4(s);
      assert.deepEqual(r, { family: 'ipv4', value: v, text: s });
    }
  });

  test('leading zeros, out of range, wrong shapes, spaces and suffixes are refused', () => {
    for (const s of [
      '010.0.0.1',
      '10.0.0.01',
      '00.0.0.0',
      '256.0.0.1',
      '1.2.3',
      '1.2.3.4.5',
      '1..2.3',
      '1.2.3.',
      '',
      ' 1.2.3.4',
      '1.2.3.4 ',
      '1.2.3.4/32',
      '+1.2.3.4',
      '1.2.3.-4',
      '0x1.2.3.4',
      '1e2.0.0.1',
      'a.b.c.d',
      '1.2.3.4%eth0',
      // Edges of the character-loop parser.
      '.1.2.3',
      '1.2.3.4.',
      '1.2.3.256',
      '1.2.3.00',
      '1.2.3.0001',
      '1.2.3.1000',
      '\u0661.2.3.4',
      '1.2.3.4\n',
      '....',
    ]) {
      assert.equal(parseIP(s), undefined, JSON.stringify(s));
    }
  });
});

describe('parseIP: IPv6', () => {
  test('canonical form (RFC 5952): lower case, no leading zeros, longest zero run compressed', () => {
    const cases: [string, string][] = [
      ['2001:0DB8:0000:0000:0000:0000:0000:0001', '2001:db8::1'],
      ['FD00::A', 'fd00::a'],
      ['fd00:0:0:0:0:0:0:10', 'fd00::10'],
      ['0:0:0:0:0:0:0:0', '::'],
      ['::', '::'],
      ['::1', '::1'],
      ['1::', '1::'],
      ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'], // one zero group is not compressed
      ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'], // tie: the first run
      ['2001:0:0:1:0:0:0:1', '2001:0:0:1::1'], // the longest run
      ['1:2:3:4:5:6:7::', '1:2:3:4:5:6:7:0'],
      ['::2:3:4:5:6:7:8', '0:2:3:4:5:6:7:8'],
      ['0001:0002:0003:0004:0005:0006:0007:0008', '1:2:3:4:5:6:7:8'],
      ['64:ff9b::192.0.2.1', '64:ff9b::c000:201'],
      ['1:2:3:4:5:6:1.2.3.4', '1:2:3:4:5:6:102:304'],
    ];
    for (const [input, want] of cases) assert.equal(ip(input).text, want, input);
  });

  test('zones, prefix lengths, IPv4-mapped, bad groups and bad shapes are refused', () => {
    for (const s of [
      'fe80::1%eth0',
      'fe80::1%1',
      'fd00::1/128',
      '::ffff:192.0.2.1',
      '::ffff:c000:201',
      '0:0:0:0:0:ffff:192.0.2.1',
      '::FFFF:1.2.3.4',
      '1:2:3:4:5:6:7:8:9',
      '1:2:3:4:5:6:7',
      '1::2:3:4:5:6:7:8',
      ':::',
      '1:::2',
      '1::2::3',
      ':1:2:3:4:5:6:7',
      '1:2:3:4:5:6:7:',
      '12345::1',
      'g::1',
      '::1.2.3.04',
      '::1.2.3',
      '1.2.3.4::',
      '[::1]',
      ' ::1',
      ':',
    ]) {
      assert.equal(parseIP(s), undefined, JSON.stringify(s));
    }
    assert.equal(parseIPv6('1.2.3.4'), undefined);
    assert.equal(parseIP(undefined as unknown as string), undefined);
  });

  test('groups are the eight 16-bit values', () => {
    assert.deepEqual(
      parseIPv6('2001:db8::ff00:42:8329')?.groups,
      [0x2001, 0xdb8, 0, 0, 0, 0xff00, 0x42, 0x8329],
    );
  });

  test('formatIPv6 straight from groups', () => {
    assert.equal(formatIPv6([0, 0, 0, 0, 0, 0, 0, 1]), '::1');
    assert.equal(formatIPv6([1, 0, 1, 0, 1, 0, 1, 0]), '1:0:1:0:1:0:1:0');
    assert.equal(formatIPv6([0xabcd, 0, 0, 0xef, 0, 0, 0, 0]), 'abcd:0:0:ef::');
  });
});

describe('hostPrefix and compareIP', () => {
  test('/32 for IPv4, /128 for IPv6 in canonical form', () => {
    assert.equal(hostPrefix(ip('10.0.0.1')), '10.0.0.1/32');
    assert.equal(hostPrefix(ip('FD00:0::1')), 'fd00::1/128');
  });

  test('IPv4 before IPv6, then numerically', () => {
    const input = [
      'fd00::10',
      '10.0.0.10',
      '::1',
      'fd00::9',
      '10.0.0.9',
      '9.255.255.255',
      '255.0.0.0',
      'fd00::a',
    ];
    const sorted = input
      .map(ip)
      .sort(compareIP)
      .map((x) => x.text);
    assert.deepEqual(sorted, [
      '9.255.255.255',
      '10.0.0.9',
      '10.0.0.10',
      '255.0.0.0',
      '::1',
      'fd00::9',
      'fd00::a',
      'fd00::10',
    ]);
    assert.equal(compareIP(ip('fd00::1'), ip('FD00:0:0::1')), 0);
  });
});

describe('parseCIDR and cidrContains', () => {
  test('valid CIDRs of both families', () => {
    for (const [s, text] of [
      ['10.0.0.0/8', '10.0.0.0/8'],
      ['0.0.0.0/0', '0.0.0.0/0'],
      ['192.0.2.1/32', '192.0.2.1/32'],
      ['::/0', '::/0'],
      ['2001:DB8::/32', '2001:db8::/32'],
      ['fd00::1/128', 'fd00::1/128'],
      ['fd00:0:0:8000::/49', 'fd00:0:0:8000::/49'],
    ] as const) {
      assert.equal(cidr(s).text, text, s);
    }
  });

  test('host bits, bad lengths and bad addresses are refused with a reason', () => {
    const cases: [string, RegExp][] = [
      ['10.0.0.1/24', /host bits/],
      ['11.0.0.0/7', /host bits/],
      ['fd00::1/64', /host bits/],
      ['fd00:0:0:8000::/48', /host bits/],
      ['10.0.0.0', /missing prefix length/],
      ['10.0.0.0/33', /0 to 32/],
      ['fd00::/129', /0 to 128/],
      ['10.0.0.0/08', /0 to 32/],
      ['10.0.0.0/', /0 to 32/],
      ['10.0.0.0/-1', /0 to 32/],
      ['10.0.0.0/8/8', /0 to 32/],
      ['010.0.0.0/8', /not an IPv4 or IPv6/],
      ['::ffff:0:0/96', /not an IPv4 or IPv6/],
      ['/8', /not an IPv4 or IPv6/],
      ['fe80::%eth0/64', /not an IPv4 or IPv6/],
    ];
    for (const [s, re] of cases) {
      const r = parseCIDR(s);
      assert.equal(typeof r, 'string', s);
      assert.match(r as string, re, s);
    }
  });

  test('containment at the edges, per family', () => {
    const v4 = cidr('192.0.2.0/24');
    assert.ok(cidrContains(v4, ip('192.0.2.0')));
    assert.ok(cidrContains(v4, ip('192.0.2.255')));
    assert.ok(!cidrContains(v4, ip('192.0.3.0')));
    assert.ok(!cidrContains(v4, ip('192.0.1.255')));
    assert.ok(cidrContains(cidr('0.0.0.0/0'), ip('255.255.255.255')));
    assert.ok(cidrContains(cidr('128.0.0.0/1'), ip('200.0.0.1')));
    assert.ok(!cidrContains(cidr('128.0.0.0/1'), ip('127.255.255.255')));
    assert.ok(cidrContains(cidr('10.0.0.1/32'), ip('10.0.0.1')));
    assert.ok(!cidrContains(cidr('10.0.0.1/32'), ip('10.0.0.2')));
    const v6 = cidr('2001:db8:8000::/33');
    assert.ok(cidrContains(v6, ip('2001:db8:8000::1')));
    assert.ok(cidrContains(v6, ip('2001:db8:ffff:ffff:ffff:ffff:ffff:ffff')));
    assert.ok(!cidrContains(v6, ip('2001:db8:7fff::1')));
    assert.ok(cidrContains(cidr('::/0'), ip('ffff::1')));
    assert.ok(cidrContains(cidr('fd00::/8'), ip('fdff::1')));
    assert.ok(!cidrContains(cidr('fd00::/8'), ip('fe00::1')));
    // Never across families.
    assert.ok(!cidrContains(cidr('0.0.0.0/0'), ip('::1')));
    assert.ok(!cidrContains(cidr('::/0'), ip('10.0.0.1')));
  });
});

// docs/decisions.md rule 2: each special-purpose range, its first and last address and a neighbour just outside.
describe('special-purpose ranges (regression: render planned 0.0.0.0/32, 127.0.0.1/32, ::1/128...)', () => {
  const ranges: { range: string; inside: string[]; outside: string[] }[] = [
    { range: '0.0.0.0/8', inside: ['0.0.0.0', '0.255.255.255'], outside: ['1.0.0.0'] },
    {
      range: '127.0.0.0/8',
      inside: ['127.0.0.0', '127.0.0.1', '127.255.255.255'],
      outside: ['126.255.255.255', '128.0.0.0'],
    },
    {
      range: '169.254.0.0/16',
      inside: ['169.254.0.0', '169.254.169.254', '169.254.255.255'],
      outside: ['169.253.255.255', '169.255.0.0'],
    },
    {
      range: '224.0.0.0/4',
      inside: ['224.0.0.0', '224.0.0.1', '239.255.255.255'],
      outside: ['223.255.255.255'],
    },
    {
      range: '240.0.0.0/4',
      inside: ['240.0.0.0', '250.1.2.3', '255.255.255.254', '255.255.255.255'],
      outside: [],
    },
    { range: '::/128', inside: ['::', '0:0:0:0:0:0:0:0', '::0.0.0.0'], outside: ['::2'] },
    { range: '::1/128', inside: ['::1', '0:0:0:0:0:0:0:1', '0000::0001'], outside: ['::1:0', '1::'] },
    { range: '::ffff:0:0/96 (IPv4-mapped)', inside: [], outside: ['::fffe:ffff:ffff', '::1:0:0:0'] },
    {
      range: '::ffff:0:0:0/96 (IPv4-translated)',
      inside: ['::ffff:0:a00:1', '::ffff:0:10.0.0.1', '0:0:0:0:FFFF:0:0:0', '::ffff:0:ffff:ffff'],
      outside: ['::ffff:1:0:0', '::fffe:0:0:0', '0:0:0:1:ffff:0:0:0'],
    },
    {
      range: 'fe80::/10',
      inside: ['fe80::', 'fe80::1', 'FEBF:ffff:ffff:ffff:ffff:ffff:ffff:ffff'],
      outside: ['fe7f::1', 'fec0::1'],
    },
    {
      range: 'ff00::/8',
      inside: ['ff00::', 'ff02::1', 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff'],
      outside: ['feff::1'],
    },
  ];
  for (const { range, inside, outside } of ranges) {
    test(`${range}: inside is special and invalid as a Service IP, the neighbours are not`, () => {
      for (const s of inside) {
        assert.equal(isSpecialPurpose(ip(s)), true, s);
        assert.equal(parseServiceIP(s), undefined, s);
      }
      for (const s of outside) {
        assert.equal(isSpecialPurpose(ip(s)), false, s);
        assert.deepEqual(parseServiceIP(s), ip(s), s);
      }
    });
  }

  test('IPv4-mapped addresses never parse at all, in any spelling', () => {
    for (const s of [
      '::ffff:10.0.0.1',
      '::ffff:a00:1',
      '0:0:0:0:0:ffff:a00:1',
      '::FFFF:0.0.0.0',
      '::ffff:ffff:ffff',
    ]) {
      assert.equal(parseIP(s), undefined, s);
      assert.equal(parseServiceIP(s), undefined, s);
    }
    // Built from groups (as no parser gives them), they are still special-purpose.
    const mapped: IP = { family: 'ipv6', groups: [0, 0, 0, 0, 0, 0xffff, 0x0a00, 1], text: '::ffff:a00:1' };
    assert.equal(isSpecialPurpose(mapped), true);
  });

  test('ordinary Service addresses of both families stay valid', () => {
    for (const s of [
      '10.96.0.10',
      '192.0.2.1',
      '1.1.1.1',
      '223.255.255.255',
      'fd00::10',
      '2001:db8::1',
      '64:ff9b::192.0.2.1',
      'fec0::1',
    ]) {
      assert.deepEqual(parseServiceIP(s), ip(s), s);
    }
  });

  test('the CIDR and allowedCIDRs parsing is not affected (0.0.0.0/0 and ::/0 admit everything)', () => {
    assert.equal(cidr('0.0.0.0/0').text, '0.0.0.0/0');
    assert.equal(cidr('::/0').text, '::/0');
  });
});

describe('familyOf and hostPrefixOf', () => {
  void test('only IPv6 text has a colon; host prefixes are /32 and /128', () => {
    assert.equal(familyOf('10.96.0.10'), 'ipv4');
    assert.equal(familyOf('10.96.0.10/32'), 'ipv4');
    assert.equal(familyOf('fd00:10:96::a'), 'ipv6');
    assert.equal(familyOf('fd00:10:96::a/128'), 'ipv6');
    assert.equal(hostPrefixOf('10.96.0.10'), '10.96.0.10/32');
    assert.equal(hostPrefixOf('fd00:10:96::a'), 'fd00:10:96::a/128');
  });
});
