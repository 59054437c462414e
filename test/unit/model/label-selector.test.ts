// Kubernetes label selectors in their string form (src/plan/label-selector.ts).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { matchesLabels, parseLabelSelector } from '../../../src/model/selector.js';

function m(sel: string, labels: Record<string, string> | undefined): boolean {
  return matchesLabels(parseLabelSelector(sel), labels);
}

describe('parseLabelSelector', () => {
  test('empty or blank selects everything', () => {
    assert.deepEqual(parseLabelSelector(''), []);
    assert.deepEqual(parseLabelSelector('   '), []);
    assert.ok(m('', undefined));
    assert.ok(m(' ', { a: 'b' }));
  });

  test('every operator parses to its requirement', () => {
    assert.deepEqual(parseLabelSelector('a=b, c==d ,e!=f,g,!h,i in (j, k),l notin (m)'), [
      { key: 'a', op: 'in', values: ['b'] },
      { key: 'c', op: 'in', values: ['d'] },
      { key: 'e', op: 'notin', values: ['f'] },
      { key: 'g', op: 'exists' },
      { key: 'h', op: 'notexists' },
      { key: 'i', op: 'in', values: ['j', 'k'] },
      { key: 'l', op: 'notin', values: ['m'] },
    ]);
  });

  test('prefixed keys and spaced operators', () => {
    assert.deepEqual(parseLabelSelector('app.kubernetes.io/name = web'), [
      { key: 'app.kubernetes.io/name', op: 'in', values: ['web'] },
    ]);
    assert.deepEqual(parseLabelSelector('tier in(a)'), [{ key: 'tier', op: 'in', values: ['a'] }]);
  });

  test('malformed selectors throw an Error naming the problem', () => {
    for (const [sel, re] of [
      ['a,', /empty requirement/],
      [',a', /empty requirement/],
      ['a b', /invalid label key/],
      ['-a=b', /invalid label key/],
      ['a=b c', /invalid label/],
      ['a=-b', /invalid label value/],
      ['a in (b c)', /invalid label/],
      ['a=' + 'x'.repeat(64), /invalid label value/],
      ['Example.com/a', /invalid label key/],
      ['in (a)', /invalid label key/],
    ] as const) {
      assert.throws(() => parseLabelSelector(sel), re, sel);
    }
  });

  test('regression: a valid 317-character label key was refused (limits are name 63, prefix 253)', () => {
    const prefix = `${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(61)}`;
    assert.equal(prefix.length, 253);
    const name = 'n'.repeat(63);
    // The longest valid key (253 + 1 + 63 = 317 characters) is accepted.
    assert.deepEqual(parseLabelSelector(`${prefix}/${name}`), [{ key: `${prefix}/${name}`, op: 'exists' }]);
    assert.throws(() => parseLabelSelector('n'.repeat(64)), /invalid label key/);
    assert.throws(() => parseLabelSelector(`e${prefix}/a`), /invalid label key/);
  });
});

describe('matchesLabels', () => {
  const labels = { app: 'web', tier: 'front', empty: '' };

  test('equality and inequality; inequality matches a missing label', () => {
    assert.ok(m('app=web', labels));
    assert.ok(!m('app=db', labels));
    assert.ok(!m('app=web', undefined));
    assert.ok(m('app!=db', labels));
    assert.ok(!m('app!=web', labels));
    assert.ok(m('missing!=x', labels));
    assert.ok(m('empty=', labels));
    assert.ok(!m('app=', labels));
  });

  test('exists and does not exist', () => {
    assert.ok(m('app', labels));
    assert.ok(m('empty', labels));
    assert.ok(!m('missing', labels));
    assert.ok(m('!missing', labels));
    assert.ok(!m('!app', labels));
    assert.ok(m('!app', undefined));
  });

  test('set-based in / notin; notin matches a missing label', () => {
    assert.ok(m('app in (db,web)', labels));
    assert.ok(!m('app in (db)', labels));
    assert.ok(!m('missing in (x)', labels));
    assert.ok(m('app notin (db)', labels));
    assert.ok(!m('app notin (db,web)', labels));
    assert.ok(m('missing notin (x)', labels));
  });

  test('requirements are ANDed', () => {
    assert.ok(m('app=web,tier in (front)', labels));
    assert.ok(!m('app=web,tier in (back)', labels));
  });

  test('inherited properties are not labels', () => {
    assert.ok(!m('toString', {}));
    assert.ok(!m('constructor', labels));
  });
});
