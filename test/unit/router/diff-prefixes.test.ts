// diffPrefixes is the one diff of desired against installed routes: the reconciler's full diff
// after a read-back and its incremental diff of the prefixes that flipped are the same function.
// Restricted to some prefixes (`only`), it must say exactly what the whole diff says about them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { diffPrefixes, type PrefixDiff } from '../../../src/router/router.js';
import { seededRandom } from '../plan/seeded-random.js';

function restricted(diff: PrefixDiff, only: ReadonlySet<string>): PrefixDiff {
  const out: PrefixDiff = {
    add: diff.add.filter((p) => only.has(p)),
    remove: diff.remove.filter((p) => only.has(p)),
  };
  const marks = new Map([...(diff.marks ?? [])].filter(([p]) => only.has(p)));
  if (marks.size > 0) out.marks = marks;
  const remark = (diff.remark ?? []).filter((r) => only.has(r.prefix));
  if (remark.length > 0) out.remark = remark;
  return out;
}

test('diffPrefixes restricted to some prefixes equals the whole diff restricted to them (500 random cases)', () => {
  const seed = Number(process.env.COSMOLET_PROPERTY_SEED ?? 24);
  const random = seededRandom(seed);
  const pick = (n: number): number => Math.floor(random() * n);
  for (let i = 0; i < 500; i++) {
    const universe = Array.from({ length: 1 + pick(40) }, (_, k) => `10.96.${i % 256}.${k}/32`);
    const desired = new Map<string, number>();
    const actual = new Map<string, number>();
    const only = new Set<string>();
    for (const p of universe) {
      if (random() < 0.6) desired.set(p, pick(3) * 1000);
      if (random() < 0.6) actual.set(p, pick(3) * 1000);
      if (random() < 0.4) only.add(p);
    }
    const where = `case ${i} (seed ${seed})`;
    assert.deepEqual(
      diffPrefixes(desired, actual, only),
      restricted(diffPrefixes(desired, actual), only),
      where,
    );
    assert.deepEqual(diffPrefixes(desired, actual, universe), diffPrefixes(desired, actual), where);
  }
});
