// Where and how to reach the API server, as the kubeconfig and the in-cluster loaders return it.
// A leaf of its own: client.ts loads those two lazily, and they must not import client.ts back.
import { CosmoletError, ErrorCodes } from '../errors.js';
import type { Credentials } from './credentials.js';

export interface LoadKubeClientOptions {
  kubeconfigPath?: string;
  env?: NodeJS.ProcessEnv;
  /** Where the in-cluster service account lives (tests point it elsewhere). */
  serviceAccountDir?: string;
  /** How long an exec credential plugin may run. Default 10 s. */
  execTimeoutMs?: number;
  /** How long a token read from a file is used before the file is read again. Default 10 s. */
  tokenReloadMs?: number;
}

/** Where and how to reach the API server: what a kubeconfig or the service account gives. */
export interface Transport {
  /** Base URL, e.g. https://10.96.0.1:443. */
  server: string;
  /** TLS trust and identity of the server (unused for http://). */
  tls: { ca?: Buffer | string; rejectUnauthorized: boolean; servername?: string };
  credentials: Credentials;
  /** What the operator should know about this transport's safety, logged once at start. */
  warnings?: string[];
}

export function missing(message: string): CosmoletError {
  return new CosmoletError(ErrorCodes.KUBECONFIG_MISSING, message);
}
