// Parser for `gobgp global rib -a <afi> -j`: an object keyed by prefix (GoBGP 3.x), each with a
// list of paths. Older releases printed a list of destinations; both are accepted.
import { parsePrefix } from 'cosmolet/net/prefix';
import { RouterParseError } from 'cosmolet/errors';
import { isRecord } from 'cosmolet/model/json';

export function parseGobgpRib(stdout: string): string[] {
  const text = stdout.trim();
  if (text === '' || text === 'null') return [];
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new RouterParseError(`gobgp rib: not JSON: ${text.slice(0, 200)}`);
  }
  const keys: string[] = [];
  if (isRecord(json)) keys.push(...Object.keys(json));
  else if (Array.isArray(json)) {
    for (const d of json as unknown[]) if (isRecord(d) && typeof d.prefix === 'string') keys.push(d.prefix);
  } else throw new RouterParseError('gobgp rib: unexpected JSON');
  return keys.map((k) => {
    const p = parsePrefix(k);
    if (p === undefined) throw new RouterParseError(`gobgp rib: bad prefix ${JSON.stringify(k)}`);
    return p.prefix;
  });
}
