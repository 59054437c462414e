// Reads a cluster snapshot for `render`: a Kubernetes List (kubectl get ... -o yaml|json), a
// multi-document YAML stream, or single objects; nested Lists are flattened.
import { readFileSync } from 'node:fs';
import { LineCounter, parseAllDocuments } from 'yaml';
import { SnapshotError, errorMessage } from '../errors.js';
import type { EndpointSlice, KubeObject, Node, Service } from '../kube/types.js';

export interface Snapshot {
  services: Service[];
  endpointSlices: EndpointSlice[];
  nodes: Node[];
  /** Objects of other kinds, counted so the user can be told they were ignored. */
  ignored: number;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function collect(value: unknown, out: Snapshot): void {
  if (value === null || value === undefined) return;
  if (Array.isArray(value)) {
    for (const v of value) collect(v, out);
    return;
  }
  if (!isObject(value)) {
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

/** Parses snapshot text (YAML is a superset of JSON); throws SnapshotError with file:line:col. */
export function parseSnapshot(text: string, file: string): Snapshot {
  const out: Snapshot = { services: [], endpointSlices: [], nodes: [], ignored: 0 };
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
    const value: unknown = doc.toJS({ maxAliasCount: 1000 });
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

export function readSnapshot(file: string): Snapshot {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new SnapshotError(`--snapshot: cannot read ${file}: ${errorMessage(err)}`, { cause: err });
  }
  return parseSnapshot(text, file);
}
