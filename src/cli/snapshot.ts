// Reads a cluster snapshot for `render`: a Kubernetes List (kubectl get ... -o yaml|json), a
// multi-document YAML stream, or single objects; nested Lists are flattened.
import { readFileSync, statSync } from 'node:fs';
import { getHeapStatistics } from 'node:v8';
import { LineCounter, parseAllDocuments } from 'yaml';
import { SnapshotError, errorMessage } from '../errors.js';
import type { EndpointSlice, KubeObject, Node, Service } from '../model/objects.js';
import { parseKubectlYaml, Unsupported } from './kubectl-yaml.js';
import { isRecord } from '../model/json.js';

export interface Snapshot {
  services: Service[];
  endpointSlices: EndpointSlice[];
  nodes: Node[];
  /** Objects of other kinds, counted so the user can be told they were ignored. */
  ignored: number;
}

function collect(value: unknown, out: Snapshot): void {
  if (value === null || value === undefined) return;
  if (Array.isArray(value)) {
    for (const v of value) collect(v, out);
    return;
  }
  if (!isRecord(value)) {
    out.ignored++;
    return;
  }
  const kind = value.kind;
  if (typeof kind === 'string' && kind.endsWith('List') && Array.isArray(value.items)) {
    collect(value.items, out);
    return;
  }
  const obj = value as KubeObject;
  if (kind === 'Service') out.services.push(obj);
  else if (kind === 'EndpointSlice') out.endpointSlices.push(obj);
  else if (kind === 'Node') out.nodes.push(obj);
  else out.ignored++;
}

/** Above this, a JSON snapshot that does not parse is not handed to the YAML parser for a position. */
const YAML_FALLBACK_LIMIT = 16 << 20;

/**
 * Parses snapshot text; throws SnapshotError with file:line:col. JSON is read as JSON, kubectl's
 * YAML with the fast reader (kubectl-yaml.ts); only other YAML goes through the full parser, whose
 * document model costs about 70 times the text's size.
 */
export function parseSnapshot(text: string, file: string): Snapshot {
  const out: Snapshot = { services: [], endpointSlices: [], nodes: [], ignored: 0 };
  const first = /\S/.exec(text)?.[0];
  if (first === '{' || first === '[') {
    try {
      collect(JSON.parse(text), out);
      return out;
    } catch (err) {
      if (text.length > YAML_FALLBACK_LIMIT) {
        throw new SnapshotError(`${file}: malformed JSON snapshot: ${errorMessage(err)}`);
      }
      // Small: let the YAML parser say where it breaks (and accept YAML flow syntax).
    }
  }
  let fast: unknown;
  try {
    fast = parseKubectlYaml(text);
  } catch (err) {
    if (!(err instanceof Unsupported)) throw err;
  }
  if (fast !== undefined) {
    if (fast !== null && typeof fast !== 'object') {
      throw new SnapshotError(
        `${file}:1:1: malformed snapshot: expected a Kubernetes List or objects, got a ${typeof fast}`,
      );
    }
    collect(fast, out);
    return out;
  }
  guardHeap(
    text.length * 80,
    file,
    'as general YAML (use kubectl get ... -o json, or plain kubectl -o yaml output)',
  );
  const lineCounter = new LineCounter();
  const docs = parseAllDocuments(text, { prettyErrors: true, lineCounter });
  if (!Array.isArray(docs)) {
    collect(docs, out);
    return out;
  }
  for (const doc of docs) {
    const err = doc.errors[0];
    if (err) {
      const pos = err.linePos?.[0];
      const where = pos ? `${file}:${pos.line}:${pos.col}` : file;
      throw new SnapshotError(`${where}: malformed snapshot: ${err.message.split('\n')[0]}`);
    }
    let value: unknown;
    try {
      value = doc.toJS({ maxAliasCount: 1000 });
    } catch (e) {
      // e.g. an alias bomb ("Excessive alias count"): the user's file, so exit 2 naming it.
      throw new SnapshotError(`${file}: malformed snapshot: ${errorMessage(e)}`);
    }
    if (value !== null && value !== undefined && typeof value !== 'object') {
      // A text file or a bare scalar is not a snapshot: say so instead of printing an empty plan.
      const pos = lineCounter.linePos(doc.contents?.range[0] ?? 0);
      throw new SnapshotError(
        `${file}:${pos.line}:${pos.col}: malformed snapshot: expected a Kubernetes List or objects, got a ${typeof value}`,
      );
    }
    collect(value, out);
  }
  return out;
}

/**
 * The old space's limit, where parsed objects live. V8's heap_size_limit also counts the young
 * generation: with --max-old-space-size=64, Node 20 reports 112 MB and Node 24 256 MB.
 */
function oldSpaceLimit(): number {
  const limit = getHeapStatistics().heap_size_limit;
  let mb: number | undefined;
  for (const f of [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)]) {
    const m = /^--max[-_]old[-_]space[-_]size=(\d+)$/.exec(f);
    if (m) mb = Number(m[1]);
  }
  return mb === undefined ? limit : Math.min(limit, mb * 1048576);
}

/** Fails with one clear line when `bytes` would not fit the heap (instead of V8's fatal abort). */
function guardHeap(bytes: number, file: string, how: string): void {
  const limit = oldSpaceLimit();
  if (bytes > limit * 0.8) {
    const mb = (n: number) => `${Math.round(n / 1048576)} MB`;
    throw new SnapshotError(
      `${file}: too large to read ${how}: needs about ${mb(bytes)}, the heap limit is ${mb(limit)} ` +
        '(raise it with NODE_OPTIONS=--max-old-space-size=MB, or snapshot fewer kinds/namespaces)',
    );
  }
}

export function readSnapshot(file: string): Snapshot {
  let text: string;
  try {
    // JSON.parse and the fast reader need about 5 times the file's size.
    guardHeap(statSync(file).size * 5, file, 'at all');
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if (err instanceof SnapshotError) throw err;
    throw new SnapshotError(`--snapshot: cannot read ${file}: ${errorMessage(err)}`, { cause: err });
  }
  return parseSnapshot(text, file);
}
