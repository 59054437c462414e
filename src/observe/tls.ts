// The serving certificate of the HTTP endpoints (http.tls.certFile / keyFile). cert-manager and the
// kubelet's Secret volume update the files in place, so the pair is re-read when either file's mtime
// changes (checked at most every RELOAD_CHECK_MS, on the next TLS handshake) and handed to
// `server.setSecureContext`; a pair that does not load (half-written, key and certificate apart)
// keeps the previous one and is logged, never taken down the server.
import { readFileSync, statSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { createSecureContext } from 'node:tls';
import { ConfigError, errorMessage } from '../errors.js';
import type { Logger } from '../logger.js';

export interface TlsFiles {
  certFile: string;
  keyFile: string;
}

/** How often, at most, the files' mtimes are looked at. A rotation is served within this. */
export const RELOAD_CHECK_MS = 5_000;

export interface ServingPair {
  cert: Buffer;
  key: Buffer;
}

/** A TLS handshake not done by then is dropped, as a request's headers are (http.ts). */
const HANDSHAKE_TIMEOUT_MS = 10_000;

/** The HTTP endpoints' server: plain HTTP, or HTTPS with the pair (reloaded when it changes). */
export function createServer(
  files: TlsFiles | undefined,
  logger: Logger,
  options: http.ServerOptions,
  listener: http.RequestListener,
): http.Server {
  if (!files) return http.createServer(options, listener);
  const server = https.createServer(
    { ...options, ...loadServingPair(files), handshakeTimeout: HANDSHAKE_TIMEOUT_MS },
    listener,
  );
  const reload = watchServingPair(server, files, logger);
  // Before tls.Server's own listener, so this very connection gets a rotated pair.
  server.prependListener('connection', () => reload.check());
  return server;
}

/** Reads the pair and checks that the key belongs to the certificate (createSecureContext does). */
export function readServingPair(files: TlsFiles): ServingPair {
  const cert = readFileSync(files.certFile);
  const key = readFileSync(files.keyFile);
  createSecureContext({ cert, key });
  return { cert, key };
}

/** The pair at start: an unreadable or mismatched pair is a config error naming the key. */
export function loadServingPair(files: TlsFiles): ServingPair {
  try {
    return readServingPair(files);
  } catch (err) {
    throw new ConfigError(
      'http.tls.certFile',
      `http.tls.certFile / http.tls.keyFile: cannot load ${files.certFile} and ${files.keyFile}: ${errorMessage(err)}`,
    );
  }
}

function mtimes(files: TlsFiles): string {
  try {
    return `${statSync(files.certFile).mtimeMs} ${statSync(files.keyFile).mtimeMs}`;
  } catch {
    return 'missing';
  }
}

/**
 * Re-reads the pair into `server` when the files change. Call `check()` before a handshake (the
 * server's 'connection' event does); it stats the files at most every `intervalMs`.
 */
export function watchServingPair(
  server: https.Server,
  files: TlsFiles,
  logger: Logger,
  options: { intervalMs?: number; now?: () => number } = {},
): { check(): void } {
  const interval = options.intervalMs ?? RELOAD_CHECK_MS;
  const now = options.now ?? Date.now;
  let seen = mtimes(files);
  let checkedAt = now();
  return {
    check(): void {
      if (now() - checkedAt < interval) return;
      checkedAt = now();
      const m = mtimes(files);
      if (m === seen) return;
      try {
        const pair = readServingPair(files);
        server.setSecureContext(pair);
        seen = m;
        logger.info({ certFile: files.certFile }, 'serving certificate reloaded');
      } catch (err) {
        // Likely mid-rotation (one file written, not the other): keep serving the old pair, try again.
        logger.warn(
          { certFile: files.certFile, err: errorMessage(err) },
          'serving certificate changed but does not load; keeping the previous one',
        );
      }
    },
  };
}
