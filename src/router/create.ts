// Picks the router backend for frr.origination. The FRR client is passed in: one vtysh queue for
// the whole process (the FRR monitor reads through the same one).
import { CosmoletError, ErrorCodes } from '../errors.js';
import type { Vtysh } from './frr/vtysh.js';
import { KernelRouter } from './kernel.js';
import type { Router, RouterOptions } from './router.js';
import { StaticRouter } from './static.js';

export function createRouter(opts: RouterOptions, vtysh: Vtysh): Router {
  switch (opts.origination) {
    case 'kernel':
      return new KernelRouter(opts);
    case 'static':
      return new StaticRouter(opts, vtysh);
    default: {
      // A new origination must get a backend here; the config schema lets no other value through.
      const unknown: never = opts.origination;
      throw new CosmoletError(ErrorCodes.CONFIG_INVALID, `frr.origination ${String(unknown)} is unknown`);
    }
  }
}
