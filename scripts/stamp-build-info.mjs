// Writes dist/build-info.json: the git commit and build date, each falling back to "unknown".
import { execFileSync } from 'node:child_process';
import { writeFileSync, mkdirSync } from 'node:fs';

let commit = process.env.COSMOLET_COMMIT || 'unknown';
if (commit === 'unknown') {
  try {
    commit = execFileSync('git', ['rev-parse', '--short=12', 'HEAD'], { stdio: ['ignore', 'pipe', 'ignore'] })
      .toString()
      .trim();
  } catch {
    commit = 'unknown';
  }
}
const buildDate = process.env.COSMOLET_BUILD_DATE || new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
mkdirSync('dist', { recursive: true });
writeFileSync('dist/build-info.json', JSON.stringify({ commit, buildDate }) + '\n');
