// Kubernetes label and field selectors: parsing and matching, as the API server applies them.
// Used by the API test double; `render` can use parseLabelSelector for `services.labelSelector`.
import { CosmoletError, ErrorCodes } from '../errors.js';
import type { KubeObject } from './types.js';

export type LabelRequirement =
  | { op: 'exists' | '!exists'; key: string }
  | { op: '=' | '!='; key: string; value: string }
  | { op: 'in' | 'notin'; key: string; values: string[] };

export type LabelSelector = LabelRequirement[];

/** A malformed selector: the API answers 400 BadRequest for it. */
export class SelectorError extends CosmoletError {
  constructor(message: string) {
    super(ErrorCodes.KUBE_API, message);
  }
}

// Label keys: optional DNS prefix, then a name of [A-Za-z0-9._-]; values may be empty.
const KEY = /^([a-z0-9]([-a-z0-9.]*[a-z0-9])?\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const VALUE = /^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$/;

/** Splits on commas that are not inside parentheses (`a in (x,y),b`). */
function splitTerms(selector: string): string[] {
  const terms: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < selector.length; i++) {
    const c = selector[i];
    if (c === '(') depth++;
    else if (c === ')') depth--;
    else if (c === ',' && depth === 0) {
      terms.push(selector.slice(start, i));
      start = i + 1;
    }
  }
  terms.push(selector.slice(start));
  return terms.map((t) => t.trim());
}

function checkKey(key: string, selector: string): string {
  if (!KEY.test(key)) throw new SelectorError(`invalid label key "${key}" in selector "${selector}"`);
  return key;
}

function checkValue(value: string, selector: string): string {
  if (!VALUE.test(value)) throw new SelectorError(`invalid label value "${value}" in selector "${selector}"`);
  return value;
}

export function parseLabelSelector(selector: string | undefined): LabelSelector {
  const reqs: LabelSelector = [];
  if (selector === undefined || selector.trim() === '') return reqs;
  for (const term of splitTerms(selector)) {
    if (term === '') throw new SelectorError(`empty term in label selector "${selector}"`);
    const setMatch = /^(\S+)\s+(in|notin)\s*\(([^)]*)\)$/.exec(term);
    if (setMatch) {
      const values = (setMatch[3] ?? '').split(',').map((v) => checkValue(v.trim(), selector));
      reqs.push({
        op: setMatch[2] === 'in' ? 'in' : 'notin',
        key: checkKey(setMatch[1] ?? '', selector),
        values,
      });
      continue;
    }
    const eq = /^([^=!\s]+)\s*(==|=|!=)\s*(\S*)$/.exec(term);
    if (eq) {
      const op = eq[2] === '!=' ? '!=' : '=';
      reqs.push({ op, key: checkKey(eq[1] ?? '', selector), value: checkValue(eq[3] ?? '', selector) });
      continue;
    }
    if (term.startsWith('!')) {
      reqs.push({ op: '!exists', key: checkKey(term.slice(1).trim(), selector) });
      continue;
    }
    reqs.push({ op: 'exists', key: checkKey(term, selector) });
  }
  return reqs;
}

export function matchesLabels(selector: LabelSelector, labels: Record<string, string> | undefined): boolean {
  const l = labels ?? {};
  for (const r of selector) {
    const has = Object.prototype.hasOwnProperty.call(l, r.key);
    const v = l[r.key];
    switch (r.op) {
      case 'exists':
        if (!has) return false;
        break;
      case '!exists':
        if (has) return false;
        break;
      case '=':
        if (!has || v !== r.value) return false;
        break;
      case '!=':
        // As in Kubernetes: a missing key satisfies `!=`.
        if (has && v === r.value) return false;
        break;
      case 'in':
        if (!has || !r.values.includes(v ?? '')) return false;
        break;
      case 'notin':
        if (has && r.values.includes(v ?? '')) return false;
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
  for (const term of splitTerms(selector)) {
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
