// Object text in and out of the API double: parsing YAML/JSON input, merge patches, copies.
import { parseAllDocuments } from 'yaml';
import type { KubeObject } from 'cosmolet/model/objects';

/** Objects from YAML/JSON text: one object, a List, or several YAML documents (JSON is YAML). */
export function parseObjects(text: string, source = 'input'): KubeObject[] {
  const out: KubeObject[] = [];
  // JSON is YAML, but JSON.parse is two orders of magnitude faster on the large Lists benchmarks load.
  if (/^\s*[[{]/.test(text)) {
    let parsed: unknown;
    let isJson = true;
    try {
      parsed = JSON.parse(text);
    } catch {
      isJson = false;
    }
    if (isJson) {
      collectObjects(parsed, out);
      return out;
    }
  }
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length > 0) throw new Error(`${source}: ${doc.errors[0]?.message ?? 'YAML error'}`);
    collectObjects(doc.toJS(), out);
  }
  return out;
}

function collectObjects(v: unknown, out: KubeObject[]): void {
  if (v === null || typeof v !== 'object') return;
  const o = v as KubeObject & { items?: unknown };
  if (typeof o.kind === 'string' && o.kind.endsWith('List') && Array.isArray(o.items)) {
    for (const item of o.items) collectObjects(item, out);
  } else out.push(o);
}

export function clone<T>(v: T): T {
  return structuredClone(v);
}

/** RFC 7386 JSON merge patch. */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) return clone(patch);
  const base: Record<string, unknown> =
    target !== null && typeof target === 'object' && !Array.isArray(target)
      ? { ...(target as Record<string, unknown>) }
      : {};
  for (const [k, v] of Object.entries(patch as Record<string, unknown>)) {
    if (v === null) delete base[k];
    else base[k] = mergePatch(base[k], v);
  }
  return base;
}
