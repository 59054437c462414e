// A reflector's objects by key (namespace/name), as client-go's cache.Store: single changes from
// watch events, and the atomic swap of a full list that reports only real differences. The store
// owns what it holds: every value it lets go of (replaced, deleted, swapped out) goes to `release`,
// so projections holding shared resources (interned names) give them back.

export type ReflectorChange<T> =
  | { type: 'added'; key: string; object: T }
  | { type: 'modified'; key: string; object: T; previous: T }
  | { type: 'deleted'; key: string; previous: T };

export interface StoreOptions<T> {
  /** Whether two values are alike: an update that changes nothing kept is no change. */
  same: (a: T, b: T) => boolean;
  /** Called once for each value the store lets go of; must not throw. */
  release: (value: T) => void;
}

export class Store<T> {
  private objects = new Map<string, T>();

  constructor(private readonly options: StoreOptions<T>) {}

  get(key: string): T | undefined {
    return this.objects.get(key);
  }

  items(): T[] {
    return [...this.objects.values()];
  }

  get size(): number {
    return this.objects.size;
  }

  /**
   * Sets `key` to `value` (undefined: deletes it) and returns the change, if there is one. The value
   * replaced is released before the change is returned (it still describes what was).
   */
  apply(key: string, value: T | undefined): ReflectorChange<T> | undefined {
    const old = this.objects.get(key);
    if (value === undefined) {
      this.objects.delete(key);
      if (old === undefined) return undefined;
      this.options.release(old);
      return { type: 'deleted', key, previous: old };
    }
    this.objects.set(key, value);
    if (old === undefined) return { type: 'added', key, object: value };
    this.options.release(old);
    return this.options.same(old, value)
      ? undefined
      : { type: 'modified', key, object: value, previous: old };
  }

  /**
   * Swaps in a full list at once and returns what really differs from the previous contents. The
   * store takes `next` over; every previous value is released.
   */
  replace(next: Map<string, T>): ReflectorChange<T>[] {
    const previous = this.objects;
    this.objects = next;
    const changes: ReflectorChange<T>[] = [];
    for (const [key, obj] of next) {
      const old = previous.get(key);
      if (old === undefined) changes.push({ type: 'added', key, object: obj });
      else if (!this.options.same(old, obj))
        changes.push({ type: 'modified', key, object: obj, previous: old });
    }
    for (const [key, old] of previous)
      if (!next.has(key)) changes.push({ type: 'deleted', key, previous: old });
    for (const old of previous.values()) this.options.release(old);
    return changes;
  }
}
