// The API double's HTTP vocabulary: Status errors and bodies, JSON replies, request bodies.
import type http from 'node:http';

/** A request the double refuses: answered as a Kubernetes Status with this code and reason. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly reason: string,
    message: string,
    readonly retryAfterSeconds?: number,
    /** The Status's `details` (name, group, kind, causes) as kube-apiserver fills them in. */
    readonly details?: Record<string, unknown>,
    /** The Status's `metadata` (a 410 for an expired continue token carries one to go on with). */
    readonly metadata?: Record<string, unknown>,
  ) {
    super(message);
  }
}

/** What kube-apiserver's Status `details` name: the object, its API group (not for core) and resource. */
export function objectDetails(info: { name: string; group: string }, name?: string): Record<string, unknown> {
  return {
    ...(name !== undefined ? { name } : {}),
    ...(info.group ? { group: info.group } : {}),
    kind: info.name,
  };
}

/** A resource as kube-apiserver's messages name it: `services`, `endpointslices.discovery.k8s.io`. */
export function qualifiedResource(info: { name: string; group: string }): string {
  return info.group ? `${info.name}.${info.group}` : info.name;
}

/** 404 as kube-apiserver answers it for a missing object. */
export function notFound(info: { name: string; group: string }, name: string): HttpError {
  return new HttpError(
    404,
    'NotFound',
    `${qualifiedResource(info)} "${name}" not found`,
    undefined,
    objectDetails(info, name),
  );
}

export interface StatusBody {
  kind: 'Status';
  apiVersion: 'v1';
  metadata: Record<string, unknown>;
  status: 'Failure' | 'Success';
  message: string;
  reason: string;
  code: number;
  details?: Record<string, unknown>;
}

export function statusBody(code: number, reason: string, message: string): StatusBody {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code };
}

export function goneStatus(message: string): StatusBody {
  return statusBody(410, 'Expired', message);
}

export function reasonFor(status: number): string {
  const reasons: Record<number, string> = {
    400: 'BadRequest',
    401: 'Unauthorized',
    403: 'Forbidden',
    404: 'NotFound',
    409: 'Conflict',
    410: 'Expired',
    429: 'TooManyRequests',
    500: 'InternalError',
    503: 'ServiceUnavailable',
    504: 'Timeout',
  };
  return reasons[status] ?? 'Unknown';
}

export function sendJson(
  res: http.ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  sendText(res, status, JSON.stringify(body), headers);
}

export function sendText(
  res: http.ServerResponse,
  status: number,
  text: string,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, {
    'Content-Type': 'application/json',
    'Content-Length': String(Buffer.byteLength(text)),
    ...headers,
  });
  res.end(text);
}

export function sendStatus(
  res: http.ServerResponse,
  code: number,
  reason: string,
  message: string,
  retryAfter?: number,
  details?: Record<string, unknown>,
  metadata?: Record<string, unknown>,
): void {
  const headers: Record<string, string> =
    retryAfter !== undefined ? { 'Retry-After': String(retryAfter) } : {};
  const body = statusBody(code, reason, message);
  if (metadata) body.metadata = metadata;
  if (details || retryAfter !== undefined)
    body.details = { ...details, ...(retryAfter !== undefined ? { retryAfterSeconds: retryAfter } : {}) };
  sendJson(res, code, body, headers);
}

/** Answers a refused request with its Status (code, reason, details, metadata, Retry-After). */
export function sendError(res: http.ServerResponse, err: HttpError): void {
  sendStatus(res, err.status, err.reason, err.message, err.retryAfterSeconds, err.details, err.metadata);
}

export function parseJson(body: string): unknown {
  try {
    return JSON.parse(body);
  } catch {
    throw new HttpError(400, 'BadRequest', 'the request body is not valid JSON');
  }
}

export async function readBody(req: http.IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
