// Kubernetes label and field selectors, as the API server applies them: `?labelSelector=` and
// `kubectl -l` syntax (`k`, `!k`, `k=v`, `k==v`, `k!=v`, `k in (a,b)`, `k notin (a,b)`, joined by
// commas) and field selectors on metadata.name / metadata.namespace. One implementation for the
// reflector, the plan (`services.labelSelector`), the config check and the API server double.
import { SelectorError } from '../errors.js';
import type { KubeObject } from './objects.js';

export type Requirement =
  { key: string; op: 'exists' | 'notexists' } | { key: string; op: 'in' | 'notin'; values: string[] };

export type LabelSelector = Requirement[];

const KEY = /^([a-z0-9]([-a-z0-9.]*[a-z0-9])?\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const VALUE = /^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$/;

function splitTopLevel(s: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of s) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      parts.push(cur);
      cur = '';
    } else {
      cur += ch;
    }
  }
  parts.push(cur);
  return parts;
}

function checkKey(key: string): string {
  // Kubernetes: an optional DNS-subdomain prefix (at most 253) and a name (at most 63).
  const slash = key.indexOf('/');
  const prefixLength = slash === -1 ? 0 : slash;
  const nameLength = key.length - slash - 1;
  if (!KEY.test(key) || prefixLength > 253 || nameLength > 63)
    throw new SelectorError(`invalid label key ${JSON.stringify(key)}`);
  return key;
}

function checkValue(v: string): string {
  if (!VALUE.test(v) || v.length > 63) throw new SelectorError(`invalid label value ${JSON.stringify(v)}`);
  return v;
}

/** Parses a selector; throws a SelectorError saying what is wrong. Empty or absent selects everything. */
export function parseLabelSelector(s: string | undefined): LabelSelector {
  const out: LabelSelector = [];
  if (s === undefined || s.trim() === '') return out;
  for (const raw of splitTopLevel(s)) {
    const part = raw.trim();
    if (part === '') throw new SelectorError('empty requirement');
    const set = /^(\S+)\s+(in|notin)\s*\(([^()]*)\)$/.exec(part);
    if (set) {
      const values = (set[3] ?? '').split(',').map((v) => checkValue(v.trim()));
      out.push({ key: checkKey(set[1] ?? ''), op: set[2] === 'in' ? 'in' : 'notin', values });
      continue;
    }
    const cmp = /^([^=!\s]+)\s*(==|=|!=)\s*(\S*)$/.exec(part);
    if (cmp) {
      const op = cmp[2] === '!=' ? 'notin' : 'in';
      out.push({ key: checkKey(cmp[1] ?? ''), op, values: [checkValue(cmp[3] ?? '')] });
      continue;
    }
    if (part.startsWith('!')) {
      out.push({ key: checkKey(part.slice(1).trim()), op: 'notexists' });
      continue;
    }
    out.push({ key: checkKey(part), op: 'exists' });
  }
  return out;
}

export function matchesLabels(selector: LabelSelector, labels: Record<string, string> | undefined): boolean {
  for (const r of selector) {
    const has = labels !== undefined && Object.prototype.hasOwnProperty.call(labels, r.key);
    const value = has ? labels[r.key] : undefined;
    switch (r.op) {
      case 'exists':
        if (!has) return false;
        break;
      case 'notexists':
        if (has) return false;
        break;
      case 'in':
        if (!has || !r.values.includes(value ?? '')) return false;
        break;
      case 'notin':
        // Kubernetes: `k!=v` and `k notin (...)` also match objects without the label.
        if (has && r.values.includes(value ?? '')) return false;
        break;
    }
  }
  return true;
}

export interface FieldRequirement {
  field: 'metadata.name' | 'metadata.namespace';
  op: '=' | '!=';
  value: string;
}

/** Field selectors on metadata.name and metadata.namespace (what every resource supports). */
export function parseFieldSelector(selector: string | undefined): FieldRequirement[] {
  const reqs: FieldRequirement[] = [];
  if (selector === undefined || selector.trim() === '') return reqs;
  for (const term of splitTopLevel(selector).map((t) => t.trim())) {
    const m = /^([^=!\s]+)\s*(==|=|!=)\s*(\S*)$/.exec(term);
    if (!m) throw new SelectorError(`invalid field selector term "${term}"`);
    const field = m[1];
    if (field !== 'metadata.name' && field !== 'metadata.namespace') {
      throw new SelectorError(`field label not supported: ${field}`);
    }
    reqs.push({ field, op: m[2] === '!=' ? '!=' : '=', value: m[3] ?? '' });
  }
  return reqs;
}

export function matchesFields(reqs: FieldRequirement[], obj: KubeObject): boolean {
  for (const r of reqs) {
    const actual = (r.field === 'metadata.name' ? obj.metadata?.name : obj.metadata?.namespace) ?? '';
    if ((actual === r.value) !== (r.op === '=')) return false;
  }
  return true;
}
