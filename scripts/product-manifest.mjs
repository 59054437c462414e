// The product's own package.json and package-lock.json, without the npm workspaces (the lab and the
// API double, private, never shipped): the image's `npm ci --omit=dev` and both SBOMs read these, so
// the image holds and declares exactly the product's production dependencies. npm's lockfile-only
// SBOM of the full lock, without the workspace folders beside it, leaves out packages the workspaces
// share with the product (yaml) and lists the workspaces themselves.
// Usage: node scripts/product-manifest.mjs DIR   (rewrites DIR/package.json and DIR/package-lock.json)
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const dir = process.argv[2] ?? '.';
const read = (f) => JSON.parse(readFileSync(join(dir, f), 'utf8'));
const write = (f, v) => writeFileSync(join(dir, f), `${JSON.stringify(v, null, 2)}\n`);

const pkg = read('package.json');
delete pkg.workspaces;
write('package.json', pkg);

const lock = read('package-lock.json');
delete lock.packages[''].workspaces;
for (const key of Object.keys(lock.packages)) {
  const entry = lock.packages[key];
  const workspace = key.startsWith('packages/') || key === 'node_modules/cosmolet';
  if (workspace || (entry.link === true && entry.resolved?.startsWith('packages/')))
    delete lock.packages[key];
}
write('package-lock.json', lock);
