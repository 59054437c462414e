// What a reflector's store keeps when its caller hands in no projection: the object itself, slimmed,
// and two versions of it are alike when their resourceVersion and uid are.
import type { KubeObject } from '../model/objects.js';

const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';

/**
 * Drops what cosmolet never reads and what often weighs as much as the rest of the object
 * (managedFields, kubectl's last-applied copy), as client-go informers' transforms do.
 */
export function slim(obj: KubeObject): KubeObject {
  const meta = obj.metadata;
  if (meta) {
    delete meta.managedFields;
    if (meta.annotations && LAST_APPLIED in meta.annotations) delete meta.annotations[LAST_APPLIED];
  }
  return obj;
}

export function sameVersion(a: KubeObject, b: KubeObject): boolean {
  return a.metadata?.resourceVersion === b.metadata?.resourceVersion && a.metadata?.uid === b.metadata?.uid;
}
