// `http.address`: HOST:PORT, [IPv6]:PORT or :PORT (all interfaces).
import { isIPv6 } from 'node:net';

export interface HttpAddress {
  /** undefined = all interfaces */
  host: string | undefined;
  port: number;
}

/** Parses the address, or returns what is wrong with it. */
/** Port 0 (any free port) is only for tests: the config requires 1 to 65535. */
export function parseHttpAddress(s: string, allowPortZero = false): HttpAddress | string {
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:[\]]*)):([0-9]{1,5})$/.exec(s);
  if (!m) return 'not HOST:PORT';
  const port = Number(m[3]);
  if (port < (allowPortZero ? 0 : 1) || port > 65535) return 'port out of range';
  if (m[1] !== undefined && !isIPv6(m[1])) return 'not an IPv6 address in brackets';
  const host = m[1] ?? m[2];
  return { host: host === '' || host === undefined ? undefined : host, port };
}
