// The reflector's store: single changes from watch events, the atomic swap of a full list that
// reports only real differences, and every value it lets go of released exactly once.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Store } from '../../../src/kube/store.js';

interface Value {
  name: string;
  version: number;
}

function store(): { s: Store<Value>; released: Value[] } {
  const released: Value[] = [];
  const s = new Store<Value>({ same: (a, b) => a.version === b.version, release: (v) => released.push(v) });
  return { s, released };
}

const v = (name: string, version: number): Value => ({ name, version });

void test('apply: added, modified, unchanged, deleted; the replaced value is released', () => {
  const { s, released } = store();
  const a1 = v('a', 1);
  const a1again = v('a', 1);
  const a2 = v('a', 2);
  assert.deepEqual(s.apply('ns/a', a1), { type: 'added', key: 'ns/a', object: a1 });
  assert.equal(s.apply('ns/a', a1again), undefined, 'alike: no change');
  assert.deepEqual(released, [a1]);
  assert.deepEqual(s.apply('ns/a', a2), { type: 'modified', key: 'ns/a', object: a2, previous: a1again });
  assert.deepEqual(released, [a1, a1again]);
  assert.equal(s.get('ns/a'), a2);
  assert.deepEqual(s.apply('ns/a', undefined), { type: 'deleted', key: 'ns/a', previous: a2 });
  assert.deepEqual(released, [a1, a1again, a2]);
  assert.equal(s.size, 0);
  assert.equal(s.apply('ns/missing', undefined), undefined, 'deleting what is not there changes nothing');
  assert.equal(released.length, 3);
});

void test('replace swaps the whole contents and reports only real differences', () => {
  const { s, released } = store();
  const kept = v('kept', 1);
  const changed = v('changed', 1);
  const gone = v('gone', 1);
  for (const x of [kept, changed, gone]) s.apply(x.name, x);
  const keptAgain = v('kept', 1);
  const changed2 = v('changed', 2);
  const added = v('added', 1);
  const changes = s.replace(
    new Map([
      ['kept', keptAgain],
      ['changed', changed2],
      ['added', added],
    ]),
  );
  assert.deepEqual(changes, [
    { type: 'modified', key: 'changed', object: changed2, previous: changed },
    { type: 'added', key: 'added', object: added },
    { type: 'deleted', key: 'gone', previous: gone },
  ]);
  // Every previous value is let go of, the alike one too (the store now holds the list's).
  assert.deepEqual(released, [kept, changed, gone]);
  assert.equal(s.get('kept'), keptAgain);
  assert.deepEqual(
    s.items().map((x) => x.name),
    ['kept', 'changed', 'added'],
  );
});

void test('replace with the same contents reports nothing', () => {
  const { s } = store();
  s.apply('a', v('a', 1));
  assert.deepEqual(s.replace(new Map([['a', v('a', 1)]])), []);
  assert.deepEqual(s.replace(new Map()), [{ type: 'deleted', key: 'a', previous: v('a', 1) }]);
  assert.equal(s.size, 0);
});
