// The words for a route-class annotation that names no configured class (rule 7), shared by
// `render`'s warning, the controller's log line and its Warning Event.
import type { UnknownRouteClass } from './types.js';

export function unknownClassMessage(u: UnknownRouteClass): string {
  const fallback = u.class === null ? 'no class (defaultRouteClass is "")' : `the default class "${u.class}"`;
  return (
    `Service ${u.service}: cosmolet.io/route-class ${JSON.stringify(u.annotated)} names no class in ` +
    `routeClasses; its routes take ${fallback}`
  );
}
