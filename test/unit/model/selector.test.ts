// Label and field selector parsing and matching.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  matchesFields,
  matchesLabels,
  parseFieldSelector,
  parseLabelSelector,
} from '../../../src/model/selector.js';
import { SelectorError } from '../../../src/errors.js';

void test('label selectors: every operator, as the API server applies them', () => {
  const m = (sel: string, labels: Record<string, string>): boolean =>
    matchesLabels(parseLabelSelector(sel), labels);
  assert.equal(m('', {}), true);
  assert.equal(m('a=1', { a: '1' }), true);
  assert.equal(m('a==1', { a: '2' }), false);
  assert.equal(m('a!=1', {}), true, 'a missing key satisfies !=');
  assert.equal(m('a!=1', { a: '1' }), false);
  assert.equal(m('a', { a: '' }), true);
  assert.equal(m('!a', { a: '' }), false);
  assert.equal(m('!service.kubernetes.io/service-proxy-name', { app: 'x' }), true);
  assert.equal(m('env in (prod, staging),tier notin (db)', { env: 'prod', tier: 'web' }), true);
  assert.equal(m('env in (prod,staging)', {}), false);
  assert.equal(m('tier notin (db)', {}), true);
  assert.equal(m(' a = 1 , b ', { a: '1', b: 'x' }), true);
  assert.equal(m('a=', { a: '' }), true);
  for (const bad of ['a=1,', '=1', 'a===1', 'a b', 'bad key!=1']) {
    assert.throws(() => parseLabelSelector(bad), SelectorError, bad);
  }
});

void test('field selectors: metadata.name and metadata.namespace only', () => {
  const obj = { metadata: { name: 'node-a', namespace: 'ns' } };
  assert.equal(matchesFields(parseFieldSelector('metadata.name=node-a'), obj), true);
  assert.equal(matchesFields(parseFieldSelector('metadata.name!=node-a'), obj), false);
  assert.equal(matchesFields(parseFieldSelector('metadata.namespace==ns,metadata.name=node-a'), obj), true);
  assert.throws(() => parseFieldSelector('spec.nodeName=x'), /not supported/);
});
